"""MathReasoning-v0: registration, env_checker, reset/step contracts, seeding, multi-turn, batch path."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mathenv
from mathenv import MathReasoningEnv, Question


@pytest.fixture
def env():
    e = gym.make("MathReasoning-v0", num_questions=100)
    yield e
    e.close()


def test_registered_and_env_checker_clean():
    env = gym.make("MathReasoning-v0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any Gymnasium warning fails the test
        check_env(env.unwrapped)
    assert env.spec.id == mathenv.ENV_ID


def test_env_checker_clean_on_math500(data_dir):
    env = gym.make(
        "MathReasoning-v0",
        dataset="math500",
        split="test",
        data_path=str(data_dir / "math" / "math500_test.jsonl"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)


def test_reset_returns_prompt_and_info(env):
    obs, info = env.reset(seed=0)
    assert isinstance(obs, str) and obs in env.observation_space
    assert info["question"] in obs and "\\boxed{}" in obs
    for key in ("question_id", "question", "answer", "difficulty", "level", "source", "uid", "prefix"):
        assert key in info
    q = env.unwrapped.questions[info["question_id"]]
    assert (info["answer"], info["difficulty"], info["source"]) == (q.answer, q.difficulty, "arithmetic")


def test_seeding_is_deterministic_and_uniform(env):
    first = [env.reset(seed=11)[1]["question_id"]] + [env.reset()[1]["question_id"] for _ in range(20)]
    again = [env.reset(seed=11)[1]["question_id"]] + [env.reset()[1]["question_id"] for _ in range(20)]
    assert first == again
    other = [env.reset(seed=12)[1]["question_id"]] + [env.reset()[1]["question_id"] for _ in range(20)]
    assert other != first
    counts = np.bincount([env.reset()[1]["question_id"] for _ in range(5000)], minlength=100)
    expected = 5000 / 100
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 148.2  # chi-square critical value, 99 degrees of freedom, p = 0.001


def test_question_id_option(env):
    obs, info = env.reset(options={"question_id": 42})
    assert info["question_id"] == 42 and info["question"] == env.unwrapped.questions[42].question
    with pytest.raises(ValueError, match=r"question_id must be an int in \[0, 100\)"):
        env.reset(options={"question_id": 100})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"questionid": 1})


def test_step_rewards_and_reasons(env):
    _, info = env.reset(options={"question_id": 5})
    obs, reward, terminated, truncated, step_info = env.step(f"Thus \\boxed{{{info['answer']}}}.")
    assert (reward, terminated, truncated, step_info["correct"], step_info["reason"]) == (
        1.0,
        True,
        False,
        True,
        "correct",
    )
    assert obs == "" and step_info["extracted"] == info["answer"]
    env.reset(options={"question_id": 5})
    _, reward, _, _, step_info = env.step(f"\\boxed{{{int(info['answer']) + 1}}}")
    assert (reward, step_info["reason"]) == (0.0, "wrong")
    env.reset(options={"question_id": 5})
    _, reward, _, _, step_info = env.step("I cannot say.")
    assert (reward, step_info["reason"]) == (0.0, "no_answer")


def test_step_before_reset_and_after_end_raise(env):
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step("1")
    env.reset(seed=0)
    env.step("1")
    with pytest.raises(RuntimeError, match="reset"):
        env.unwrapped.step("1")
    env.reset(seed=0)
    with pytest.raises(TypeError, match="str"):
        env.unwrapped.step(5)


def test_format_penalty():
    env = gym.make("MathReasoning-v0", num_questions=10, format_penalty=0.5, last_number_fallback=False)
    env.reset(options={"question_id": 0})
    _, reward, _, _, info = env.step("it is 3")
    assert (reward, info["reason"]) == (-0.5, "no_answer")
    with pytest.raises(ValueError, match="format_penalty"):
        MathReasoningEnv(num_questions=10, format_penalty=-1)


def test_prefix_is_scored_with_the_action(env):
    _, info = env.reset(options={"question_id": 3, "prefix": "Step 1: think.\nSo the answer is \\boxed{"})
    assert info["prefix"].startswith("Step 1")
    _, reward, _, _, step_info = env.step(f"{info['answer']}}}.")
    assert reward == 1.0 and step_info["extracted"] == info["answer"]
    # a fresh reset without prefix forgets it
    _, info = env.reset(options={"question_id": 3})
    assert info["prefix"] == ""


def test_multi_turn_feedback_then_success():
    env = gym.make("MathReasoning-v0", num_questions=10, max_turns=3)
    _, info = env.reset(options={"question_id": 1})
    obs, reward, terminated, _, step_info = env.step("\\boxed{-1}")
    assert (
        not terminated and reward == 0.0 and "not correct" in obs and "-1" in obs and step_info["turn"] == 1
    )
    obs, reward, terminated, _, step_info = env.step(f"\\boxed{{{info['answer']}}}")
    assert terminated and reward == 1.0 and step_info["turn"] == 2


def test_multi_turn_runs_out_of_turns():
    env = gym.make("MathReasoning-v0", num_questions=10, max_turns=2)
    env.reset(options={"question_id": 1})
    assert env.step("\\boxed{-1}")[2] is False
    assert env.step("\\boxed{-1}")[2] is True


def test_batch_score_matches_step(env):
    qs = env.unwrapped.questions
    ids = list(range(0, 100, 3))
    completions = [f"\\boxed{{{qs[i].answer}}}" if i % 2 else "\\boxed{-7}" for i in ids]
    rewards, verdicts = env.unwrapped.batch_rewards(ids, completions)
    stepped = []
    for i, c in zip(ids, completions, strict=True):
        env.reset(options={"question_id": i})
        stepped.append(env.step(c)[1])
    assert rewards.dtype == np.float32 and rewards.tolist() == stepped
    assert [v.correct for v in verdicts] == [bool(r) for r in stepped]
    prefixed, _ = env.unwrapped.batch_rewards(
        ids, [c[7:] for c in completions], prefixes=[c[:7] for c in completions]
    )
    assert prefixed.tolist() == stepped
    with pytest.raises(ValueError, match="question ids"):
        env.unwrapped.batch_rewards([1000], ["1"])
    with pytest.raises(ValueError, match="completions"):
        env.unwrapped.batch_rewards([1, 2], ["1"])


def test_batch_rewards_names_a_completion_that_is_no_text(env):
    # issue 35: an int gave Python's bare "object of type 'int' has no len()"
    with pytest.raises(TypeError, match=r"completion 1 has type int \(5\).*pass each completion as a str"):
        env.unwrapped.batch_rewards([0, 1], ["\\boxed{1}", 5])
    with pytest.raises(TypeError, match=r"prefix 0 has type NoneType.*as a str"):
        env.unwrapped.batch_rewards([0], ["1"], prefixes=[None])


def test_an_unknown_dataset_in_a_script_is_one_line():
    """Issue 35: `gym.make(dataset="nope")` in a script printed 16 lines of Gymnasium's and mathenv's frames; the
    mistake is the user's, so one line names it and the datasets there are. A bug keeps its traceback."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    make = "import gymnasium as gym, mathenv; gym.make('MathReasoning-v0', dataset='nope')"
    bug = "import mathenv; 1 / 0"
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    run = [
        subprocess.run([sys.executable, "-c", c], capture_output=True, text=True, env=env, timeout=600)
        for c in (make, bug)
    ]
    lines = run[0].stderr.strip().splitlines()
    assert run[0].returncode != 0 and len(lines) == 1, run[0].stderr
    assert "'nope'" in lines[0] and all(name in lines[0] for name in ("arithmetic", "gsm8k", "math500"))
    assert "Traceback" in run[1].stderr and "ZeroDivisionError" in run[1].stderr


def test_custom_question_pool_and_render():
    pool = [Question(uid="q0", question="What is 2 + 2?", answer="4", source="mine")]
    env = MathReasoningEnv(questions=pool, render_mode="ansi")
    env.reset(seed=0)
    env.step("\\boxed{4}")
    text = env.render()
    assert "What is 2 + 2?" in text and "correct" in text and "reward 1.0" in text
    with pytest.raises(ValueError, match="empty"):
        MathReasoningEnv(questions=[])
    with pytest.raises(ValueError, match="render_mode"):
        MathReasoningEnv(questions=pool, render_mode="rgb_array")


def test_gym_make_selects_datasets(data_dir):
    env = gym.make(
        "MathReasoning-v0", dataset="gsm8k", split="test", data_path=str(data_dir / "gsm8k" / "test.jsonl")
    )
    _, info = env.reset(seed=0)
    assert info["source"] == "gsm8k" and env.unwrapped.num_questions == 1319


def test_vector_env():
    envs = gym.make_vec("MathReasoning-v0", num_envs=3, vectorization_mode="sync", num_questions=50)
    obs, infos = envs.reset(seed=0)
    assert len(obs) == 3 and all(isinstance(o, str) for o in obs)
    answers = [f"\\boxed{{{a}}}" for a in infos["answer"]]
    _, rewards, terminated, _, _ = envs.step(answers)
    assert rewards.tolist() == [1.0, 1.0, 1.0] and terminated.all()


def test_readme_documents_every_gym_make_keyword():
    import inspect
    import re
    from pathlib import Path

    from mathenv.env import MathReasoningEnv

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("Every keyword of `gym.make") : readme.index("## The verifier")]
    documented = {
        name
        for cell in re.findall(r"^\| (`[^|]+`) \|", section, re.M)
        for name in re.findall(r"`(\w+)`", cell)
    }
    keywords = set(inspect.signature(MathReasoningEnv.__init__).parameters) - {"self"}
    assert documented == keywords, (keywords - documented, documented - keywords)


def test_numeric_answers_stop_a_restated_question_from_scoring():
    """Where the gold is a number, the answer must be one: `\\boxed{7 + 0}` restates "What is 7 + 0?"."""
    env = gym.make("MathReasoning-v0", num_questions=20, levels=[1])
    q = next(q for q in env.unwrapped.questions if "+" in q.question)
    a, b = q.question.removeprefix("What is ").rstrip("?").split(" + ")
    env.reset(options={"question_id": env.unwrapped.questions.index(q)})
    _, reward, _, _, info = env.step(f"\\boxed{{{a} + {b}}}")
    assert reward == 0.0 and info["reason"] == "wrong"
    ids = [env.unwrapped.questions.index(q)] * 3
    rewards, verdicts = env.unwrapped.batch_rewards(
        ids, [f"\\boxed{{{q.answer}}}", f"\\boxed{{{2 * int(q.answer)}/2}}", f"\\boxed{{{a}+{b}}}"]
    )
    assert rewards.tolist() == [
        1.0,
        0.0,
        0.0,
    ]  # a fraction that is the answer unreduced, like the sum, is undone
    lenient = gym.make("MathReasoning-v0", num_questions=20, levels=[1], numeric_answers=False).unwrapped
    assert lenient.batch_rewards(ids[:1], [f"\\boxed{{{a} + {b}}}"])[0].tolist() == [
        1.0
    ]  # equal, as math-verify says
    assert gym.make("MathReasoning-v0", questions=[q]).unwrapped.numeric_answers  # every pool, by default

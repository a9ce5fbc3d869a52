"""End-to-end training with a tiny random model built here: every algorithm, curricula, compute accounting,
checkpoints and exact resume, the CLI and its errors."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from agents.algos.grpo import GRPOConfig
from agents.algos.ppo import PPOConfig
from agents.algos.registry import get as get_algorithm
from agents.algos.vineppo import VinePPOConfig
from agents.checkpoint import RunFolderError
from agents.cli.train import build_config
from agents.core.config import ConfigError, TrainConfig
from agents.run_checks import check_run, probe_cost
from agents.trainer import Trainer

STABLE = {
    "step",
    "train/reward",
    "train/accuracy",
    "train/frac_all_solved_of_attempted",
    "train/frac_none_solved_of_attempted",
    "train/frac_zero_advantage",
    "train/batch_learnability",
    "loss/policy",
    "loss/total",
    "policy/entropy",
    "policy/grad_norm",
    "policy/approx_kl",
    "compute/generated_tokens",
    "compute/attempts_train",
    "compute/attempts_probe",
    "compute/attempts_total",
    "time/generation",
    "time/scoring",
    "time/learning",
    "curriculum/frac_all_solved_of_kept",
    "curriculum/batch_learnability",
}

LEARN = {"num_candidates": 16, "buffer_size": 4, "refresh_every": 2, "probe_attempts": 2}


def tiny(cls=GRPOConfig, tmp_path=None, **kw) -> TrainConfig:
    base = dict(
        model="tiny",
        levels=[1],
        num_questions=200,
        questions_per_step=4,
        attempts_per_question=2,
        max_new_tokens=6,
        eval_questions=4,
        eval_every=0,
        steps=2,
        learning_rate=1e-3,
        kl_coef=0.0,
        micro_batch_size=4,
        progress=False,
        tensorboard=False,
        plot=False,
        checkpoint_every=1,
        truncated_reward=None,  # a random model rarely ends its answer: score what it wrote
        out=str(tmp_path / "run") if tmp_path else "runs/test",
    )
    base.update(kw)
    return cls(**base)


def digits_dataset(tmp_path) -> dict:
    """Questions whose answer is one digit: a random model's last number sometimes matches, so groups have
    reward variance and every algorithm gets a gradient from step one. 24 tokens: the verifier reads only
    numbers that stand alone (not the `2` of `PRL2`), so gibberish needs room to make one; and it takes a
    short one-line response whole (`a#3!b` is no `3`), so only a few attempts in a hundred score: 16 per
    question make a step with no signal at all rare."""
    path = tmp_path / "digits.jsonl"
    path.write_text(
        "".join(json.dumps({"question": f"Write {d}.", "answer": str(d)}) + "\n" for d in list(range(10)) * 4)
    )
    return dict(
        dataset=str(path),
        question_field="question",
        answer_field="answer",
        levels=None,
        num_questions=None,
        attempts_per_question=16,
        max_new_tokens=24,
    )


@pytest.mark.parametrize("cls", [GRPOConfig, PPOConfig, VinePPOConfig])
def test_each_algorithm_trains_and_logs_stable_metrics(cls, tmp_path):
    extra = {"vine_rollouts": 2} if cls is VinePPOConfig else {}
    config = tiny(cls, tmp_path, kl_coef=0.01, minibatches=2, **digits_dataset(tmp_path), **extra)
    trainer = Trainer(config)
    before = [p.detach().clone() for p in trainer.policy.parameters()]
    records = trainer.train()
    assert [r["step"] for r in records] == [0, 1, 2]
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and "eval/pass@1" in lines[0] and "eval/pass@1" in lines[-1]
    assert STABLE <= set(lines[-1]), STABLE - set(lines[-1])
    assert lines[-1]["compute/attempts_train"] == 2 * 4 * 16
    assert min(x["train/frac_zero_advantage"] for x in lines[1:]) < 1  # there was something to learn from
    assert ("policy/kl_ref_k1" if cls is PPOConfig else "policy/kl_ref_k3") in lines[
        -1
    ]  # the KL, named by estimator
    if cls is PPOConfig:
        assert "loss/value" in lines[-1]
    if cls is VinePPOConfig:
        assert lines[-1]["compute/attempts_vine"] > 0  # Monte-Carlo rollouts count in the compute
        assert (
            lines[-1]["compute/attempts_total"]
            == lines[-1]["compute/attempts_train"] + lines[-1]["compute/attempts_vine"]
        )
    after = list(trainer.policy.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)), "no parameter moved"
    assert (tmp_path / "run" / "checkpoints" / "step_000002" / "trainer.pt").exists()


def test_learnability_probes_are_served_counted_and_not_trained_on(tmp_path):
    trainer = Trainer(tiny(tmp_path=tmp_path, curriculum="learnability", curriculum_options=LEARN, steps=3))
    records = trainer.train()
    # refresh at iterations 0 and 2: 16 candidates x 2 attempts each time
    assert records[1]["compute/attempts_probe"] == 32
    assert records[3]["compute/attempts_probe"] == 64
    assert records[3]["compute/attempts_total"] == 64 + 3 * 4 * 2
    assert records[3]["curriculum/buffer_size"] <= 4
    assert trainer.record.counters["trained_sequences"] == 3 * 4 * 2  # probes scored, not trained on


def test_filter_curriculum_trains_only_on_kept_groups(tmp_path):
    trainer = Trainer(
        tiny(tmp_path=tmp_path, curriculum="learnability_filter", curriculum_options={"ratio": 2}, steps=1)
    )
    records = trainer.train()
    assert records[1]["train/questions_attempted"] == 8  # ratio x N_l candidates attempted
    assert records[1]["compute/attempts_train"] == 16
    assert trainer.record.counters["trained_sequences"] == 2 * records[1]["train/groups_kept"] <= 8


def test_dynamic_sampling_trains_on_full_batches_and_counts_every_attempt(tmp_path):
    config = tiny(tmp_path=tmp_path, curriculum="zero_variance_filter", steps=3, **digits_dataset(tmp_path))
    trainer = Trainer(config)
    records = trainer.train()
    for r in records[1:]:
        assert r["train/groups_kept"] == 4  # exactly questions_per_step informative groups every step
        assert r["train/questions_attempted"] == 4 * r["curriculum/gen_batches"]  # every generation batch
    k = config.attempts_per_question
    assert trainer.record.counters["trained_sequences"] == 3 * 4 * k
    last = records[-1]
    assert (
        last["compute/attempts_train"]
        == last["curriculum/train_attempts"]
        == k * sum(r["train/questions_attempted"] for r in records[1:])
    )  # discarded generations count in compute
    assert last["curriculum/discarded_attempts"] == last["compute/attempts_train"] - 3 * 4 * k


SELECTORS = {
    "greso": {},
    "speed": {},
    "pass_rate_band": {"low": 0.0, "high": 1.0},
    "adarft": {},
    "mopps": {"ratio": 4},
}


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_each_selector_trains_and_counts_what_was_generated(name, tmp_path):
    data = {} if name == "adarft" else digits_dataset(tmp_path)  # adarft orders by the arithmetic levels
    config = tiny(tmp_path=tmp_path, curriculum=name, curriculum_options=SELECTORS[name], steps=2, **data)
    config.attempts_per_question = 4
    trainer = Trainer(config)
    records = trainer.train()
    last = records[-1]
    assert (
        last["compute/attempts_train"]
        == last["curriculum/train_attempts"]
        == trainer.curriculum.attempts.sum()
    )
    assert last["curriculum/iteration"] == 2 and trainer.record.counters["trained_sequences"] > 0


def test_speed_screens_continues_and_trains_whole_groups(tmp_path):
    """Per-question attempts end to end: SPEED's requests ask 2 attempts of new questions and 2 more of those
    whose screening was neither all right nor all wrong; every trained group joins both, 4 sequences."""
    config = tiny(tmp_path=tmp_path, curriculum="speed", steps=3, **digits_dataset(tmp_path))
    config.attempts_per_question = 4
    trainer = Trainer(config)
    assert (trainer.curriculum.group_size, trainer.curriculum.screen_attempts) == (4, 2)
    records = trainer.train()
    kept = sum(r["train/groups_kept"] for r in records[1:])
    assert kept > 0 and trainer.record.counters["trained_sequences"] == 4 * kept  # whole groups of N = 4
    last = records[-1]
    generated = last["compute/attempts_train"]
    assert generated == last["curriculum/train_attempts"] == trainer.curriculum.attempts.sum()
    # screening attempts of the questions that did not qualify are the discarded ones
    assert last["curriculum/discarded_attempts"] == generated - 4 * kept - 2 * len(trainer.held)


def test_curriculum_help_lists_its_options(capsys):
    from agents.train import main

    for name in ("greso", "speed", "adarft", "learnability"):
        with pytest.raises(SystemExit):
            main(["--curriculum", name, "--help"])
        out = capsys.readouterr().out
        assert f"Options of --curriculum {name}" in out
        from curricula import option_help

        for option, _, text in option_help(name):
            assert f"  {option} (" in out and text and text in out


def test_probe_cost_is_stated_and_a_paper_sized_buffer_on_a_short_run_warns(tmp_path):
    short = Trainer(tiny(tmp_path=tmp_path / "a", curriculum="learnability", questions_per_step=8, steps=2))
    assert short.curriculum.num_candidates == 160  # the recommended N = 1280, scaled to N_l = 8
    with pytest.warns(UserWarning, match=r"probes take 40x the training attempts"):
        line = probe_cost(short.config, short.curriculum, short.step)
    assert line.startswith(
        "learnability: probes 1,280 attempts over the 2 steps left (640 per step) against 8 x 2"
    )
    fine = Trainer(
        tiny(
            tmp_path=tmp_path / "b",
            curriculum="learnability",
            questions_per_step=8,
            steps=50,
            attempts_per_question=8,
        )
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "(26 per step)" in probe_cost(
            fine.config, fine.curriculum, fine.step
        )  # 0.4 N_l L: the paper's probe share


def _final_state(trainer):
    return ([p.detach().clone() for p in trainer.policy.parameters()], trainer.curriculum.state_dict())


@pytest.mark.parametrize("algo", ["grpo", "ppo"])
def test_resume_continues_exactly_like_an_uninterrupted_run(algo, tmp_path):
    cls = get_algorithm(algo).config_class
    opts = dict(curriculum="learnability", curriculum_options=LEARN, steps=4, temperature=1.0)
    full = Trainer(tiny(cls, tmp_path / "full", **opts))
    full_records = full.train()
    # interrupted after step 2, then a fresh process-like Trainer resumes from the checkpoint
    Trainer(tiny(cls, tmp_path / "cut", **{**opts, "steps": 2})).train()
    resumed = Trainer(tiny(cls, tmp_path / "cut", **opts, resume=True))
    resumed_records = resumed.train()
    assert [r["step"] for r in resumed_records] == [3, 4]
    for a, b in zip(full_records[3:], resumed_records, strict=True):
        for key in (
            "loss/policy",
            "train/reward",
            "compute/attempts_total",
            "curriculum/buffer_size",
            "compute/generated_tokens",
        ):
            assert a[key] == b[key], (key, a[key], b[key])
    params_full, cur_full = _final_state(full)
    params_res, cur_res = _final_state(resumed)
    assert all(torch.equal(a, b) for a, b in zip(params_full, params_res, strict=True))
    for key in ("attempts", "successes", "last_seen", "buffer"):
        assert np.array_equal(cur_full[key], cur_res[key]), key
    lines = (tmp_path / "cut" / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [0, 1, 2, 3, 4]  # no duplicated records


def test_speed_resumes_exactly_with_screening_groups_held(tmp_path):
    """SPEED's held screening rollouts are in the checkpoint: a run cut after step 3 and resumed trains what the
    straight run trains (the continued groups still join their screening attempts)."""
    opts = dict(curriculum="speed", steps=5, temperature=1.0, **digits_dataset(tmp_path))
    opts["curriculum_options"] = {"screen_batch_size": 36}  # more qualify than a batch needs: some stay held
    opts["attempts_per_question"] = 4
    full = Trainer(tiny(tmp_path=tmp_path / "full", **opts))
    full_records = full.train()
    cut = Trainer(tiny(tmp_path=tmp_path / "cut", **{**opts, "steps": 3}))
    cut.train()
    assert len(cut.held) == len(cut.curriculum._held) > 0  # screening groups held at the checkpoint (seeded)
    resumed = Trainer(tiny(tmp_path=tmp_path / "cut", **opts, resume=True))
    resumed_records = resumed.train()
    for a, b in zip(full_records[4:], resumed_records, strict=True):
        for key in ("loss/policy", "train/groups_kept", "compute/attempts_total", "curriculum/held"):
            assert a[key] == b[key], (key, a[key], b[key])
    assert full.record.counters["trained_sequences"] == resumed.record.counters["trained_sequences"]


def test_instruction_option_sets_the_prompt_of_training_and_held_out_questions(tmp_path):
    from mathenv.env import DEFAULT_INSTRUCTION

    bare = Trainer(tiny(tmp_path=tmp_path / "bare", instruction=""))
    assert bare.train_env.prompt(0) == bare.train_env.questions[0].question
    assert bare.eval_env.prompt(0) == bare.eval_env.questions[0].question
    assert bare.rollout.decode(bare.rollout.prompt(0)).count(bare.train_env.questions[0].question) == 1
    default = Trainer(tiny(tmp_path=tmp_path / "default"))
    assert default.train_env.prompt(0).endswith(DEFAULT_INSTRUCTION)
    assert len(default.rollout.prompt(0)) > len(bare.rollout.prompt(0))


def test_warmup_ramps_the_learning_rate_and_resumes_on_the_ramp(tmp_path):
    opts = dict(warmup_steps=4, steps=2, learning_rate=1e-3)
    first = Trainer(tiny(tmp_path=tmp_path, **opts)).train()
    assert [r["policy/lr"] for r in first[1:]] == pytest.approx([2.5e-4, 5e-4])
    resumed = Trainer(tiny(tmp_path=tmp_path, **{**opts, "steps": 6, "resume": True})).train()
    assert [r["policy/lr"] for r in resumed] == pytest.approx([7.5e-4, 1e-3, 1e-3, 1e-3])


def test_resume_without_checkpoint_starts_fresh_and_without_a_run_stops(tmp_path):
    # a run killed before its first checkpoint left its config.json: resuming starts it from step 0
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps(dataclasses.asdict(tiny(tmp_path=tmp_path))))
    records = Trainer(tiny(tmp_path=tmp_path, resume=True, steps=1)).train()
    assert [r["step"] for r in records] == [0, 1]
    # a folder with no run in it (a typo in --out) is refused, and nothing is left there
    with pytest.raises(RunFolderError, match=r"rnu holds no run .*did you mean .*run\?"):
        Trainer(tiny(tmp_path=tmp_path, resume=True, steps=1, out=str(tmp_path / "rnu")))
    assert not (tmp_path / "rnu").exists()


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"curriculum": "nope"}, "curriculum must be one of"),
        ({"temperature": 0.0}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"questions_per_step": 0}, "questions_per_step"),
        ({"generation_backend": "tgi"}, "generation_backend"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"eval_temperature": 0.0}, "eval_temperature"),
        ({"eval_top_p": 0.0}, "eval_top_p"),
    ],
)
def test_bad_configs_fail_before_loading_anything(bad, match):
    with pytest.raises(ValueError, match=match):
        check_run(TrainConfig(**bad))


def test_unknown_algorithm_is_refused_by_the_registry_before_anything_loads(tmp_path, monkeypatch):
    """The registry is the one list of names: the trainer and the CLI both refuse another name through it."""
    monkeypatch.setattr("agents.trainer.load_policy", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(
        ConfigError, match="algo must be one of \\('grpo', 'ppo', 'vineppo'\\), got 'reinforce'"
    ):
        Trainer(TrainConfig(algo="reinforce", out=str(tmp_path / "run")))
    with pytest.raises(ConfigError, match="--algo must be one of"):
        build_config(["--algo", "reinforce"])


def test_curriculum_misconfiguration_is_reported_at_start(tmp_path):
    with pytest.raises(ValueError, match="buffer_size K=8 exceeds num_candidates N=4"):
        Trainer(
            tiny(
                tmp_path=tmp_path,
                curriculum="learnability",
                curriculum_options={"num_candidates": 4, "buffer_size": 8},
            )
        )


def test_cli_layers_preset_file_and_flags(tmp_path):
    cfg_file = tmp_path / "c.json"
    cfg_file.write_text(json.dumps({"steps": 7, "learning_rate": 0.5}))
    config = build_config(
        [
            "--preset",
            "tiny",
            "--algo",
            "vineppo",
            "--config",
            str(cfg_file),
            "--steps",
            "9",
            "--curriculum-options",
            '{"preset": "fast"}',
            "--levels",
            "1",
            "2",
            "--no-progress",
        ]
    )
    assert isinstance(config, VinePPOConfig)
    assert (config.model, config.steps, config.learning_rate, config.levels) == ("tiny", 9, 0.5, [1, 2])
    assert config.curriculum_options == {"preset": "fast"} and config.progress is False
    assert dataclasses.asdict(config)["vine_rollouts"] == VinePPOConfig.vine_rollouts
    with pytest.raises(ConfigError, match="unknown preset"):
        build_config(["--preset", "huge"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"vine_rollouts": 3}))
    with pytest.raises(ConfigError, match="unknown config field"):
        build_config(["--algo", "grpo", "--config", str(bad)])


@pytest.mark.parametrize("algo", ["grpo", "ppo", "vineppo"])
def test_reward_goes_up_on_a_task_a_random_model_rarely_solves(algo, tmp_path):
    """Evidence that each algorithm learns: every answer is 7, a one-character answer a random character model
    gives about once in 95 attempts; 40 updates must lift the train reward well above where it started. (With
    longer answers it learned to lead junk with a 7, `7]dM`, which math-verify read as 7 and the final-form
    rule now refuses.)"""
    path = tmp_path / "sevens.jsonl"
    path.write_text(
        "".join(json.dumps({"question": f"Write seven ({d}).", "answer": "7"}) + "\n" for d in range(100))
    )
    cls = get_algorithm(algo).config_class
    config = cls(
        model="tiny",
        dataset=str(path),
        question_field="question",
        answer_field="answer",
        levels=None,
        questions_per_step=8,
        attempts_per_question=8,
        max_new_tokens=1,
        eval_questions=0,
        steps=40,
        learning_rate=1e-2,
        kl_coef=0.0,
        micro_batch_size=64,
        progress=False,
        tensorboard=False,
        truncated_reward=None,
        checkpoint_every=0,
        out=str(tmp_path / "run"),
    )
    rewards = [r["train/reward"] for r in Trainer(config).train() if "train/reward" in r]
    first, last = rewards[0], float(np.mean(rewards[-10:]))  # rewards[0]: attempts before any update
    assert first < 0.15, first
    assert last > 0.4 and last > 4 * max(first, 0.05), (first, last)


def test_truncated_responses_get_the_truncation_reward(tmp_path):
    """A response that never reached EOS earns `truncated_reward` (the reference's 0), even with a right
    answer in it; None scores it like a finished one."""
    trainer = Trainer(tiny(tmp_path=tmp_path, **digits_dataset(tmp_path), truncated_reward=0.0))
    gold = trainer.train_env.questions[0].answer
    body = trainer.tokenizer(f"so {gold}", add_special_tokens=False)["input_ids"]
    eos = trainer.tokenizer.eos_token_id
    finished, cut = body + [eos], body
    assert trainer.rollout.truncated(cut) and not trainer.rollout.truncated(finished)
    assert trainer.rollout.reward_responses([0, 0], [finished, cut]).tolist() == [1.0, 0.0]
    trainer.config.truncated_reward = None
    assert trainer.rollout.reward_responses([0, 0], [finished, cut]).tolist() == [1.0, 1.0]
    trainer.config.truncated_reward = -0.5
    assert trainer.rollout.reward_responses([0, 0], [finished, cut]).tolist() == [1.0, -0.5]


def test_critic_learning_rate_follows_the_policy_unless_set(tmp_path):
    tied = Trainer(tiny(PPOConfig, tmp_path / "a", learning_rate=3e-4))
    assert [g["lr"] for g in tied.optimizer.param_groups] == [3e-4, 3e-4]
    own = Trainer(tiny(PPOConfig, tmp_path / "b", learning_rate=3e-4, critic_learning_rate=1e-5))
    assert [g["lr"] for g in own.optimizer.param_groups] == [3e-4, 1e-5]


def test_reference_defaults_of_vineppo_and_the_paper_preset():
    assert (VinePPOConfig.vine_rollouts, VinePPOConfig.whiten_advantages) == (9, True)
    paper = build_config(["--preset", "paper", "--algo", "vineppo"])
    assert (paper.warmup_ratio, paper.lr_schedule, paper.minibatches, paper.top_p, paper.epochs) == (
        0.03,
        "linear",
        8,
        0.9,
        2,
    )
    assert paper.kl_aggregation == "sequence_sum" and paper.truncated_reward == 0.0


def test_sampled_evaluation_leaves_the_training_run_unchanged(tmp_path):
    """Sampling held-out answers at the training temperature forks the RNG: the same seed trains the same
    way with or without it."""
    runs = {}
    for samples in (0, 2):
        config = tiny(
            tmp_path=tmp_path / f"e{samples}",
            **digits_dataset(tmp_path),
            eval_every=1,
            steps=2,
            eval_samples=samples,
        )
        runs[samples] = Trainer(config).train()
    assert "eval/sampled_accuracy" in runs[2][-1] and "eval/sampled_accuracy" not in runs[0][-1]
    for a, b in zip(runs[0][1:], runs[2][1:], strict=True):
        assert a["train/reward"] == b["train/reward"] and a["loss/total"] == b["loss/total"]


def test_every_logged_metric_is_named_once_and_documented(tmp_path):
    """metrics.jsonl holds only names from agents.core.metrics (or the curriculum's diagnostics), and
    docs/agents.md documents every one of them."""
    from pathlib import Path

    from agents.core import metrics as M

    logged = set()
    for cls in (GRPOConfig, PPOConfig, VinePPOConfig):
        extra = {"vine_rollouts": 2} if cls is VinePPOConfig else {}
        config = tiny(
            cls, tmp_path / cls.__name__, kl_coef=0.01, steps=1, **digits_dataset(tmp_path), **extra
        )
        for record in Trainer(config).train():
            logged |= set(record)
    unknown = {k for k in logged if k not in M.DESCRIPTIONS and not k.startswith("curriculum/")}
    assert not unknown, unknown
    doc = (Path(__file__).resolve().parent.parent / "docs" / "agents.md").read_text()
    assert all(f"`{name}`" in doc for name in M.DESCRIPTIONS), [
        n for n in M.DESCRIPTIONS if f"`{n}`" not in doc
    ]


def test_help_describes_every_option_and_its_allowed_values(capsys):
    from agents.cli.train import _parser

    for algo in ("grpo", "ppo", "vineppo"):
        from agents.algos.registry import get

        cls = get(algo).config_class
        text = _parser(cls).format_help()
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"
        assert "{grpo,ppo,vineppo}" in text and "learnability_filter" in text and "--algo NAME --help" in text
    assert (
        "whiten" in _parser(VinePPOConfig).format_help()
        and "vine-rollouts" in _parser(VinePPOConfig).format_help()
    )


def test_bf16_mixed_keeps_fp32_weights_so_small_updates_land(tmp_path):
    """Why `precision` exists: in bf16 weights a 1e-5 AdamW step rounds away (bf16 keeps 8 bits of mantissa,
    so a weight of 0.02 moves in steps of ~1e-4); bf16-mixed keeps fp32 weights and autocasts the forwards."""
    config = tiny(
        tmp_path=tmp_path,
        precision="bf16-mixed",
        learning_rate=1e-5,
        steps=1,
        kl_coef=0.01,
        **digits_dataset(tmp_path),
    )
    trainer = Trainer(config)
    assert trainer.autocast_dtype is torch.bfloat16
    assert all(p.dtype == torch.bfloat16 for p in trainer.reference.parameters())  # frozen: read in bf16 only
    before = [p.detach().clone() for p in trainer.policy.parameters()]
    record = trainer.train()[-1]
    assert math.isfinite(record["loss/total"]) and math.isfinite(record["eval/pass@1"])
    assert math.isfinite(record["policy/kl_ref_k3"])
    moved = [not torch.equal(a, b) for a, b in zip(before, trainer.policy.parameters(), strict=True)]
    assert all(p.dtype == torch.float32 for p in trainer.policy.parameters())
    assert sum(moved) > len(moved) // 2, "an lr 1e-5 step moved too few fp32 tensors"
    # the same update applied to bf16 copies of the weights is lost to rounding for most entries
    lost = kept = 0
    for a, b in zip(before, trainer.policy.parameters(), strict=True):
        delta = b.detach() - a
        stepped = (a.to(torch.bfloat16) + delta.to(torch.bfloat16)).to(torch.float32)
        changed = delta != 0
        lost += int((stepped[changed] == a.to(torch.bfloat16).to(torch.float32)[changed]).sum())
        kept += int(changed.sum())
    assert lost > 0.5 * kept  # most of the step (84% here) would vanish


def test_precision_auto_is_fp32_on_cpu_and_a_bad_value_names_the_option(tmp_path):
    trainer = Trainer(tiny(tmp_path=tmp_path))
    assert trainer.autocast_dtype is None
    assert all(p.dtype == torch.float32 for p in trainer.policy.parameters())
    with pytest.raises(ConfigError, match="precision must be one of"):
        tiny(tmp_path=tmp_path, precision="fp16").validate()


def test_held_out_answers_are_sampled_at_the_evaluation_temperature(tmp_path):
    """`eval_temperature` samples the held-out answers at its own temperature (the authors evaluate at 0.35):
    near zero, every sample is the greedy answer, so the sampled accuracy equals greedy pass@1 at every
    evaluation, while training still samples at its own temperature (identical training records)."""
    runs = {}
    for name, extra in (("train_t", {}), ("cold", {"eval_temperature": 1e-4, "eval_top_p": 0.9})):
        config = tiny(
            tmp_path=tmp_path / name,
            **digits_dataset(tmp_path),
            eval_every=1,
            steps=2,
            eval_samples=3,
            eval_questions=16,
            temperature=1.5,
            **extra,
        )
        trainer = Trainer(config)
        runs[name] = trainer.train()
        # the summary names the temperature the held-out answers were sampled at, not training's
        assert trainer.summary["held_out"]["temperature"] == extra.get("eval_temperature", 1.5)
    for record in runs["cold"]:
        assert record["eval/sampled_accuracy"] == pytest.approx(record["eval/pass@1"])
    assert any(r["eval/sampled_accuracy"] != r["eval/pass@1"] for r in runs["train_t"])
    for a, b in zip(runs["train_t"][1:], runs["cold"][1:], strict=True):
        assert a["train/reward"] == b["train/reward"] and a["loss/total"] == b["loss/total"]


def test_grpo_skips_zero_advantage_groups_without_changing_the_update(tmp_path, monkeypatch):
    """Groups whose attempts all agree have A = 0: with no KL term their rows give exactly no gradient, so the
    update leaves them out of the forward and backward (the compute sampling for learnability saves) and must
    land on the same weights as an update that computes them."""
    from agents.algos.grpo import GRPO

    config = tiny(GRPOConfig, tmp_path, questions_per_step=4, attempts_per_question=4, micro_batch_size=3)
    skipping, computing = Trainer(config), Trainer(dataclasses.replace(config, out=str(tmp_path / "b")))
    fresh = dataclasses.replace(config, out=str(tmp_path / "c"))  # the same initial weights, not updated
    batch, _, _ = skipping.collect()  # the batch; the extra work's metrics and the attempts aside
    rewards = np.array(
        [1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0], dtype=np.float32
    )  # groups 1, 3 agree
    seen: dict[str, int] = {"skipping": 0, "computing": 0}

    def learn(trainer, name):
        copy = dataclasses.replace(batch, rewards=rewards, tensors=dict(batch.tensors))
        original = trainer.algorithm.loss

        def counting_loss(mb, *a):
            seen[name] += len(mb["input_ids"])
            return original(mb, *a)

        monkeypatch.setattr(trainer.algorithm, "loss", counting_loss)
        return trainer.learn(copy)

    with_skip = learn(skipping, "skipping")
    monkeypatch.setattr(GRPO, "rows_to_learn", lambda self, t, rows: rows)
    without = learn(computing, "computing")
    assert (seen["skipping"], seen["computing"]) == (8, 16)  # the 8 rows of the agreeing groups not computed
    for a, b in zip(skipping.policy.parameters(), computing.policy.parameters(), strict=True):
        torch.testing.assert_close(
            a.grad, b.grad, rtol=1e-4, atol=1e-9
        )  # the same gradient, normaliser included
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)  # Adam: float noise on ~0 gradients, lr 1e-3
    assert any(
        not torch.equal(a, b)
        for a, b in zip(skipping.policy.parameters(), Trainer(fresh).policy.parameters(), strict=True)
    )
    assert with_skip["loss/policy"] == pytest.approx(without["loss/policy"], abs=1e-6)

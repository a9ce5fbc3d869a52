"""CurriculumWrapper: Gymnasium contract, probe/train/explicit phases, batch API (`next_request`/`report`),
seeding and resume, on the real MathReasoning-v0 env with a simulated learner choosing right or wrong answers."""

import pickle
import warnings
from dataclasses import astuple

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import curricula
import mathenv  # noqa: F401  (registers MathReasoning-v0)
from curricula import CURRICULA, CurriculumWrapper, make
from curricula.completions import report_completions
from mathenv import MathReasoningEnv, Question

NAMES = sorted(CURRICULA)
SMALL = {
    "learnability": {
        "refresh_every": 2,
        "num_candidates": 10,
        "buffer_size": 4,
        "probe_attempts": 3,
        "batch_size": 4,
    },
    "prioritized": {"batch_size": 4},
    "easy_to_hard": {"batch_size": 4, "ramp_iterations": 5},
    "uniform": {"batch_size": 4},
    "learnability_filter": {"batch_size": 4},
    "zero_variance_filter": {"batch_size": 4},
    "posterior": {"batch_size": 4},
    "greso": {"batch_size": 4},
    "speed": {"batch_size": 4, "screen_attempts": 2, "group_size": 4},
    "pass_rate_band": {"batch_size": 4, "low": 0.0, "high": 1.0},
    "adarft": {"batch_size": 4},
    "mopps": {"batch_size": 4, "ratio": 4},
}


def pool_env(n=200):
    return gym.make("MathReasoning-v0", num_questions=n)


def answer(info, solved):
    return f"\\boxed{{{info['answer']}}}" if solved else "\\boxed{not a number}"


def play(env, episodes, solves=lambda qid, attempt: qid % 2 == 0, step_every=True):
    """Run episodes through reset/step; the learner solves even question ids. Returns the infos of resets."""
    infos = []
    for _ in range(episodes):
        _, info = env.reset()
        infos.append(info)
        if step_every:
            _, _, terminated, _, _ = env.step(
                answer(info, solves(info["question_id"], info.get("curriculum_attempt")))
            )
            assert terminated
    return infos


@pytest.mark.parametrize("name", NAMES)
def test_env_checker_passes_on_wrapped_envs(name):
    opts = {"learnability": {"preset": "very_fast"}, "mopps": {"ratio": 4}}.get(name, {})
    env = CurriculumWrapper(pool_env(300), name, **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any Gymnasium warning fails the test ...
        check_env(env.unwrapped, skip_render_check=name != "uniform")
        warnings.filterwarnings(
            "ignore", message=".*different from the unwrapped version"
        )  # ... but this note
        # the wrapper itself: seeded resets, step determinism, and (render check) rebuilding it from its spec
        check_env(env, skip_render_check=name != "uniform")
    assert isinstance(env.spec.make(), CurriculumWrapper)


def test_phases_probe_then_train_and_reports_one_update_per_batch():
    with pytest.warns(UserWarning, match="attempts_per_question=2 is below learnability's probe L=3"):
        env = CurriculumWrapper(pool_env(), "learnability", attempts_per_question=2, **SMALL["learnability"])
    cur = env.curriculum
    probe = cur.next_request().question_ids
    infos = play(env, 30)  # 10 candidates x L=3
    assert [i["curriculum_phase"] for i in infos] == ["probe"] * 30
    assert [i["question_id"] for i in infos] == np.repeat(probe, 3).tolist()  # L attempts in a row
    assert [i["curriculum_attempt"] for i in infos] == [0, 1, 2] * 10
    d = cur.diagnostics()
    assert d["curriculum/probe_attempts"] == 30 and d["curriculum/iteration"] == 0
    # the learner solves exactly the even ids: p = 1 or 0, so the buffer holds what the probe saw
    assert (cur.p[probe] == (probe % 2 == 0)).all()
    report = env.last_report
    assert report["phase"] == "probe" and report["rewards"].shape == (10, 3)
    assert (report["rewards"] == (probe % 2 == 0)[:, None]).all() and not report["keep"].any()
    # then training batches: 4 ids x G=2, one update per batch, a new probe every T=2 iterations
    infos = play(env, 8)
    assert [i["curriculum_phase"] for i in infos] == ["train"] * 8 and cur.iteration == 1
    assert infos[0]["curriculum_iteration"] == 0 and set(infos[0]) >= {
        "curriculum_p",
        "curriculum_learnability",
        "curriculum_attempts",
        "curriculum_in_buffer",
        "curriculum_sampling_prob",
        "curriculum_row",
        "curriculum_attempt",
    }
    play(env, 8)
    assert cur.iteration == 2 and cur.diagnostics()["curriculum/train_attempts"] == 16
    assert play(env, 1)[0]["curriculum_phase"] == "probe"


def test_last_step_of_a_batch_carries_the_report():
    env = CurriculumWrapper(pool_env(), "uniform", batch_size=4, attempts_per_question=3)
    env.reset(seed=0)
    for k in range(12):
        if k:
            _, info = env.reset()
        else:
            info = env.reset(seed=0)[1]
        _, reward, _, _, step_info = env.step(answer(info, info["question_id"] % 3 == 0))
        assert step_info["curriculum_phase"] == "train"
        assert ("curriculum_report" in step_info) == (k == 11)
    report = step_info["curriculum_report"]
    ids = report["question_ids"]
    assert report["rewards"].tolist() == np.repeat((ids % 3 == 0)[:, None], 3, axis=1).astype(float).tolist()
    assert report["keep"].all() and env.curriculum.iteration == 1
    assert (env.curriculum.attempts[ids] == 3 * np.bincount(ids, minlength=200)[ids]).all()


def test_explicit_resets_pass_through_and_are_not_reported():
    env = CurriculumWrapper(pool_env(), "uniform", batch_size=4, attempts_per_question=2)
    _, first = env.reset(seed=1)
    env.step(answer(first, True))
    obs, info = env.reset(options={"question_id": 7})
    assert info["curriculum_phase"] == "explicit" and info["question_id"] == 7 and "curriculum_p" in info
    _, _, _, _, step_info = env.step(answer(info, True))
    assert step_info["curriculum_phase"] == "explicit"
    _, info = env.reset(options={"question_id": 7, "prefix": "Let me think. "})  # VinePPO-style rollout
    assert info["curriculum_phase"] == "explicit" and info["prefix"] == "Let me think. "
    env.step(answer(info, False))
    # the curriculum's batch goes on where it was: the second attempt at the first question
    _, info = env.reset()
    assert info["curriculum_phase"] == "train" and info["question_id"] == first["question_id"]
    assert (info["curriculum_row"], info["curriculum_attempt"]) == (0, 1)
    env.step(answer(info, True))
    play(env, 6)
    assert env.curriculum.iteration == 1 and env.curriculum.diagnostics()["curriculum/train_attempts"] == 8
    assert env.diagnostics()["curriculum/explicit_episodes"] == 2
    ids = env.last_report["question_ids"]
    assert env.curriculum.attempts.sum() == 8 and set(np.flatnonzero(env.curriculum.attempts)) == set(
        ids.tolist()
    )


def test_abandoned_episodes_count_as_nan():
    env = CurriculumWrapper(pool_env(), "uniform", batch_size=4, attempts_per_question=2)
    _, info = env.reset(seed=0)
    env.reset()  # the first attempt was abandoned before it ended
    _, info = env.reset(options={"question_id": 3})  # an explicit reset abandons the second attempt too
    env.step(answer(info, True))
    play(env, 6, solves=lambda q, a: True)
    report = env.last_report
    assert np.isnan(report["rewards"][0]).all() and (report["rewards"][1:] == 1).all()
    cur = env.curriculum
    first = int(report["question_ids"][0])
    assert cur.attempts[first] == (report["question_ids"] == first).sum() * 2 - 2
    assert cur.diagnostics()["curriculum/train_attempts"] == 6
    assert env.diagnostics()["curriculum/abandoned_episodes"] == 2


def test_reset_seed_seeds_the_curriculum():
    a = CurriculumWrapper(pool_env(), "uniform", seed=1, batch_size=4, attempts_per_question=1)
    b = CurriculumWrapper(pool_env(), "uniform", seed=2, batch_size=4, attempts_per_question=1)
    a.reset(seed=7)
    b.reset(seed=7)
    play(a, 3)
    play(b, 3)
    ids_a = [i["question_id"] for i in play(a, 12)]
    ids_b = [i["question_id"] for i in play(b, 12)]
    assert ids_a == ids_b
    fresh = make("uniform", 200, seed=7, batch_size=4)
    expected = [int(q) for _ in range(4) for q in fresh.next_request().question_ids]
    assert a.reset(seed=7)[1]["question_id"] == expected[0]
    assert [a.reset()[1]["question_id"] for _ in range(15)] == expected[1:16]
    iteration = a.curriculum.iteration
    # the same seed again: its batch was reported (the abandoned episode completed it, and is reported now,
    # not discarded as before), so the curriculum is seeded afresh: the same choices again
    _, info = a.reset(seed=7)
    assert a.curriculum.iteration == iteration + 1 and info["question_id"] == expected[0]


def test_seeding_every_episode_keeps_learning():
    """A loop that calls reset(seed=episode) every time: the curriculum is seeded once and keeps its work."""
    env = CurriculumWrapper(pool_env(), "learnability", **SMALL["learnability"])  # G = L = 3
    cur = env.curriculum
    phases = []
    for episode in range(3000):
        _, info = env.reset(seed=episode)
        phases.append(info["curriculum_phase"])
        env.step(answer(info, info["question_id"] % 3 == 0 or info["curriculum_attempt"] == 0))
    assert phases[:30] == ["probe"] * 30  # 10 candidates x L=3, then training
    assert phases.count("train") == pytest.approx(
        3000 * 24 / 54, abs=30
    )  # per T=2: 30 probe, 2 x 4 x 3 train
    assert cur.iteration > 100 and cur.buffer.size == 4 and cur.last_refresh >= cur.iteration - 2
    assert cur.diagnostics()["curriculum/probe_attempts"] > 1000  # a refresh every T=2 iterations
    assert (cur.buffer_learnability > 0).all()  # mixed groups: the learner solves only attempt 0 of most ids
    # before: every seeded reset re-seeded the curriculum and dropped the batch: 3,000 episodes of the
    # first probe, never reported (that is what a fresh curriculum seeded each time looks like)
    assert env.diagnostics()["curriculum/abandoned_episodes"] == 0


def test_repeating_a_seed_repeats_the_episode():
    env = CurriculumWrapper(pool_env(), "uniform", batch_size=4, attempts_per_question=2)
    _, first = env.reset(seed=3)
    _, second = env.reset()
    _, again = env.reset(seed=3)  # Gymnasium: the same seed, the same episode
    assert again["question_id"] == first["question_id"] and again["curriculum_row"] == first["curriculum_row"]
    _, after = env.reset()
    assert after["question_id"] == second["question_id"]
    env.step(answer(after, True))
    _, other = env.reset(seed=4)  # a new seed: the inner env's stream; the batch goes on
    assert (other["curriculum_row"], other["curriculum_attempt"]) == (1, 0)
    assert env.curriculum.iteration == 0 and env.curriculum.attempts.sum() == 0


@pytest.mark.parametrize(("G", "share"), [(None, 256 / (256 + 640)), (1, 256 / (256 + 80))])
def test_default_group_size_keeps_the_papers_probe_share(G, share):
    env = pool_env(2000)
    opts = {"preset": "very_fast", "batch_size": 16}  # T=5, N=32, K=16, L=8 (scaled to N_l=16)
    if G is None:
        wrapped = CurriculumWrapper(env, "learnability", **opts)
    else:
        with pytest.warns(UserWarning, match="probes will take a larger share of episodes"):
            wrapped = CurriculumWrapper(env, "learnability", attempts_per_question=G, **opts)
    phases = [i["curriculum_phase"] for i in play(wrapped, 0)]
    while wrapped.curriculum.iteration < 20:  # four refresh periods
        phases += [i["curriculum_phase"] for i in play(wrapped, 1)]
    phases = phases[: phases.index("train") + len(phases) - phases.index("train")]
    probe = phases.count("probe") / len(phases)
    assert wrapped.attempts_per_question == (G or 8)
    assert probe == pytest.approx(share, abs=0.01)  # 29% at the paper's G = L = 8; 76% at G = 1


def test_report_completions_scores_one_batch_in_one_call():
    env = CurriculumWrapper(pool_env(), "learnability", **SMALL["learnability"])
    cur = env.curriculum
    phase, ids, attempts, _ = astuple(env.curriculum.next_request())
    assert phase == "probe" and ids.size == 10 and attempts == 3
    assert (
        env.curriculum.next_request().question_ids.tolist() == ids.tolist()
    )  # the same probe until it is reported
    golds = [env.unwrapped.questions[i].answer for i in ids]
    completions = [[f"\\boxed{{{g}}}", "\\boxed{-1}", f"The answer is {g}."] for g in golds]
    rewards, fb, verdicts = report_completions(env.curriculum, env, ids, completions, phase="probe")
    keep = fb.keep
    assert rewards.dtype == np.float32 and rewards.shape == (10, 3)
    assert rewards[:, 0].tolist() == [1.0] * 10 and rewards[:, 2].tolist() == [1.0] * 10
    assert len(verdicts) == 30 and verdicts[0].correct and keep.tolist() == [False] * 10
    assert cur.diagnostics()["curriculum/probe_attempts"] == 30 and cur.buffer.size == 4
    phase, ids, attempts, _ = astuple(env.curriculum.next_request(6))
    assert phase == "train" and ids.size == 6 and attempts is None
    rewards, fb, verdicts = report_completions(env.curriculum, env, ids, rewards=np.tile([1.0, 0.0], (6, 1)))
    keep = fb.keep
    assert keep.all() and verdicts == [] and cur.iteration == 1 and rewards.shape == (6, 2)
    # ragged groups: missing attempts are NaN (never finished)
    phase, ids, _, _ = astuple(env.curriculum.next_request(2))
    rewards, _, _ = report_completions(
        env.curriculum, env, ids, [["\\boxed{1}"], ["\\boxed{1}", "\\boxed{2}"]]
    )
    assert rewards.shape == (2, 2) and np.isnan(rewards[0, 1]) and not np.isnan(rewards[1]).any()
    with pytest.raises(ValueError, match="exactly one of completions"):
        report_completions(env.curriculum, env, ids)
    with pytest.raises(ValueError, match="rows of completions"):
        report_completions(env.curriculum, env, ids, [["x"]])


def test_batch_filters_through_report_completions_and_the_wrapper():
    env = CurriculumWrapper(pool_env(400), "learnability_filter", batch_size=8, attempts_per_question=4)
    phase, ids, _, _ = astuple(env.curriculum.next_request())
    assert phase == "train" and ids.size == 32
    solved = np.arange(32) % 5  # 0..4 of 4 attempts
    rewards, fb, _ = report_completions(
        env.curriculum, env, ids, rewards=(np.arange(4)[None, :] < solved[:, None]).astype(float)
    )
    keep = fb.keep
    assert keep.sum() == 8 and (solved[keep] == 2).sum() == min(8, (solved == 2).sum())
    zv = CurriculumWrapper(pool_env(400), "zero_variance_filter", batch_size=8)
    assert zv.attempts_per_question == 8  # the paper's G (it used to be 2, the least a filter needs)
    infos = play(zv, 64, solves=lambda q, a: a == 0)  # first attempt right, the rest wrong: all informative
    assert infos[0]["curriculum_phase"] == "train" and zv.last_report["keep"].all() and zv.last_report["done"]
    # DAPO through episodes: a generation batch with too few informative groups is not done; the next
    # resets serve the next generation batch, and the batch completes once 8 groups are kept
    infos = play(zv, 64, solves=lambda q, a: q % 2 == 0)  # every group agrees: nothing kept
    assert not zv.last_report["done"] and zv.curriculum.iteration == 1
    play(zv, 64, solves=lambda q, a: a == 0)
    assert zv.last_report["done"] and zv.curriculum.iteration == 2


def test_easy_to_hard_by_name_reads_the_pool_difficulty():
    env = CurriculumWrapper(
        pool_env(1000), "easy_to_hard", batch_size=8, start=0.1, ramp_iterations=100, attempts_per_question=1
    )
    levels = [i["difficulty"] for i in play(env, 24)]
    assert max(levels[:8]) == 1 and max(levels) == 2  # arithmetic levels 1..10, 100 each: 10% open at first
    custom = CurriculumWrapper(
        pool_env(1000), "easy_to_hard", batch_size=8, difficulty=-np.arange(1000), attempts_per_question=1
    )
    assert min(i["question_id"] for i in play(custom, 8)) >= 900  # its own labels: highest ids are easiest
    unlabeled = MathReasoningEnv(
        questions=[Question(uid=str(i), question="q", answer="1", source="x") for i in range(100)]
    )
    with pytest.raises(ValueError, match="neither a difficulty label nor a worked solution"):
        CurriculumWrapper(unlabeled, "easy_to_hard", batch_size=8)


def test_wrapper_rejects_bad_configurations():
    with pytest.raises(ValueError, match=r"attempts_per_question >= 2"):
        CurriculumWrapper(pool_env(400), "learnability_filter", batch_size=8, attempts_per_question=1)
    with pytest.raises(ValueError, match=r"attempts_per_question \(G\) must be an int >= 1"):
        CurriculumWrapper(pool_env(), "uniform", batch_size=8, attempts_per_question=0)
    with pytest.raises(ValueError, match="covers 500 questions but the env's pool holds 200"):
        CurriculumWrapper(pool_env(), make("uniform", 500))
    with pytest.raises(ValueError, match=r"options \['preset'\] configure a curriculum built by name"):
        CurriculumWrapper(pool_env(), make("uniform", 200), preset="fast")
    with pytest.raises(ValueError, match="unknown curriculum 'sfl'"):
        CurriculumWrapper(pool_env(), "sfl")
    with pytest.raises(ValueError, match="num_candidates N=1280 exceeds the pool of 200"):
        CurriculumWrapper(pool_env(), "learnability")


@pytest.mark.filterwarnings("ignore:attempts_per_question=2 is below")
@pytest.mark.parametrize(
    "name",
    [
        "learnability",
        "prioritized",
        "zero_variance_filter",
        "posterior",
        *sorted(
            SMALL.keys()
            - {
                "learnability",
                "prioritized",
                "easy_to_hard",
                "uniform",
                "learnability_filter",
                "zero_variance_filter",
                "posterior",
            }
        ),
    ],
)
def test_wrapper_state_dict_resumes_mid_batch(name):
    # the filters need groups that disagree to complete a batch (DAPO draws until it has them)
    filters = ("zero_variance_filter", "greso", "speed", "pass_rate_band")
    solves = (lambda q, a: (q + a) % 2 == 0) if name in filters else (lambda q, a: q % 2 == 0)
    first = CurriculumWrapper(pool_env(), name, seed=3, attempts_per_question=2, **SMALL[name])
    first.reset(seed=3)
    play(first, 41, solves)
    state = pickle.loads(pickle.dumps(first.state_dict()))
    resumed = CurriculumWrapper(pool_env(), name, seed=4, attempts_per_question=2, **SMALL[name])
    resumed.load_state_dict(state)
    a = [(i["question_id"], i["curriculum_phase"], i["curriculum_attempt"]) for i in play(first, 60, solves)]
    b = [
        (i["question_id"], i["curriculum_phase"], i["curriculum_attempt"]) for i in play(resumed, 60, solves)
    ]
    assert a == b and first.curriculum.iteration == resumed.curriculum.iteration > 3


def test_curriculum_object_and_vector_env():
    cur = make("uniform", 200, seed=5, batch_size=4)
    env = CurriculumWrapper(pool_env(), cur)
    assert env.curriculum is cur and env.spec.additional_wrappers[-1].kwargs["curriculum"] == "uniform"
    envs = gym.vector.SyncVectorEnv([lambda: CurriculumWrapper(pool_env(), "uniform", batch_size=4)] * 2)
    _, infos = envs.reset(seed=0)
    assert list(infos["curriculum_phase"]) == ["train", "train"]
    _, rewards, terminated, _, infos = envs.step([f"\\boxed{{{a}}}" for a in infos["answer"]])
    assert rewards.tolist() == [1.0, 1.0] and terminated.all()
    assert curricula.CurriculumWrapper is CurriculumWrapper


def test_per_question_attempts_through_episodes_and_the_batch_api():
    """SPEED's requests ask 2 screening attempts of new questions and 4 more of those that qualified: the
    wrapper opens each id its own number of times, reports (n, max) rewards with NaN padding, and every
    episode counts once; joining held and continued episodes (HeldGroups) gives groups of 6."""
    env = CurriculumWrapper(pool_env(400), "speed", batch_size=4, screen_attempts=2, attempts_per_question=6)
    assert env.curriculum.group_size == 6  # the wrapper's G is SPEED's group size N unless set
    held = curricula.HeldGroups(lambda a, b: a + b)
    episodes, trained = 0, []
    per_row: dict[tuple[int, int], int] = {}
    while env.curriculum.iteration < 3:
        _, info = env.reset()
        episodes += 1
        batch = env._batches
        per_row[(batch, info["curriculum_row"])] = info["curriculum_attempt"] + 1
        # the first attempt at each question right, the others wrong: every screen is 1 of 2, and qualifies
        _, _, _, _, info = env.step(answer(info, info["curriculum_attempt"] in (0, 2)))
        report = info.get("curriculum_report")
        if report is not None:
            req = curricula.Request(report["phase"], report["question_ids"], None, report["continues"])
            fb = curricula.Feedback(report["keep"], report["done"], report["phase"], report["hold"])
            groups = [list(r[np.isfinite(r)]) for r in report["rewards"]]
            trained += [len(g) for _, g in held.absorb(req, fb, groups)]
            counts = np.isfinite(report["rewards"]).sum(axis=1)
            assert set(counts[report["continues"]].tolist()) <= {4}
            assert set(counts[~report["continues"]].tolist()) <= {2}
    assert set(per_row.values()) == {2, 4}  # rows of 2 (screening) and of 4 (continuation) episodes
    assert trained and set(trained) == {6} and len(trained) == 12  # 3 batches of 4 groups of 2 + 4 attempts
    d = env.diagnostics()
    assert d["curriculum/total_attempts"] == episodes == env.curriculum.attempts.sum()
    # the batch API: one call per request, completions counted per row
    req = env.curriculum.next_request()
    counts = req.counts(6)
    completions = [["\\boxed{0}"] * int(k) for k in counts]
    rewards, fb, verdicts = report_completions(env.curriculum, env, req.question_ids, completions, req.phase)
    assert len(verdicts) == counts.sum() and (np.isfinite(rewards).sum(axis=1) == counts).all()
    assert env.diagnostics()["curriculum/total_attempts"] == episodes + counts.sum()

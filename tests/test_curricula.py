"""Curricula through the batch protocol, driven by a simulated learner with known success probabilities.

The learner is a real policy for a curriculum's purpose: attempt i at question q succeeds with probability
p[q], so which questions a curriculum picks, and what it estimates, can be checked against the truth.
"""

import math
import pickle

import numpy as np
import pytest

import curricula
from curricula import CURRICULA, difficulty_from_questions, make
from mathenv import Question

NAMES = sorted(CURRICULA)
CHI2_DF19_P999 = 43.82  # 0.999 quantile of chi-square with 19 degrees of freedom


class Learner:
    """A policy whose per-question success probabilities are known and fixed."""

    def __init__(self, p, seed=0):
        self.p = np.asarray(p, dtype=np.float64)
        self.rng = np.random.default_rng(seed)

    def attempt(self, ids, attempts):
        """(n, max attempts) rewards; `attempts` an int or one count per id (NaN after a row's own)."""
        counts = np.broadcast_to(np.asarray(attempts), (len(ids),))
        width = int(counts.max()) if len(ids) else 1
        r = (self.rng.random((len(ids), width)) < self.p[np.asarray(ids)][:, None]).astype(np.float32)
        r[np.arange(width)[None, :] >= counts[:, None]] = np.nan
        return r


def drive(cur, learner, iterations, G=8):
    """Run the protocol: answer each request until the batch is done. Returns what happened, in order."""
    log = []
    for _ in range(iterations):
        while True:
            req = cur.next_request()
            fb = cur.report(req.question_ids, learner.attempt(req.question_ids, req.counts(G)), req.phase)
            log.append((req.phase, req.question_ids.tolist(), fb.keep.tolist()))
            if fb.done:
                break
    return log


def three_way_pool(n, seed=0):
    """p = 0, 0.5 and 1 in equal shares, shuffled."""
    return np.random.default_rng(seed).permutation(np.repeat([0.0, 0.5, 1.0], n // 3 + 1)[:n])


def options(name, n, **extra):
    """Small but valid options for each curriculum over a pool of n questions."""
    base = {"batch_size": 16}
    if name == "learnability":
        base.update(refresh_every=5, num_candidates=100, buffer_size=32, probe_attempts=4)
    if name == "easy_to_hard":
        base.update(difficulty=np.arange(n) % 7, ramp_iterations=20)
    if name == "adarft":
        base.update(difficulty=np.arange(n) % 7)
    if name == "mopps":
        base.update(ratio=4)
    base.update(extra)
    return base


def comparable(diag):
    return {
        k: (
            v.tolist()
            if isinstance(v, np.ndarray)
            else "nan"
            if isinstance(v, float) and math.isnan(v)
            else v
        )
        for k, v in diag.items()
    }


# ---- construction --------------------------------------------------------------------------------------


def test_make_builds_every_curriculum_by_name():
    assert set(NAMES) == {
        "uniform",
        "learnability",
        "learnability_filter",
        "prioritized",
        "easy_to_hard",
        "zero_variance_filter",
        "posterior",
        "greso",
        "speed",
        "pass_rate_band",
        "adarft",
        "mopps",
    }
    for name in NAMES:
        cur = make(name, 500, seed=3, **options(name, 500))
        assert cur.name == name and cur.num_questions == 500 and repr(cur).startswith(type(cur).__name__)
        ids = cur.next_request().question_ids
        assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < 500
    assert make("learnability", 5000, preset="fast").buffer_size == 64
    rec = make("learnability", 5000)
    assert (
        rec.refresh_every,
        rec.num_candidates,
        rec.buffer_size,
        rec.probe_attempts,
        rec.batch_size,
        rec.rho,
        rec.train_on_probes,
    ) == (50, 1280, 256, 8, 64, 0.5, False)
    vf = make("learnability", 5000, preset="very_fast")
    assert (vf.refresh_every, vf.num_candidates, vf.buffer_size) == (5, 128, 64)


NO_LABELS = [Question(uid=str(i), question=f"q{i}", answer="1", source="x") for i in range(100)]

BAD = [
    (
        "learnability",
        5000,
        {"buffer_size": 300, "num_candidates": 200},
        r"buffer_size K=300 exceeds num_candidates N=200.*lower K or raise N",
    ),
    ("learnability", 5000, {"rho": 1.5}, r"rho .* must lie in \[0, 1\], got 1.5"),
    ("learnability", 5000, {"rho": -0.1}, r"rho .* must lie in \[0, 1\], got -0.1"),
    (
        "learnability",
        5000,
        {"preset": "turbo"},
        r"unknown preset 'turbo'; choose one of \['fast', 'recommended', 'very_fast'\]",
    ),
    ("learnability", 1000, {}, r"num_candidates N=1280 exceeds the pool of 1000 questions.*very_fast"),
    ("learnability", 5000, {"probe_attempts": 1}, r"probe_attempts \(L\) must be an int >= 2"),
    ("learnability", 5000, {"refresh_every": 0}, r"refresh_every \(T\) must be an int >= 1"),
    ("learnability", 5000, {"buffer_size": 20}, r"32 buffer questions per batch exceed the buffer of K=20"),
    ("learnability_filter", 200, {}, r"ratio \* batch_size = 256 candidates exceed the pool of 200"),
    ("learnability_filter", 5000, {"ratio": 0.5}, r"ratio .* must be >= 1"),
    ("prioritized", 5000, {"temperature": 0}, r"temperature must be > 0"),
    ("prioritized", 5000, {"staleness_coef": 2}, r"staleness_coef must lie in \[0, 1\]"),
    ("prioritized", 5000, {"score": "regret"}, r"unknown score 'regret'"),
    ("prioritized", 5000, {"fresh_share": 0.5}, r"prioritized has no option\(s\) \['fresh_share'\]"),
    ("posterior", 200, {}, r"ratio \* batch_size = 256 candidates exceed the pool of 200"),
    ("posterior", 5000, {"forgetting": 0}, r"forgetting .* must lie in \(0, 1\]"),
    ("posterior", 5000, {"prior": (0, 1)}, r"prior \(a0, b0\) must be two positive numbers"),
    (
        "easy_to_hard",
        500,
        {"difficulty": np.arange(500), "pacing": "log"},
        r"pacing must be 'linear' or 'sqrt'",
    ),
    ("learnability", 5000, {"T": 10, "refresh_every": 10}, r"T and refresh_every are the same option"),
    ("uniform", 5000, {"N_l": 8, "batch_size": 8}, r"N_l and batch_size are the same option"),
    ("easy_to_hard", 500, {}, r"needs difficulty=\[one number per question\]"),
    (
        "easy_to_hard",
        500,
        {"difficulty": [1, 2, 3]},
        r"difficulty has shape \(3,\); pass one number per question \(500\)",
    ),
    ("easy_to_hard", 500, {"difficulty": np.full(500, np.nan)}, r"NaN or inf"),
    ("zero_variance_filter", 5000, {"gen_batch_size": 0}, r"gen_batch_size .* must be an int >= 1"),
    ("zero_variance_filter", 5000, {"max_num_gen_batches": -1}, r"max_num_gen_batches must be an int >= 0"),
    (
        "zero_variance_filter",
        5000,
        {"oversample": 2},
        r"zero_variance_filter has no option\(s\) \['oversample'\]",
    ),
    ("uniform", 0, {}, r"num_questions must be a positive int"),
    ("nonsense", 5000, {}, r"unknown curriculum 'nonsense'; choose one of \['adarft', 'easy_to_hard'"),
    ("uniform", 5000, {"rho": 0.5}, r"uniform has no option\(s\) \['rho'\]; its options are"),
] + [
    (
        name,
        50,
        options(name, 50, batch_size=64),
        r"pool of 50 questions is smaller than a batch of 64.*lower batch_size",
    )
    for name in NAMES
]


@pytest.mark.parametrize(("name", "n", "kwargs", "match"), BAD, ids=[f"{b[0]}-{b[3][:30]}" for b in BAD])
def test_bad_configurations_raise_with_what_to_change(name, n, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make(name, n, **kwargs)


def test_easy_to_hard_without_difficulty_labels_raises():
    with pytest.raises(
        ValueError, match="100 of 100 questions have neither a difficulty label nor a worked solution"
    ):
        difficulty_from_questions(NO_LABELS)
    labelled = [
        Question(uid="a", question="q", answer="1", source="x", difficulty=3),
        Question(uid="b", question="q", answer="1", source="x", difficulty=1),
    ]
    assert difficulty_from_questions(labelled).tolist() == [3.0, 1.0]
    gsm8k_like = [
        Question(uid="a", question="q", answer="1", source="x", solution="short"),
        Question(uid="b", question="q", answer="1", source="x", solution="a longer one"),
    ]
    assert difficulty_from_questions(gsm8k_like).tolist() == [5.0, 12.0]


def test_update_rejects_malformed_reports():
    cur = make("uniform", 100, batch_size=8)
    ids = cur.next_request().question_ids
    with pytest.raises(ValueError, match="rewards must have shape"):
        cur.report(ids, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"question ids must lie in \[0, 100\)"):
        cur.report([100], [1.0])
    with pytest.raises(ValueError, match="phase must be one of"):
        cur.report(ids, np.zeros(8), phase="eval")
    with pytest.raises(ValueError, match=r"1-D array of ints"):
        cur.report([0.5], [1.0])
    filt = make("learnability_filter", 100, batch_size=8)
    with pytest.raises(ValueError, match=r"G >= 2"):
        filt.report(filt.next_request().question_ids, np.zeros(32))
    assert cur.iteration == 0 and cur.attempts.sum() == 0  # nothing recorded by rejected updates


def test_nan_rewards_count_as_never_finished():
    cur = make("uniform", 100, batch_size=2)
    cur.report([3, 4], np.array([[1.0, np.nan, 0.0], [np.nan, np.nan, np.nan]]))
    assert cur.attempts[3] == 2 and cur.successes[3] == 1 and cur.p[3] == 0.5
    assert cur.attempts[4] == 0 and np.isnan(cur.p[4])
    assert cur.diagnostics()["curriculum/train_attempts"] == 2


# ---- uniform -----------------------------------------------------------------------------------------


def test_uniform_is_without_replacement_per_epoch_and_uniform():
    n, epochs = 20, 2000
    cur = make("uniform", n, seed=0, batch_size=7)
    draws = np.concatenate([cur.next_request(7).question_ids for _ in range(math.ceil(n * epochs / 7))])[
        : n * epochs
    ]
    per_epoch = draws.reshape(epochs, n)
    assert (np.sort(per_epoch, axis=1) == np.arange(n)).all()  # every question exactly once per epoch

    def chi2(counts):
        expected = counts.sum() / counts.size
        return float(((counts - expected) ** 2 / expected).sum())

    # which question comes first in an epoch, and where question 0 sits, are both uniform over 20 outcomes
    assert chi2(np.bincount(per_epoch[:, 0], minlength=n)) < CHI2_DF19_P999
    assert chi2(np.bincount(np.argmax(per_epoch == 0, axis=1), minlength=n)) < CHI2_DF19_P999
    # and the test has power: a sampler that favours low ids fails it
    biased = np.random.default_rng(0).choice(n, epochs, p=np.linspace(1, 2, n) / np.linspace(1, 2, n).sum())
    assert chi2(np.bincount(biased, minlength=n)) > CHI2_DF19_P999


def test_uniform_is_seeded():
    a, b, c = (make("uniform", 1000, seed=s) for s in (1, 1, 2))
    assert (
        a.next_request().question_ids.tolist()
        == b.next_request().question_ids.tolist()
        != c.next_request().question_ids.tolist()
    )


# ---- learnability (buffer) ---------------------------------------------------------------------------


def test_learnability_buffer_holds_p_near_half_not_zero_or_one():
    p = three_way_pool(1200)
    cur = make("learnability", 1200, seed=0, refresh_every=5, num_candidates=600, buffer_size=64)
    learner = Learner(p, seed=1)
    drive(cur, learner, 1)
    assert cur.buffer.size == 64 and len(set(cur.buffer.tolist())) == 64
    assert (p[cur.buffer] == 0.5).all()  # never a question always or never solved
    d = cur.diagnostics()
    assert d["curriculum/buffer_size"] == 64 and d["curriculum/buffer_learnability"] > 0.15
    # half of every batch comes from the buffer, without replacement (the uniform half may add more)
    for _ in range(20):
        ids = cur.next_request(probe=False).question_ids  # the same buffer throughout: no refresh
        assert len(set(ids[np.isin(ids, cur.buffer)].tolist())) >= 32
        cur.report(ids, learner.attempt(ids, 8))
    assert cur.diagnostics()["curriculum/batch_learnability"] > 0.1


def test_learnability_buffer_concentrates_on_the_middle_of_a_graded_pool():
    p = np.linspace(0, 1, 2000)
    cur = make("learnability", 2000, seed=0)  # the paper's recommended setting
    drive(cur, Learner(p, seed=0), 1)
    assert cur.buffer.size == 256
    assert np.abs(p[cur.buffer] - 0.5).mean() < 0.15 < np.abs(p - 0.5).mean()
    assert p[cur.buffer].min() > 0.05 and p[cur.buffer].max() < 0.95


def test_learnability_refreshes_every_T_iterations_with_N_candidates_L_attempts():
    T, N, K, L = 5, 100, 32, 4
    cur = make(
        "learnability",
        500,
        seed=0,
        refresh_every=T,
        num_candidates=N,
        buffer_size=K,
        probe_attempts=L,
        batch_size=16,
    )
    learner = Learner(three_way_pool(500), seed=0)
    probes_at = []
    for it in range(23):
        req = cur.next_request()
        if req.phase == "probe":
            probe = req.question_ids
            assert probe.size == N and len(set(probe.tolist())) == N
            assert cur.next_request().question_ids.tolist() == probe.tolist()  # same request until answered
            assert req.attempts == cur.probe_attempts == L
            probes_at.append(it)
            assert not cur.report(probe, learner.attempt(probe, L), phase="probe").done
            assert cur.diagnostics()["curriculum/buffer_age"] == 0
            req = cur.next_request()
        assert req.phase == "train"
        ids = req.question_ids
        assert cur.report(ids, learner.attempt(ids, 8)).done
    assert probes_at == [0, 5, 10, 15, 20]
    d = cur.diagnostics()
    assert d["curriculum/probe_attempts"] == 5 * N * L
    assert d["curriculum/train_attempts"] == 23 * 16 * 8
    assert d["curriculum/total_attempts"] == 5 * N * L + 23 * 16 * 8
    assert d["curriculum/buffer_age"] == 3 and d["curriculum/iteration"] == 23


def test_learnability_rejects_unrequested_probes_without_recording_them():
    cur = make("learnability", 500, refresh_every=5, num_candidates=100, buffer_size=32)
    with pytest.raises(ValueError, match="no probe was requested"):
        cur.report([1, 2], np.ones((2, 8)), phase="probe")
    probe = cur.next_request().question_ids
    stranger = int(np.setdiff1d(np.arange(500), probe)[0])
    with pytest.raises(ValueError, match="did not ask for"):
        cur.report([stranger], np.ones((1, 8)), phase="probe")
    assert cur.attempts.sum() == 0 and cur.diagnostics()["curriculum/probe_attempts"] == 0


@pytest.mark.parametrize("train_on_probes", [False, True])
def test_probe_attempts_count_whether_or_not_trained_on(train_on_probes):
    cur = make(
        "learnability",
        500,
        refresh_every=5,
        num_candidates=100,
        buffer_size=32,
        train_on_probes=train_on_probes,
    )
    probe = cur.next_request().question_ids
    keep = cur.report(probe, Learner(three_way_pool(500)).attempt(probe, 8), phase="probe").keep
    assert keep.tolist() == [train_on_probes] * 100
    assert cur.diagnostics()["curriculum/probe_attempts"] == 800 and cur.iteration == 0


def test_learnability_sample_before_any_probe_warns_and_is_uniform():
    cur = make("learnability", 2000)
    with pytest.warns(UserWarning, match="before the first buffer was built"):
        ids = cur.next_request(probe=False).question_ids
    assert ids.size == 64 and cur.buffer.size == 0


def test_paper_symbols_are_aliases():
    cur = make("learnability", 5000, T=10, N=256, K=64, L=4, rho=0.25, N_l=32)
    assert (
        cur.refresh_every,
        cur.num_candidates,
        cur.buffer_size,
        cur.probe_attempts,
        cur.rho,
        cur.batch_size,
    ) == (10, 256, 64, 4, 0.25, 32)
    assert make("uniform", 500, N_l=8).next_request().question_ids.size == 8
    with pytest.raises(ValueError, match="K and buffer_size are the same option"):
        make("learnability", 5000, K=64, buffer_size=64)
    with pytest.raises(ValueError, match=r"uniform has no option\(s\) \['refresh_every'\]"):
        make("uniform", 500, T=10)


@pytest.mark.parametrize("preset", ["recommended", "fast", "very_fast"])
def test_presets_scale_with_the_batch_and_keep_the_papers_probe_share(preset):
    paper = make("learnability", 5000, preset=preset)
    assert (
        paper.batch_size == 64
        and {k: getattr(paper, k) for k in ("refresh_every", "num_candidates", "buffer_size")}
        == curricula.LEARNABILITY_PRESETS[preset]
    )
    for n_l in (8, 16, 64):
        cur = make("learnability", 5000, preset=preset, batch_size=n_l)
        assert cur.refresh_every == paper.refresh_every
        assert (cur.num_candidates, cur.buffer_size) == (
            paper.num_candidates * n_l // 64,
            paper.buffer_size * n_l // 64,
        )
        # probe attempts per iteration: 0.4 N_l L at every batch size, as in the paper's three presets
        assert cur.planned_probe_attempts(cur.refresh_every * 10) / (cur.refresh_every * 10) == pytest.approx(
            0.4 * n_l * 8
        )
    small = make("learnability", 5000, preset=preset, batch_size=8, num_candidates=40)
    assert small.num_candidates == 40  # an explicit option wins over the preset


def test_planned_probe_attempts_counts_the_refreshes_ahead():
    cur = make("learnability", 500, refresh_every=5, num_candidates=100, buffer_size=32, batch_size=16)
    assert cur.planned_probe_attempts(1) == 800 and cur.planned_probe_attempts(6) == 1600
    drive(cur, Learner(three_way_pool(500)), 2)  # refreshed at iteration 0; next at 5
    assert cur.planned_probe_attempts(3) == 0 and cur.planned_probe_attempts(4) == 800
    assert make("uniform", 500).planned_probe_attempts(100) == 0


def test_empty_probe_report_is_not_a_refresh():
    cur = make("learnability", 500, refresh_every=5, num_candidates=100, buffer_size=32)
    probe = cur.next_request().question_ids
    with pytest.warns(UserWarning, match="scored none of its 100 candidates"):
        fb = cur.report(probe[:0], np.zeros((0, 8)), phase="probe")  # used to raise UFuncTypeError
    assert not fb.done and cur.last_refresh == -1 and cur.buffer.size == 0
    again = cur.next_request()
    assert again.phase == "probe" and again.question_ids.size == 100  # probe again, not a uniform batch


def test_all_nan_probe_keeps_the_buffer_and_probes_again():
    p = three_way_pool(500)
    cur = make("learnability", 500, refresh_every=2, num_candidates=100, buffer_size=32, batch_size=16)
    learner = Learner(p, seed=0)
    drive(cur, learner, 2)  # one refresh, two training batches: the next request is a probe
    buffer, refreshed = cur.buffer.copy(), cur.last_refresh
    probe = cur.next_request()
    assert probe.phase == "probe"
    with pytest.warns(UserWarning, match="the buffer is not refreshed"):
        cur.report(probe.question_ids, np.full((100, 8), np.nan), phase="probe")
    assert cur.buffer.tolist() == buffer.tolist() and cur.last_refresh == refreshed
    assert cur.diagnostics()["curriculum/buffer_size"] == 32
    retry = cur.next_request()
    assert retry.phase == "probe" and not np.array_equal(retry.question_ids, probe.question_ids)
    cur.report(retry.question_ids, learner.attempt(retry.question_ids, 8), phase="probe")
    assert cur.last_refresh == cur.iteration and cur.next_request().phase == "train"


# ---- the other curricula -----------------------------------------------------------------------------


def test_learnability_filter_keeps_the_highest_p_times_one_minus_p():
    cur = make("learnability_filter", 1000, seed=0, batch_size=8)  # ratio 4: 32 candidates, keep 8
    ids = cur.next_request().question_ids
    assert ids.size == 32
    solved = np.arange(32) % 9  # 0..8 of 8 attempts solved
    rewards = (np.arange(8)[None, :] < solved[:, None]).astype(np.float32)
    keep = cur.report(ids, rewards).keep
    score = (solved / 8) * (1 - solved / 8)
    assert keep.sum() == 8
    assert score[keep].min() >= score[~keep].max()
    assert (solved[keep] == 4).sum() == 4  # every candidate at p = 0.5 is kept
    d = cur.diagnostics()
    assert d["curriculum/kept_fraction"] == 0.25 and d["curriculum/discarded_attempts"] == 24 * 8
    assert d["curriculum/frac_all_solved_of_kept"] == 0 and d["curriculum/frac_none_solved_of_kept"] == 0


def test_zero_variance_filter_drops_groups_whose_attempts_all_agree():
    cur = make("zero_variance_filter", 1000, seed=0, batch_size=8)
    ids = cur.next_request().question_ids
    assert ids.size == 8  # a generation batch: gen_batch_size defaults to batch_size, as in DAPO's config
    rewards = np.array(
        [
            [1, 1, 1, 1],
            [0, 0, 0, 0],
            [1, 0, 1, 0],
            [0, 0, 0, 1],
            [1, 1, 1, 1],
            [0, 0, 0, 0],
            [0, 0, 0, 0],
            [1, 1, 0, np.nan],
        ],
        dtype=np.float32,
    )
    fb = cur.report(ids, rewards)
    assert fb.keep.tolist() == [False, False, True, True, False, False, False, True]
    assert not fb.done and cur.iteration == 0  # 3 of 8 kept: DAPO draws another generation batch
    more = cur.next_request().question_ids
    assert more.size == 8 and not set(more.tolist()) & set(ids.tolist())  # the epoch order goes on
    fb = cur.report(more, np.tile([1.0, 0.0], (8, 1)))  # every group informative: keep the first 5, truncate
    assert fb.keep.tolist() == [True] * 5 + [False] * 3 and fb.done and cur.iteration == 1
    d = cur.diagnostics()
    assert d["curriculum/frac_all_solved_of_kept"] == 0.0 and d["curriculum/kept_fraction"] == 8 / 16
    assert d["curriculum/train_attempts"] == 8 * 4 - 1 + 8 * 2 and d["curriculum/gen_batches"] == 2
    assert d["curriculum/discarded_attempts"] == (4 + 4 + 4 + 4 + 4) + 3 * 2  # dropped groups' attempts count


def test_dapo_dynamic_sampling_fills_every_batch_exactly():
    p = three_way_pool(3000)  # a third informative at G = 8 (p = 0.5): about 3 generation batches per batch
    cur = make("zero_variance_filter", 3000, seed=0, batch_size=64, gen_batch_size=64)
    learner = Learner(p, seed=0)
    for _ in range(10):
        kept, generation_batches = 0, 0
        while True:  # the trainer's loop: ask, attempt, report, until the batch is done
            req = cur.next_request()
            assert req.phase == "train" and req.question_ids.size == 64
            rewards = learner.attempt(req.question_ids, 8)
            fb = cur.report(req.question_ids, rewards)
            informative = (rewards.min(1) < 1) & (rewards.max(1) > 0)
            assert not fb.keep[~informative].any()
            kept += int(fb.keep.sum())
            generation_batches += 1
            if fb.done:
                break
        assert kept == 64 and generation_batches >= 2  # exactly a full batch, never a short one
        assert cur.diagnostics()["curriculum/gen_batches"] == generation_batches
    d = cur.diagnostics()
    assert d["curriculum/frac_all_solved_of_kept"] == d["curriculum/frac_none_solved_of_kept"] == 0.0
    assert d["curriculum/train_attempts"] - d["curriculum/discarded_attempts"] == 10 * 64 * 8


def test_dapo_cap_on_generation_batches_ends_a_short_batch_with_a_warning():
    cur = make("zero_variance_filter", 1000, seed=0, batch_size=8, max_num_gen_batches=3)
    for k in range(3):
        ids = cur.next_request().question_ids
        rewards = np.ones((8, 4))
        rewards[0, 0] = 0.0  # one informative group per generation batch
        if k < 2:
            assert not cur.report(ids, rewards).done
        else:
            with pytest.warns(UserWarning, match="kept only 3 of 8 informative groups"):
                assert cur.report(ids, rewards).done
    assert cur.iteration == 1 and cur.diagnostics()["curriculum/gen_batches"] == 3
    unlimited = make("zero_variance_filter", 1000, seed=0, batch_size=8, max_num_gen_batches=0)
    for _ in range(20):  # no cap: never done while nothing is informative
        ids = unlimited.next_request().question_ids
        assert not unlimited.report(ids, np.zeros((8, 4))).done


def test_dapo_resumes_mid_batch_exactly():
    p = three_way_pool(600)
    first = make("zero_variance_filter", 600, seed=0, batch_size=16)
    req = first.next_request()
    assert not first.report(req.question_ids, Learner(p, seed=1).attempt(req.question_ids, 8)).done
    state = pickle.loads(pickle.dumps(first.state_dict()))
    resumed = make("zero_variance_filter", 600, seed=5, batch_size=16)
    resumed.load_state_dict(state)
    assert drive(first, Learner(p, seed=2), 5) == drive(resumed, Learner(p, seed=2), 5)


def test_prioritized_is_plr_replay_share_and_fresh_draws():
    n = 2000
    cur = make("prioritized", n, seed=0, batch_size=50)
    assert (cur.temperature, cur.staleness_coef) == (0.1, 0.1)  # the PLR commands' defaults
    first = make("prioritized", n, seed=0, batch_size=50).next_request().question_ids
    assert len(set(first.tolist())) == 50  # nothing seen: every draw fresh
    seen = np.arange(0, n, 4)  # a quarter of the pool seen
    cur.report(seen, np.tile([1.0, 0.0], (seen.size, 1)))
    draws = np.concatenate([cur.next_request().question_ids for _ in range(200)])
    replayed = np.isin(draws, seen)
    assert abs(replayed.mean() - 0.25) < 0.02  # P(replay) = share of the pool seen (10,000 draws)
    fresh = draws[~replayed][:1400]  # (a batch is shuffled: stay clear of the batch that ends the epoch)
    assert len(set(fresh.tolist())) == 1400  # fresh draws: unseen questions, each once per epoch
    everything = np.arange(n)
    cur.report(everything, np.tile([1.0, 0.0], (n, 1)))
    assert cur.diagnostics()["curriculum/frac_seen"] == 1.0
    draws = np.concatenate([cur.next_request().question_ids for _ in range(50)])
    assert (
        len(draws) == 2500 and len(set(draws.tolist())) < 2500
    )  # all seen: every draw a replay, with repeats


def plr_reference(scores, staleness, temperature, staleness_coef):
    """level_replay/level_sampler.py's sample_weights() with the rank transform and power staleness."""
    temp = np.flip(scores.argsort())
    ranks = np.empty_like(temp)
    ranks[temp] = np.arange(len(temp)) + 1
    weights = 1 / ranks ** (1.0 / temperature)
    weights = weights / weights.sum()
    stale = staleness / staleness.sum()
    return (1 - staleness_coef) * weights + staleness_coef * stale


@pytest.mark.parametrize("temperature", [0.1, 1.0])
def test_prioritized_replays_with_plrs_distribution(temperature):
    n = 40
    cur = make("prioritized", n, seed=0, batch_size=8, score="failure", temperature=temperature)
    for q in range(n):  # distinct scores: question q solved q of 40 times, attempted at iteration q
        cur.report([q], [np.arange(40) < q], "train")
    assert cur.iteration == n
    scores, staleness = 1.0 - cur.p.astype(np.float64), (cur.iteration - cur.last_seen).astype(np.float64)
    expected = plr_reference(scores, staleness, temperature, 0.1)
    assert np.allclose(cur.sampling_probs(np.arange(n)), expected)
    draws = np.concatenate(
        [cur.next_request(400).question_ids for _ in range(50)]
    )  # 20,000 draws, no reports
    counts = np.bincount(draws, minlength=n)
    big = expected * draws.size >= 5
    chi2 = float(((counts[big] - expected[big] * draws.size) ** 2 / (expected[big] * draws.size)).sum())
    assert chi2 < 80  # well below the 0.999 quantile for up to 40 degrees of freedom
    assert counts[~big].sum() <= 5 * (~big).sum() + 10
    top = int(np.argmax(scores))
    assert counts[top] / draws.size == pytest.approx(expected[top], abs=0.02)


def test_prioritized_replays_high_learnability_questions():
    p = three_way_pool(3000)
    cur = make("prioritized", 3000, seed=0, temperature=1.0)
    learner = Learner(p, seed=0)
    drive(cur, learner, 60)
    seen = ~np.isnan(cur.p)
    probs = cur.sampling_probs(np.arange(3000))
    assert probs.sum() == pytest.approx(1.0)
    replay = probs[seen] / probs[seen].sum()
    assert replay[p[seen] == 0.5].sum() > 0.55  # a third of the seen questions
    ids = np.concatenate([cur.next_request().question_ids for _ in range(30)])
    assert (p[ids[~np.isnan(cur.p[ids])]] == 0.5).mean() > 0.5  # replays favour them; uniform gets a third
    q = int(np.flatnonzero(seen)[0])
    assert cur.question_info(q)["curriculum_in_buffer"] is True
    assert cur.question_info(q)["curriculum_sampling_prob"] == pytest.approx(probs[q])


def test_prioritized_groups_stay_consistent_with_the_statistics():
    p = np.random.default_rng(0).choice([0.0, 0.25, 0.5, 0.75, 1.0], 3000)
    cur = make("prioritized", 3000, seed=0, batch_size=32)
    learner = Learner(p, seed=0)
    for _ in range(60):
        ids = cur.next_request().question_ids
        rewards = learner.attempt(ids, 4)
        rewards[:3, 1:] = np.nan  # some groups with fewer finished attempts
        cur.report(ids, rewards)
    seen = np.flatnonzero(~np.isnan(cur.p))
    by_time = cur._times
    assert (
        sorted(int(m) for t in by_time.size for m in by_time.members[t][: by_time.size[t]]) == seen.tolist()
    )
    for t in by_time.size:
        assert (cur.last_seen[by_time.members[t][: by_time.size[t]]] == t).all()
    value = {g: v for v, g in cur._level_of.items()}
    for g, size in cur._scores.size.items():
        members = cur._scores.members[g][:size]
        assert np.allclose(cur.p[members] * (1 - cur.p[members]), value[g])
        assert (cur._scores.slot[members] == np.arange(size)).all()
    d = cur.diagnostics()
    assert d["curriculum/buffer_size"] == seen.size
    assert d["curriculum/buffer_age"] == pytest.approx(np.mean(cur.iteration - cur.last_seen[seen]))


def test_prioritized_failure_score_replays_unsolved_questions():
    p = three_way_pool(3000)
    cur = make("prioritized", 3000, seed=0, score="failure", temperature=1.0)
    drive(cur, Learner(p, seed=0), 30)
    seen = ~np.isnan(cur.p)
    replay = cur.sampling_probs(np.flatnonzero(seen))
    assert replay[p[seen] == 0.0].sum() / replay.sum() > 0.55


def test_posterior_updates_a_discounted_beta_posterior_from_every_attempt():
    cur = make("posterior", 1000, seed=0, batch_size=8, forgetting=0.5, prior=(2.0, 3.0))
    assert cur.probe_attempts == 0 and cur.next_request().phase == "train"  # never probes

    def posterior(q):
        alpha, beta = cur.posterior([q])
        return float(alpha[0]), float(beta[0])

    assert posterior(5) == (2.0, 3.0)  # never attempted: the prior
    cur.report([5], [[1.0, 1.0, 0.0, np.nan]])  # iteration 0: 2 successes, 1 failure; the policy then moves
    assert cur.iteration == 1 and posterior(5) == pytest.approx((2.0 + 0.5 * 2, 3.0 + 0.5 * 1))
    cur.report([6], [[0.0, 0.0]])
    cur.report([7], [[0.0, 0.0]])  # three iterations after it, the evidence weighs 0.5 ** 3
    assert posterior(5) == pytest.approx((2.0 + 0.125 * 2, 3.0 + 0.125 * 1))
    cur.report(
        [5], [[0.0, 0.0, 0.0, 0.0]], "probe"
    )  # probe attempts count too, added to the discounted evidence
    assert posterior(5) == pytest.approx((2.0 + 0.125 * 2, 3.0 + 0.125 * 1 + 4))
    d = cur.diagnostics()
    assert d["curriculum/probe_attempts"] == 4 and d["curriculum/train_attempts"] == 7


def test_posterior_picks_learnable_questions_without_probes():
    p = three_way_pool(3000)
    shares = {}
    for name in ("uniform", "posterior"):
        cur = make(name, 3000, seed=0)
        learner = Learner(p, seed=1)
        picked = []
        for _ in range(150):
            req = cur.next_request()
            assert req.question_ids.size == 64 and req.phase == "train"
            picked.append(p[req.question_ids])
            cur.report(req.question_ids, learner.attempt(req.question_ids, 8))
        shares[name] = float(np.mean(np.concatenate(picked[75:]) == 0.5))
        assert cur.diagnostics()["curriculum/probe_attempts"] == 0
    assert shares["uniform"] < 0.4 and shares["posterior"] > 0.6


def test_easy_to_hard_opens_the_easy_questions_first():
    difficulty = np.repeat(np.arange(1, 11), 100)  # 1000 questions, levels 1..10
    cur = make(
        "easy_to_hard", 1000, seed=0, difficulty=difficulty, start=0.1, ramp_iterations=18, batch_size=16
    )
    learner = Learner(np.full(1000, 0.5))
    hardest = []
    for it in range(25):
        ids = cur.next_request().question_ids
        frontier = min(1.0, 0.1 + 0.9 * it / 18)
        assert cur.frontier() == pytest.approx(frontier)
        assert (difficulty[ids] <= math.ceil(frontier * 10 - 1e-9)).all()
        hardest.append(int(difficulty[ids].max()))
        cur.report(ids, learner.attempt(ids, 2))
    assert hardest[0] == 1 and max(hardest[:3]) == 2 and hardest[-1] == 10
    sqrt = make("easy_to_hard", 1000, difficulty=difficulty, start=0.1, ramp_iterations=18, pacing="sqrt")
    sqrt.iteration = 9  # Platanios et al.'s square-root competence: sqrt(t (1 - c0^2) / T + c0^2)
    assert (
        sqrt.frontier() == pytest.approx(math.sqrt(0.5 * 0.99 + 0.01)) and sqrt.frontier() > 0.1 + 0.9 * 0.5
    )
    assert cur.question_info(int(np.argmax(difficulty == 1)))["curriculum_in_buffer"] is True
    assert cur.diagnostics()["curriculum/frontier"] == 1.0


# ---- state, seeding, diagnostics, memory -------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_resumes_exactly(name):
    n = 600
    p = three_way_pool(n, seed=2)
    first = make(name, n, seed=0, **options(name, n))
    drive(first, Learner(p, seed=1), 7)
    first.next_request()  # a save while a request is pending (a probe, for learnability) must resume it too
    state = pickle.loads(pickle.dumps(first.state_dict()))
    resumed = make(name, n, seed=99, **options(name, n))  # another seed: everything must come from the state
    resumed.load_state_dict(state)
    a = drive(first, Learner(p, seed=5), 12)
    b = drive(resumed, Learner(p, seed=5), 12)
    assert a == b
    assert comparable(first.diagnostics()) == comparable(resumed.diagnostics())
    if name == "learnability":
        assert sum(kind == "probe" for kind, *_ in a) >= 2  # the resumed stretch refreshed the buffer
    other = make(name, n, seed=0, **options(name, n, batch_size=8))
    with pytest.raises(ValueError, match="different options"):
        other.load_state_dict(state)
    with pytest.raises(ValueError, match="this curriculum is"):
        make("uniform", n + 1).load_state_dict(state)


@pytest.mark.parametrize("name", NAMES)
def test_seed_restarts_the_random_stream(name):
    n = 600
    reseeded = make(name, n, seed=0, **options(name, n))
    drive(reseeded, Learner(np.full(n, 0.5)), 0)
    reseeded.seed(7)
    fresh = make(name, n, seed=7, **options(name, n))
    assert drive(reseeded, Learner(three_way_pool(n)), 6) == drive(fresh, Learner(three_way_pool(n)), 6)


KEYS = {
    "curriculum/iteration",
    "curriculum/frac_all_solved_of_kept",
    "curriculum/frac_none_solved_of_kept",
    "curriculum/batch_learnability",
    "curriculum/batch_accuracy",
    "curriculum/kept_fraction",
    "curriculum/pool_learnability",
    "curriculum/frac_seen",
    "curriculum/buffer_size",
    "curriculum/buffer_age",
    "curriculum/buffer_learnability",
    "curriculum/p_hist",
    "curriculum/train_attempts",
    "curriculum/probe_attempts",
    "curriculum/discarded_attempts",
    "curriculum/total_attempts",
}


@pytest.mark.parametrize("name", NAMES)
def test_diagnostics_keys_are_stable_and_values_sensible(name):
    n = 600
    p = three_way_pool(n)
    cur = make(name, n, seed=0, **options(name, n))
    extra = {
        "easy_to_hard": {"curriculum/frontier", "curriculum/frontier_difficulty"},
        "zero_variance_filter": {"curriculum/gen_batches"},
        "posterior": {"curriculum/picked_learnability", "curriculum/picked_evidence"},
        "greso": {"curriculum/gen_batches", "curriculum/p_easy", "curriculum/p_hard", "curriculum/skipped"},
        "speed": {"curriculum/gen_batches", "curriculum/held"},
        "pass_rate_band": {"curriculum/gen_batches"},
        "adarft": {"curriculum/target_difficulty"},
        "mopps": {"curriculum/picked_gap"},
    }.get(name, set())
    before = cur.diagnostics()
    assert set(before) == KEYS | extra
    assert (
        math.isnan(before["curriculum/frac_all_solved_of_kept"]) and before["curriculum/total_attempts"] == 0
    )
    for _ in range(8):
        drive(cur, Learner(p), 1)
        d = cur.diagnostics()
        assert set(d) == KEYS | extra
        assert 0 <= d["curriculum/frac_all_solved_of_kept"] + d["curriculum/frac_none_solved_of_kept"] <= 1
        assert 0 <= d["curriculum/batch_learnability"] <= 0.25 and 0 <= d["curriculum/batch_accuracy"] <= 1
        seen = cur.attempts > 0
        assert d["curriculum/p_hist"].sum() == seen.sum() and d["curriculum/frac_seen"] == seen.mean()
        assert d["curriculum/pool_learnability"] == pytest.approx(
            np.mean(cur.p[seen] * (1 - cur.p[seen])), abs=1e-6
        )
        assert (
            d["curriculum/total_attempts"] == d["curriculum/train_attempts"] + d["curriculum/probe_attempts"]
        )
        assert d["curriculum/total_attempts"] == cur.attempts.sum()
        assert d["curriculum/iteration"] == cur.iteration


def test_learnability_trains_on_more_learnable_batches_than_uniform():
    p = three_way_pool(3000)
    mean_batch_l = {}
    for name in ("uniform", "learnability", "learnability_filter"):
        cur = make(name, 3000, seed=0, **({"preset": "fast"} if name == "learnability" else {}))
        values = []
        for _ in range(20):
            drive(cur, Learner(p, seed=len(values)), 1)
            values.append(cur.diagnostics()["curriculum/batch_learnability"])
        mean_batch_l[name] = np.mean(values)
    # uniform: a third of the groups at p = 0.5, p(1-p) ~ 0.22 there -> ~0.07
    assert mean_batch_l["uniform"] < 0.1
    assert mean_batch_l["learnability"] > 1.5 * mean_batch_l["uniform"]
    assert mean_batch_l["learnability_filter"] > 2.5 * mean_batch_l["uniform"]


@pytest.mark.parametrize("name", NAMES)
def test_statistics_cost_a_few_bytes_per_question(name):
    n = 100_000
    kw = options(name, n, batch_size=64)
    cur = make(name, n, seed=0, **kw)
    drive(cur, Learner(np.full(n, 0.5)), 3)
    assert (
        cur.state_nbytes() / n <= 40
    )  # 16 bytes of statistics, 4 of epoch order; easy_to_hard adds order and labels


def test_question_info_reports_the_curriculum_view():
    cur = make("learnability", 500, refresh_every=5, num_candidates=100, buffer_size=32, batch_size=16)
    drive(cur, Learner(three_way_pool(500)), 1)
    q = int(cur.buffer[0])
    info = cur.question_info(q)
    assert set(info) == {
        "curriculum_p",
        "curriculum_learnability",
        "curriculum_attempts",
        "curriculum_in_buffer",
        "curriculum_sampling_prob",
        "curriculum_iteration",
    }
    assert info["curriculum_in_buffer"] is True and info["curriculum_learnability"] > 0
    assert info["curriculum_sampling_prob"] == pytest.approx(0.5 / 500 + 0.5 / 32)
    outside = int(np.setdiff1d(np.arange(500), cur.buffer)[0])
    assert cur.question_info(outside)["curriculum_sampling_prob"] == pytest.approx(0.5 / 500)
    assert curricula.statistics.learnability(0.5) == 0.25


def test_zero_variance_is_the_rewards_standard_deviation_as_verls():
    # verl's filter drops a group when np.std of its rewards is 0; a success threshold would also drop
    # two unsolved attempts that a partial credit or format penalty tells apart (their advantages differ)
    cur = make("zero_variance_filter", 100, seed=0, batch_size=6)
    ids = cur.next_request().question_ids
    rewards = np.array(
        [
            [0.0, 0.3, 0.0],  # both below solved_threshold, yet they differ: informative
            [-0.5, 0.0, 0.0],  # a format penalty: informative
            [-0.5, -0.5, -0.5],  # all equal: dropped
            [1.0, 1.0, np.nan],  # the finished attempts agree: dropped
            [0.7, np.nan, np.nan],  # one finished attempt has no deviation: dropped
            [np.nan, np.nan, np.nan],  # nothing finished: dropped
        ]
    )
    fb = cur.report(ids, rewards)
    assert fb.keep.tolist() == [True, True, False, False, False, False] and not fb.done

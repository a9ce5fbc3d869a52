"""BatchSchedule: the curriculum batch protocol as fixed-size trainer batches (framework-free)."""

import numpy as np
import pytest

import curricula
from curricula.schedule import BatchSchedule

P_BY_MOD3 = (0.0, 0.5, 1.0)  # simulated learner: success probability by question id % 3


def attempt(ids, group, rng):
    p = np.array([P_BY_MOD3[q % 3] for q in ids])
    return (rng.random((len(ids), group)) < p[:, None]).astype(float)


def small_learnability(**kw):
    opts = dict(refresh_every=3, num_candidates=16, buffer_size=8, probe_attempts=4, batch_size=8)
    opts.update(kw)
    return curricula.make("learnability", 60, seed=0, **opts)


def test_probe_batches_come_first_then_training_and_refresh_every_T():
    cur = small_learnability()
    s = BatchSchedule(cur, batch_size=8, group_size=4)
    rng = np.random.default_rng(0)
    phases = []
    for _ in range(10):
        req = s.next_request()
        ids, phase = req.question_ids, req.phase
        assert ids.shape == (8,)
        phases.append(phase)
        s.report(ids, attempt(ids, 4, rng))
    # N=16 candidates x L=4 attempts = 2 batches of 8 prompts x 4; T=3 training batches between refreshes
    assert phases == [
        "probe",
        "probe",
        "train",
        "train",
        "train",
        "probe",
        "probe",
        "train",
        "train",
        "train",
    ]
    assert cur.diagnostics()["curriculum/probe_attempts"] == 4 * 8 * 4
    assert cur.diagnostics()["curriculum/train_attempts"] == 6 * 8 * 4
    positive = cur.buffer[cur.buffer_learnability > 0]
    assert positive.size and all(q % 3 == 1 for q in positive)


@pytest.mark.filterwarnings("ignore:learnability. a training batch before")
def test_probe_fills_L_attempts_from_smaller_groups_and_pads_the_last_batch():
    cur = small_learnability(num_candidates=10, probe_attempts=5)
    s = BatchSchedule(cur, batch_size=8, group_size=2)  # ceil(5/2) = 3 slots per candidate: 30 -> 32 slots
    rng = np.random.default_rng(1)
    request = cur.next_request().question_ids
    served = []
    for _ in range(4):
        req = s.next_request()
        ids, phase = req.question_ids, req.phase
        assert phase == "probe"
        served.append(ids)
    assert s.next_request().phase == "train"  # drawn ahead: the probe results are not back yet
    assert s.lagged_batches == 1
    counts = np.bincount(np.concatenate(served), minlength=60)
    assert set(np.flatnonzero(counts)) == set(request.tolist()) and counts[request].min() >= 3
    for ids in served:
        s.report(ids[::-1], attempt(ids[::-1], 2, rng))  # any row order
    assert cur.last_refresh == cur.iteration and cur.attempts[request].min() >= 6


def test_report_rejects_rewards_for_other_questions():
    s = BatchSchedule(curricula.make("uniform", 40, batch_size=4), batch_size=4, group_size=2)
    ids = s.next_request().question_ids
    with pytest.raises(ValueError, match="row numbers"):
        s.report((ids + 1) % 40, np.ones((4, 2)))
    s.report(ids, np.ones((4, 2)))
    with pytest.raises(ValueError, match="never issued"):
        s.report(ids, np.ones((4, 2)))


def test_sizes_that_cannot_fill_the_trainer_batch_fail_at_construction():
    with pytest.raises(ValueError, match="batch_size = B"):
        BatchSchedule(curricula.make("uniform", 40, batch_size=4), batch_size=8, group_size=2)
    with pytest.raises(ValueError, match="gen_batch_size = B"):
        BatchSchedule(curricula.make("zero_variance_filter", 40, batch_size=4), batch_size=8, group_size=2)
    with pytest.raises(ValueError, match="at least 2"):
        BatchSchedule(
            curricula.make("learnability_filter", 40, batch_size=4, ratio=2), batch_size=8, group_size=1
        )
    BatchSchedule(
        curricula.make("learnability_filter", 40, batch_size=4, ratio=2), batch_size=8, group_size=2
    )
    BatchSchedule(
        curricula.make("zero_variance_filter", 40, batch_size=4, gen_batch_size=8), batch_size=8, group_size=2
    )
    BatchSchedule(curricula.make("posterior", 40, batch_size=8), batch_size=8, group_size=2)
    with pytest.raises(
        ValueError, match="attempts every prompt G times; train it with verl's v1 trainer, TRL"
    ):
        BatchSchedule(curricula.make("speed", 40, batch_size=8), batch_size=8, group_size=4)


def test_filter_keep_mask_follows_the_rows_given():
    cur = curricula.make("learnability_filter", 60, seed=0, batch_size=4, ratio=2)
    s = BatchSchedule(cur, batch_size=8, group_size=4)
    ids = s.next_request().question_ids
    rewards = attempt(ids, 4, np.random.default_rng(2))
    perm = np.random.default_rng(3).permutation(8)
    fb = s.report(ids[perm], rewards[perm])
    keep, phase = fb.keep, fb.phase
    assert phase == "train" and keep.sum() == 4
    mixed = (rewards[perm].min(1) < 1) & (rewards[perm].max(1) > 0)
    assert keep[mixed].sum() == min(4, mixed.sum())  # highest p(1-p) first


def test_dynamic_sampling_batches_are_not_done_until_full():
    cur = curricula.make("zero_variance_filter", 60, seed=0, batch_size=4, gen_batch_size=8)
    s = BatchSchedule(cur, batch_size=8, group_size=4)
    rng = np.random.default_rng(0)
    kept = 0
    for _ in range(20):
        req = s.next_request()
        fb = s.report(req.question_ids, attempt(req.question_ids, 4, rng))
        kept += int(fb.keep.sum())
        if fb.done:
            assert kept == 4  # exactly the curriculum's batch_size groups, over one or more trainer batches
            kept = 0
    assert cur.iteration >= 3 and kept < 4


@pytest.mark.filterwarnings("ignore:learnability. a training batch before")
def test_state_round_trip_replays_unanswered_batches():
    def run(steps, restart_at=None):
        s = BatchSchedule(small_learnability(), batch_size=8, group_size=4)
        answered, pending = [], []
        for step in range(steps):
            if step == restart_at:
                state = s.state_dict()
                s = BatchSchedule(small_learnability(), batch_size=8, group_size=4)
                s.load_state_dict(state)
                pending = []  # the batch drawn ahead was lost with the trainer: it is served again
            req = s.next_request()
            pending.append((req.question_ids, req.phase))
            if len(pending) == 2:  # a loader that draws one batch ahead
                done, phase = pending.pop(0)
                s.report(done, attempt(done, 4, np.random.default_rng([len(answered), 5])))
                answered.append((phase, done.tolist()))
        return answered

    straight, restarted = run(12), run(13, restart_at=4)
    assert restarted[: len(straight)] == straight

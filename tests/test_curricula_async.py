"""Late, out-of-order and missing reports (asynchronous rollouts) for every curriculum in curricula.CURRICULA.

The loop is research.simulation_async.AsyncLoop: requests drawn while `lag` earlier ones are still attempted,
reported out of order, some groups evicted unread (NaN), some training requests never reported.
"""

import numpy as np
import pytest

from curricula import CURRICULA, make
from research.simulation_async import AsyncLoop, learnable_share_under_lag

N, BATCH = 600, 16
OPTIONS = {"learnability": {"preset": "fast"}}
pytestmark = [
    pytest.mark.filterwarnings("ignore:learnability. a training batch before the first buffer:UserWarning"),
    pytest.mark.filterwarnings("ignore:learnability. the probe report scored none:UserWarning"),
]


def loop(name, lag, seed=0, **kw):
    return AsyncLoop(name, N, seed, lag=lag, G=4, batch_size=BATCH, **OPTIONS.get(name, {}), **kw)


@pytest.mark.parametrize("lag", [0, 1, 4])
@pytest.mark.parametrize("name", sorted(CURRICULA))
def test_nothing_lost_nothing_counted_twice(name, lag):
    run = loop(name, lag, drop=0.1 if lag else 0.0, lose=0.1 if lag else 0.0)
    for _ in range(40):
        run.step()
    cur = run.cur
    diag = cur.diagnostics()
    assert cur.attempts.sum() == run.reported  # every finished attempt reported counted once, NaN ones never
    assert diag["curriculum/train_attempts"] + diag["curriculum/probe_attempts"] == run.reported
    assert cur.successes.sum() <= cur.attempts.sum() and run.trained > 0
    assert len(run.inflight) == lag  # the window holds `lag` requests in flight


@pytest.mark.parametrize("lag", [1, 4])
@pytest.mark.parametrize("name", sorted(CURRICULA))
def test_state_dict_round_trips_with_requests_in_flight(name, lag):
    straight = loop(name, lag, drop=0.1)
    for _ in range(15):
        straight.step()
    saved = straight.state()
    assert saved["inflight"]  # requests in flight at the checkpoint
    for _ in range(25):
        straight.step()
    resumed = loop(name, lag, drop=0.1)
    for _ in range(5):  # a state of its own, which the restore must replace entirely
        resumed.step()
    resumed.restore(saved)
    resumed.log = []
    straight_log = straight.log[15:]
    for _ in range(25):
        resumed.step()
    assert resumed.log == straight_log
    a, b = straight.cur.state_dict(), resumed.cur.state_dict()
    for key in ("attempts", "successes", "p", "last_seen", "iteration"):
        assert np.array_equal(a[key], b[key], equal_nan=True), key


@pytest.mark.parametrize("name", sorted(CURRICULA))
def test_learnable_share_under_lag_close_to_synchronous(name):
    """The share of trained groups whose question was learnable when attempted, measured with the simulator's
    learner (2 seeds): at lag 1 and 4 within 5 points of the synchronous loop (or better)."""
    shares = learnable_share_under_lag(
        name, n=2000, iterations=120, seeds=2, batch_size=32, **OPTIONS.get(name, {})
    )
    assert shares[1] >= shares[0] - 0.05 and shares[4] >= shares[0] - 0.05, shares


def test_an_older_group_reported_late_does_not_overwrite_a_newer_estimate():
    cur = make("uniform", 50, batch_size=4)
    ids = np.array([3])
    cur.report(ids, np.ones((1, 4)))  # iteration 0 -> 1
    cur.report(ids, np.zeros((1, 4)))  # iteration 1 -> 2: p = 0, last seen 1
    cur.report(ids, np.ones((1, 4)), issued=0)  # a group drawn at 0 arrives now
    assert cur.p[3] == 0.0 and cur.last_seen[3] == 1 and cur.attempts[3] == 12 and cur.successes[3] == 8
    with pytest.raises(ValueError, match="issued"):
        cur.report(ids, np.ones((1, 4)), issued=cur.iteration + 1)


def test_posterior_discounts_late_evidence_by_its_age():
    cur = make("posterior", 50, batch_size=4, forgetting=0.5)
    for _ in range(3):
        cur.report(np.array([7]), np.full((1, 4), np.nan))  # three iterations pass, nothing finished
    cur.report(np.array([9]), np.ones((1, 4)), issued=1)  # 4 successes drawn at iteration 1, reported at 3
    alpha, beta = cur.posterior(np.array([9]))  # now iteration 4: the evidence is 3 iterations old
    assert alpha[0] == pytest.approx(1 + 4 * 0.5**3) and beta[0] == pytest.approx(1.0)
    sync = make("posterior", 50, batch_size=4, forgetting=0.5)
    sync.report(np.array([9]), np.ones((1, 4)))  # reported as drawn: 1 iteration old after its own report
    assert sync.posterior(np.array([9]))[0][0] == pytest.approx(1 + 4 * 0.5)


def test_prioritized_dates_staleness_by_the_request():
    cur = make("prioritized", 50, batch_size=4)
    for _ in range(4):
        cur.report(np.array([1]), np.full((1, 4), np.nan))
    cur.report(np.array([2]), np.array([[1.0, 0.0, 1.0, 0.0]]), issued=1)
    assert cur.last_seen[2] == 1 and cur.question_info(2)["curriculum_sampling_prob"] > 0
    assert cur._buffer_stats()[1] == pytest.approx(
        cur.iteration - 1
    )  # mean staleness counts from the request


def test_learnability_refreshes_when_the_late_probe_arrives_and_never_draws_it_twice():
    cur = make(
        "learnability", 200, batch_size=8, refresh_every=2, num_candidates=16, buffer_size=8, probe_attempts=4
    )
    probe = cur.next_request()
    assert probe.phase == "probe"
    with pytest.warns(UserWarning, match="before the first buffer"):
        ahead = [cur.next_request(probe=False) for _ in range(2)]  # drawn while the probe is out
    assert all(r.phase == "train" for r in ahead)
    for r in ahead:
        cur.report(r.question_ids, np.ones((8, 4)), issued=0)
    assert cur.iteration == 2 and cur.buffer.size == 0
    rewards = np.tile([1.0, 0.0, 1.0, 1.0], (16, 1))
    cur.report(probe.question_ids, rewards, "probe", issued=0)
    assert cur.last_refresh == 2 and cur.buffer.size == 8  # T counts from the report: the buffer's first use
    assert cur.next_request().phase == "train"

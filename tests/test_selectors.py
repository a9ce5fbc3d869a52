"""The rules of the 2025-26 question selectors, each pinned to its paper: a test per rule that fails if the rule
were implemented differently (GRESO's skip probability and its adaptation, the pass-rate band's inclusive
edges and refill cap, AdaRFT's target update and nearest draw, SPEED's screening and continuation, MoPPS's
discounted posterior and nearest-target Thompson draw)."""

import math

import numpy as np
import pytest

from curricula import HeldGroups, make
from curricula.protocol import padded_rewards


def rows(*shares, G=8):
    """One reward row per share: round(share * G) solved attempts first."""
    return np.array([[1.0] * round(s * G) + [0.0] * (G - round(s * G)) for s in shares])


# ---- GRESO --------------------------------------------------------------------------------------------


def test_greso_skip_probability_grows_with_the_run_of_zero_variance_groups():
    cur = make("greso", 200, batch_size=4, step=0.0, max_num_gen_batches=0)  # the skip rule alone
    q_easy, q_hard, q_mixed = np.array([5]), np.array([6]), np.array([7])
    for k in range(1, 11):
        cur.report(q_easy, np.ones((1, 8)))  # all solved k times in a row
        cur.report(q_hard, np.zeros((1, 8)))  # none solved k times in a row
        assert cur.keep_probability(q_easy)[0] == pytest.approx(max(0.5**k, 0.01))
        assert cur.keep_probability(q_hard)[0] == pytest.approx(max(0.5**k, 0.01))
    assert cur.streak[5] == 10 and cur.streak[6] == -10
    cur.report(q_easy, rows(0.5))  # one mixed group ends the run: never skipped
    assert cur.keep_probability(q_easy)[0] == 1.0 and cur.keep_probability(q_mixed)[0] == 1.0
    cur.report(q_hard, np.ones((1, 8)))  # an easy group after hard ones starts an easy run of 1
    assert cur.streak[6] == 1


def test_greso_skips_before_rollout_with_probability_one_minus_p_to_the_k():
    n = 4000
    cur = make("greso", n, batch_size=50, p_easy=0.6, p_hard=0.5, max_num_gen_batches=0)
    easy, hard = np.arange(0, n, 4), np.arange(1, n, 4)
    for _ in range(2):
        cur.report(easy, np.ones((easy.size, 4)))  # z = +2: keep with 0.6^2 = 0.36
        cur.report(hard, np.zeros((hard.size, 4)))  # z = -2: keep with 0.5^2 = 0.25
    drawn = np.concatenate([cur._sample(50) for _ in range(40)])  # 2000 survivors of about 2.9 epochs' draws
    seen = cur._skipped + drawn.size
    # of the draws, a quarter each were easy and hard questions: survivors in proportion 0.36 and 0.25
    share_easy = np.isin(drawn, easy).sum() / (seen / 4)
    share_hard = np.isin(drawn, hard).sum() / (seen / 4)
    assert share_easy == pytest.approx(0.36, abs=0.04) and share_hard == pytest.approx(0.25, abs=0.04)
    assert np.isin(drawn, np.arange(2, n, 4)).sum() == pytest.approx(seen / 4, rel=0.05)  # never skipped


def mixed_batch(cur) -> None:
    """One training batch whose every group is mixed (one attempt right): kept, no zero variance."""
    req = cur.next_request()
    r = np.zeros((req.question_ids.size, 8))
    r[:, 0] = 1.0
    cur.report(req.question_ids, r)


def test_greso_adapts_p_to_hold_the_target_share_of_zero_variance_groups_after_the_first_epoch():
    cur = make("greso", 400, batch_size=8, gen_batch_size=8, target_zero_variance=0.3)
    # the first pass over the pool only fills the histories (the released trainer adapts when epoch > 0),
    # even with every group of a batch all solved
    req = cur.next_request()
    cur.report(req.question_ids, rows(*[1.0] * 8))
    while not cur.past_first_epoch:
        assert cur.p_easy == cur.p_hard == 0.5
        mixed_batch(cur)
    # the batch that crossed is the second epoch's first: it adapts (no zero variance: both rise a step)
    assert cur._draws == 408 and cur.p_easy == pytest.approx(0.51) and cur.p_hard == pytest.approx(0.51)
    req = cur.next_request()
    # 2 of 8 groups all solved (25% >= 0.3 / 3), none all failed (0% < 0.6 / 3), 6 mixed: batch not full
    fb = cur.report(req.question_ids, rows(1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5))
    assert not fb.done
    req = cur.next_request()
    fb = cur.report(req.question_ids, rows(*[0.5] * 8))
    assert fb.done and fb.keep.sum() == 2  # exactly batch_size informative groups, the first ones kept
    # over the iteration's 16 generated groups: 2/16 = 12.5% all solved >= 10% -> p_easy down one step
    assert cur.p_easy == pytest.approx(0.50) and cur.p_hard == pytest.approx(0.52)
    for _ in range(60):  # no zero-variance group: both rise one step per batch to their cap
        mixed_batch(cur)
    assert cur.p_easy == pytest.approx(0.95) and cur.p_hard == pytest.approx(0.95)  # capped at p_max
    # a state saved before the draws were counted resumes as past the first epoch, as it ran
    old = make("greso", 400, batch_size=8, gen_batch_size=8, target_zero_variance=0.3)
    state = cur.state_dict()
    del state["_draws"]
    old.load_state_dict(state)
    assert old.past_first_epoch and old.p_easy == cur.p_easy
    fresh = make("greso", 400, batch_size=8, gen_batch_size=8, target_zero_variance=0.3)
    fresh.load_state_dict(cur.state_dict())
    assert fresh._draws == cur._draws


# ---- pass-rate band -----------------------------------------------------------------------------------


def test_pass_rate_band_keeps_both_edges_and_nothing_outside():
    cur = make("pass_rate_band", 100, batch_size=6, gen_batch_size=8)
    ids = cur.next_request().question_ids
    fb = cur.report(ids, rows(0, 1 / 8, 2 / 8, 3 / 8, 5 / 8, 6 / 8, 7 / 8, 1))
    assert fb.keep.tolist() == [False, False, True, True, True, True, False, False]
    narrow = make("pass_rate_band", 100, batch_size=6, gen_batch_size=8, low=0.5, high=0.5)
    ids = narrow.next_request().question_ids
    assert narrow.report(ids, rows(3 / 8, 4 / 8, 5 / 8, 0.5, 0.5, 0, 1, 0.5)).keep.sum() == 4


def test_pass_rate_band_refills_until_full_and_stops_at_the_cap():
    cur = make("pass_rate_band", 400, batch_size=5, gen_batch_size=4, max_num_gen_batches=0)
    kept = requests = 0
    while True:  # two in-band groups per generation batch: 3 batches, the last truncated to fill exactly 5
        req = cur.next_request()
        fb = cur.report(req.question_ids, rows(0.5, 0, 0.25, 1))
        kept, requests = kept + fb.keep.sum(), requests + 1
        if fb.done:
            break
    assert (kept, requests) == (5, 3)
    capped = make("pass_rate_band", 400, batch_size=5, gen_batch_size=4, max_num_gen_batches=3)
    with pytest.warns(UserWarning, match="3 generation batches .* kept only 0 of 5"):
        for i in range(3):
            fb = capped.report(capped.next_request().question_ids, rows(0, 1, 1 / 8, 7 / 8))
            assert fb.done == (i == 2)
    assert capped.diagnostics()["curriculum/gen_batches"] == 3


# ---- AdaRFT -------------------------------------------------------------------------------------------


def test_adarft_moves_the_target_by_eta_tanh_alpha_reward_gap():
    cur = make("adarft", 200, difficulty=np.arange(200), batch_size=10)
    assert cur.target == 0.0
    cur.report(cur.next_request().question_ids, np.ones((10, 4)))  # R_avg = 1
    assert cur.target == pytest.approx(50 * math.tanh(2 * 0.5))  # 38.08
    cur.report(cur.next_request().question_ids, rows(*[0.25] * 10, G=4))  # R_avg = 0.25
    assert cur.target == pytest.approx(50 * math.tanh(1.0) + 50 * math.tanh(2 * -0.25))
    for _ in range(5):
        cur.report(cur.next_request().question_ids, np.zeros((10, 4)))
    assert cur.target == 0.0  # clipped at d_min
    other = make("adarft", 200, difficulty=np.arange(200), batch_size=10, eta=10, alpha=1, beta=0.8)
    other.report(other.next_request().question_ids, rows(*[0.5] * 10, G=4))
    assert other.target == pytest.approx(max(0.0, 10 * math.tanh(-0.3)))


def test_adarft_draws_the_questions_nearest_the_target_ties_at_random():
    d = np.random.default_rng(0).permutation(1000).astype(float)  # difficulty 0..999 -> scale 0..100
    cur = make("adarft", 1000, difficulty=d, batch_size=20, start=37.0)
    ids = cur.next_request().question_ids
    scaled = d * 100 / 999
    assert set(ids.tolist()) == set(np.argsort(np.abs(scaled - 37.0))[:20].tolist())
    levels = np.repeat([1, 2, 3, 4, 5], 100)  # five levels -> 0, 25, 50, 75, 100
    lv = make("adarft", 500, difficulty=levels, batch_size=30, start=30.0)
    draws = [set(lv.nearest(30).tolist()) for _ in range(5)]
    assert all(levels[list(s)].tolist() == [2] * 30 for s in draws)  # all from level 2 (25 is nearest 30)
    assert len(set.union(*draws)) > 60  # ties broken afresh each draw, not the same 30 every time
    wide = make("adarft", 500, difficulty=levels, batch_size=150, start=36.0)
    got = levels[wide.nearest(150)]
    assert (got == 2).sum() == 100 and (got == 3).sum() == 50  # all of level 2 (25), then level 3 (50)


# ---- SPEED --------------------------------------------------------------------------------------------


def test_speed_screens_with_few_attempts_and_holds_what_qualifies():
    cur = make("speed", 300, batch_size=4, screen_attempts=4, group_size=10, screen_batch_size=6)
    req = cur.next_request()
    assert req.attempts.tolist() == [4] * 6 and not req.continuing().any()
    fb = cur.report(
        req.question_ids, padded_rewards(rows(0, 0.25, 0.5, 0.75, 1, 0.5, G=4).ravel(), req.counts(8))
    )
    assert fb.held().tolist() == [False, True, True, True, False, True] and not fb.keep.any()
    d = cur.diagnostics()
    assert d["curriculum/discarded_attempts"] == 8 and d["curriculum/train_attempts"] == 24  # 2 screened out
    nxt = cur.next_request()  # the 4 qualified continue with N - N_init = 6 attempts; no new screening needed
    assert nxt.question_ids.tolist() == req.question_ids[[1, 2, 3, 5]].tolist()
    assert nxt.attempts.tolist() == [6] * 4 and nxt.continuing().all()
    fb = cur.report(nxt.question_ids, np.ones((4, 6)))  # the continuation's outcome does not matter: trained
    assert fb.keep.all() and fb.done and not fb.held().any()
    assert cur.diagnostics()["curriculum/train_attempts"] == 48


def test_speed_threshold_edges_are_exclusive_and_settable():
    strict = make("speed", 300, batch_size=4, screen_attempts=4, low=0.25, high=0.75)
    assert strict.qualifies(np.array([0, 1, 2, 3, 4]), np.full(5, 4)).tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]
    default = make("speed", 300, batch_size=4)
    assert default.qualifies(np.array([0, 1, 2, 3, 4]), np.full(5, 4)).tolist() == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert not default.qualifies(np.array([1]), np.array([1]))[0]  # one finished attempt is no pass rate


def test_speed_pipelines_continuation_with_new_screening_and_keeps_extra_qualified_for_later():
    cur = make("speed", 300, batch_size=4, screen_attempts=2, group_size=6, screen_batch_size=4)
    held = HeldGroups(lambda a, b: np.concatenate([a, b]))
    trained, batches = [], 0
    for _ in range(12):
        req = cur.next_request()
        counts = req.counts(6)
        assert set(counts[req.continuing()].tolist()) <= {4} and set(counts[~req.continuing()].tolist()) <= {
            2
        }
        r = np.tile([1.0, 0.0, 1.0, 0.0], (req.question_ids.size, 1))[:, : counts.max()]  # every screen 1/2
        r = np.where(np.arange(r.shape[1])[None, :] < counts[:, None], r, np.nan)
        fb = cur.report(req.question_ids, r)
        for _, g in held.absorb(req, fb, [row[np.isfinite(row)] for row in r]):
            trained.append(g.size)
        batches += fb.done
    assert set(trained) == {6}  # every trained group: 2 screening + 4 continuation attempts, joined
    assert batches >= 4 and len(trained) == 4 * batches  # full batches of 4 completed groups
    assert cur.diagnostics()["curriculum/held"] == len(held)  # the driver holds what the curriculum holds


# ---- MoPPS --------------------------------------------------------------------------------------------


def test_mopps_discounted_beta_update_per_report():
    cur = make("mopps", 400, batch_size=4, forgetting=0.5, prior=(1.0, 2.0))
    q = np.array([3])
    cur.report(q, np.array([[1.0, 1.0, 0.0, 1.0]]))  # s = 3, f = 1
    assert (cur.alpha[3], cur.beta[3]) == pytest.approx((0.5 * 1 + 0.5 * 1 + 3, 0.5 * 2 + 0.5 * 2 + 1))
    cur.report(q, np.zeros((1, 4)))  # s = 0, f = 4
    assert (cur.alpha[3], cur.beta[3]) == pytest.approx((0.5 * 4 + 0.5 * 1 + 0, 0.5 * 3 + 0.5 * 2 + 4))
    for _ in range(3):  # iterations without an update of question 3 leave its posterior as it is
        cur.report(np.array([9]), np.ones((1, 4)))
    assert cur.alpha[3] == pytest.approx(2.5) and cur.beta[3] == pytest.approx(6.5)
    no_forgetting = make("mopps", 400, batch_size=4)
    no_forgetting.report(q, np.ones((1, 4)))
    no_forgetting.report(q, np.ones((1, 4)))
    assert no_forgetting.alpha[3] == 9 and no_forgetting.beta[3] == 1  # lambda = 1: plain Beta counts


@pytest.mark.parametrize("target", [0.2, 0.5, 0.8])
def test_mopps_thompson_samples_pick_the_candidates_nearest_the_target(target):
    n = 400
    p = np.linspace(0, 1, n)
    cur = make("mopps", n, batch_size=10, ratio=8, target=target)
    cur.alpha[:] = 1 + 2000 * p  # sharp posteriors around p: the samples are p within ~0.01
    cur.beta[:] = 1 + 2000 * (1 - p)
    for _ in range(5):
        order = cur._order_pos
        ids = cur.next_request().question_ids
        candidates = cur._order[order : order + 80]
        best = candidates[np.argsort(np.abs(p[candidates] - target))[:10]]
        assert np.abs(p[ids] - target).max() <= np.abs(p[best] - target).max() + 0.03
    fresh = make("mopps", n, batch_size=10, ratio=8, target=target)
    picks = np.concatenate([fresh.next_request().question_ids for _ in range(5)])
    assert np.abs(p[picks] - target).mean() > 0.1  # with prior posteriors only, the draw is not by p


def test_posterior_is_mopps_only_without_discount():
    """`posterior` ranks by p~(1 - p~) = 1/4 - (p~ - 1/2)^2 and discounts per iteration: with no discount it is
    MoPPS at target 0.5 (the same choices, draw for draw); with its default discount it is not."""

    def run(cur, iterations=30):
        rng, picks = np.random.default_rng(1), []
        p = np.linspace(0, 1, cur.num_questions)
        for _ in range(iterations):
            ids = cur.next_request().question_ids
            picks.append(ids.tolist())
            cur.report(ids, (rng.random((ids.size, 8)) < p[ids][:, None]).astype(float))
        return picks

    mopps = run(make("mopps", 600, seed=4, batch_size=8, ratio=4, forgetting=1.0, target=0.5))
    assert run(make("posterior", 600, seed=4, batch_size=8, ratio=4, forgetting=1.0)) == mopps
    assert run(make("posterior", 600, seed=4, batch_size=8, ratio=4)) != mopps  # lambda 0.99 per iteration
    # a question is updated a second time only after an epoch (600 / 32 candidates per batch): then lambda counts
    long = run(make("mopps", 600, seed=4, batch_size=8, ratio=4, forgetting=1.0), 80)
    assert run(make("mopps", 600, seed=4, batch_size=8, ratio=4, forgetting=0.5), 80) != long


def test_every_option_of_every_curriculum_has_help():
    from curricula import CURRICULA, option_help

    for name in CURRICULA:
        missing = [option for option, _, text in option_help(name) if not text]
        assert not missing, f"{name}: options without help {missing}"

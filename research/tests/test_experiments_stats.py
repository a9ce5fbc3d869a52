"""research.experiments.stats / analysis on synthetic curves whose answers are known: an arm against itself comes
out at 0 points and 1.0x, a known shift or speed-up at its size, and the t distribution at its tabulated values."""

import json
import math

import numpy as np
import pytest

from agents.core import metrics as M
from research.experiments import analysis, stats, tables


@pytest.mark.parametrize(
    "q,df,t",
    [
        (0.975, 1, 12.7062),
        (0.975, 4, 2.7764),
        (0.975, 9, 2.2622),
        (0.975, 30, 2.0423),
        (0.8, 4, 0.9410),
        (0.95, 7, 1.8946),
    ],
)
def test_t_quantiles_match_the_tables(q, df, t):
    assert stats.t_quantile(q, df) == pytest.approx(t, abs=1e-4)
    assert stats.t_cdf(stats.t_quantile(q, df), df) == pytest.approx(q, abs=1e-10)
    assert stats.t_quantile(1 - q, df) == pytest.approx(-t, abs=1e-4)


def test_paired_difference_interval_and_p_value():
    a = {0: 0.50, 1: 0.60, 2: 0.70, 3: 0.65}
    b = {0: 0.45, 1: 0.50, 2: 0.68, 3: 0.55, 9: 0.1}  # seed 9 has no partner: left out
    p = stats.paired_difference(a, b)
    d = np.array([0.05, 0.10, 0.02, 0.10])
    se = d.std(ddof=1) / 2
    assert p.n == 4 and p.mean == pytest.approx(d.mean())
    assert p.half_width == pytest.approx(3.1824 * se, rel=1e-4)
    # p-value of t = mean / se with 3 df, two-sided (1 - t_cdf computed independently of the quantile)
    assert p.p == pytest.approx(2 * (1 - stats.t_cdf(d.mean() / se, 3)))
    assert 0.01 < p.p < 0.05 and p.low > 0
    same = stats.paired_difference(a, a)
    assert (same.mean, same.half_width, same.p) == (0.0, 0.0, 1.0)  # against itself: 0 points, p = 1


def test_two_sided_p_value_of_a_known_t():
    # t = 2.0 with 10 df: two-sided p = 0.0734 (tables)
    diffs = np.array([1.0] * 6 + [-1.0] * 5)
    mean, half, p = stats.paired_test(list(diffs))
    t = diffs.mean() / (diffs.std(ddof=1) / math.sqrt(11))
    assert p == pytest.approx(2 * (1 - stats.t_cdf(t, 10)))
    assert 2 * (1 - stats.t_cdf(2.0, 10)) == pytest.approx(0.07339, abs=1e-5)


def test_holm_adjusts_step_down_and_keeps_order():
    adjusted = stats.holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": math.nan})
    assert adjusted["a"] == pytest.approx(0.03)  # 3 x 0.01
    assert adjusted["c"] == pytest.approx(0.06)  # 2 x 0.03
    assert adjusted["b"] == pytest.approx(0.06)  # max(1 x 0.04, 0.06): monotone
    assert math.isnan(adjusted["d"])
    assert stats.holm({"x": 0.6, "y": 0.7}) == {"x": 1.0, "y": 1.0}  # monotone: never below a smaller p's


def test_minimal_detectable_difference():
    # 5 seeds, spread 1: (t_.975,4 + t_.8,4) / sqrt(5) = (2.7764 + 0.9410) / 2.2361
    assert stats.min_detectable_difference(5, 1.0) == pytest.approx(1.6625, abs=1e-3)
    assert stats.min_detectable_difference(8, 0.02) < stats.min_detectable_difference(5, 0.02)
    assert stats.min_detectable_difference(1, 0.02) == math.inf


def linear(start, end, steps=100, every=10, saturate_at=None):
    xs = np.arange(0, steps + 1, every, dtype=float)
    stop = saturate_at or steps
    ys = start + (end - start) * np.minimum(xs, stop) / stop
    return xs, ys


def test_area_under_the_curve_and_its_paired_difference():
    xs, ys = linear(0.2, 0.6)
    assert stats.area_under_curve(xs, ys, 100) == pytest.approx(0.4)  # mean height of a line
    assert stats.area_under_curve(xs, ys, 50) == pytest.approx(0.3)
    assert stats.area_under_curve(xs, ys, 150) is None  # the curve does not get there
    ref = {s: linear(0.2 + s / 100, 0.6) for s in range(4)}
    same = stats.paired_auc(ref, ref)
    assert same.n == 4 and same.mean == 0.0 and same.p == 1.0
    shifted = {s: (xs, ys + 0.05) for s, (xs, ys) in ref.items()}
    assert stats.paired_auc(shifted, ref).mean == pytest.approx(0.05)


def test_steps_to_target_counts_every_seed_and_reads_a_known_speed_up():
    ref = {s: linear(0.2, 0.6) for s in range(3)}
    same = stats.steps_to_target(ref, ref)
    assert same.ratio == pytest.approx(1.0) and same.difference.mean == 0.0
    # twice as fast, then flat: the target (halfway to the lower smoothed final) is reached in half the steps
    fast = {s: linear(0.2, 0.6, saturate_at=50) for s in range(3)}
    out = stats.steps_to_target(fast, ref)
    assert out.ratio == pytest.approx(2.0) and out.reached_arm == out.reached_ref == 3
    assert out.difference.mean == pytest.approx(47.5 - 23.75)
    # a seed whose arm never learns is counted (at the horizon), not dropped; a step-0 value is never "reached"
    flat = dict(fast)
    flat[2] = linear(0.2, 0.2)
    out = stats.steps_to_target(flat, ref)
    assert out.difference.n == 3 and out.reached_arm == 2
    nothing = {s: linear(0.2, 0.2) for s in range(3)}
    assert math.isnan(stats.steps_to_target(nothing, nothing).ratio)  # neither learned: no ratio, not 1.0x
    xs, ys = ref[0]
    assert stats.first_reach(xs, ys, 0.2) == 0.0 and stats.first_reach(xs, ys, 0.7) is None


def records(xs, ys, attempts_per_step, extra=None):
    """metrics.jsonl records of a run evaluated at xs (steps) with held-out ys; step 0 has no compute yet."""
    out = []
    for x, y in zip(xs, ys, strict=True):
        r = {"step": int(x), "eval/pass@1": float(y)}
        if x > 0:
            r.update(
                {
                    "compute/attempts_total": attempts_per_step * x,
                    "compute/generated_tokens": 20 * attempts_per_step * x,
                    "compute/attempts_train": 128 * x,
                    "train/reward": 0.3,
                    "train/frac_zero_advantage": 0.6,
                    M.TRAIN_NONE_SOLVED: 0.4,
                    M.TRAIN_ALL_SOLVED: 0.2,
                    **(extra or {}),
                }
            )
        out.append(r)
    return out


def test_cells_are_read_against_their_own_algorithms_uniform_at_its_own_budgets():
    xs, ys = linear(0.2, 0.6)
    runs = {
        "grpo-uniform": {s: records(xs, ys + s / 100, 128) for s in range(3)},
        "grpo-twin": {s: records(xs, ys + s / 100, 128) for s in range(3)},  # uniform under another name
        "vineppo-uniform": {s: records(xs, ys, 800) for s in range(3)},
        "vineppo-learnability": {
            s: records(xs, ys + 0.02, 850, {"train/frac_zero_advantage": 0.4}) for s in range(3)
        },
    }
    summaries, budgets = analysis.summarise_cells(runs)
    twin = summaries["grpo-twin"]
    assert twin.vs_reference.mean == 0.0 and twin.auc_steps.mean == 0.0 and twin.auc_compute.mean == 0.0
    assert twin.to_target_steps.ratio == pytest.approx(1.0) and twin.to_target_compute.ratio == pytest.approx(
        1.0
    )
    # each algorithm's equal-compute budget is its own cheapest run's (not VinePPO at GRPO's ~1/6)
    assert budgets["grpo"] == [6400.0, 12800.0] and budgets["vineppo"] == [40000.0, 80000.0]
    assert summaries["vineppo-learnability"].auc_steps.mean == pytest.approx(0.02)
    assert summaries["vineppo-learnability"].shares["zero_advantage"] == pytest.approx([0.4] * 3)
    assert summaries["grpo-uniform"].vs_reference is None
    text = tables.cells_table(summaries, budgets)
    assert "grpo / twin" in text and "1.00x" in text and "(reference)" in text
    shares = tables.shares_table(summaries)
    assert "| vineppo / learnability | 3 | 40.0 ± 0.0 | 40.0 ± 0.0 | 40.0 ± 0.0 |" in shares
    # a filter trains on fewer groups than it attempts: the registered share is over the trained ones
    for recs in runs["grpo-twin"].values():
        for r in recs[1:]:
            r.update(
                {"curriculum/frac_all_solved_of_kept": 0.05, "curriculum/frac_none_solved_of_kept": 0.05}
            )
    trained = tables.shares_table(analysis.summarise_cells(runs)[0], trained=True)
    assert "| grpo / twin | 3 | 10.0 ± 0.0 | 10.0 ± 0.0 | 10.0 ± 0.0 |" in trained
    assert "zero-advantage share of trained groups (%)" in trained and "trained" not in shares


def test_compute_matched_uniform_counts_every_attempt_vine_rollouts_included():
    learn = {"refresh_every": 5, "num_candidates": 32, "probe_attempts": 8}
    probe = stats.probe_attempts_per_step(learn)
    assert probe == pytest.approx(51.2)
    # GRPO: 128 training + 51.2 probe attempts per step -> 22 questions x 8 (176 attempts)
    assert stats.compute_matched_questions(16, 8, probe) == 22
    # VinePPO, 5.3 rollout attempts per training attempt: each added question costs 8 x 6.3, so 17 questions
    # (856.8 attempts per step against learnability's 128 x 6.3 + 51.2 = 857.6), not 22 (1,108.8)
    n = stats.compute_matched_questions(16, 8, probe, rollout_cost=5.3)
    assert n == 17 and abs(n * 8 * 6.3 - (128 * 6.3 + probe)) <= 8 * 6.3 / 2
    xs, ys = linear(0.2, 0.6)
    recs = records(xs, ys, 800, {"compute/attempts_vine": 0})
    for r in recs[1:]:
        r["compute/attempts_vine"] = 672 * r["step"]
    assert stats.rollout_cost_per_attempt(recs) == pytest.approx(5.25)
    assert stats.cost_per_step(recs) == 800 and stats.cost_per_step(recs, "tokens") == 16000


def test_gates_void_the_result_and_holm_adjusts_the_primary_comparisons():
    primary = {
        "uniform": {s: 0.40 + s / 100 for s in range(8)},
        "uniform_cm": {s: 0.41 + s / 100 for s in range(8)},
        "learnability": {s: 0.43 + s / 100 + (0.01 if s % 2 else -0.01) for s in range(8)},
    }
    zero = {"uniform": {s: 0.60 for s in range(8)}, "learnability": {s: 0.40 for s in range(8)}}
    gates = analysis.validity_gates(primary, start=0.30, zero_share=zero)
    assert [g.passed for g in gates] == [True, True, True] and analysis.verdict(gates) == "VALID"
    comparisons = analysis.primary_comparisons(primary)
    raw = [c.paired.p for c in comparisons]
    assert comparisons[0].paired.mean == pytest.approx(0.03) and comparisons[1].paired.mean == pytest.approx(
        0.02
    )
    assert [c.p_holm for c in comparisons] == pytest.approx(
        [min(1, 2 * min(raw)), max(raw)] if raw[0] < raw[1] else [max(raw), min(1, 2 * min(raw))]
    )
    itself = analysis.primary_comparisons(primary, [("uniform", "uniform")])[0]
    assert itself.paired.mean == 0.0 and itself.p_holm == 1.0
    assert "VOID" not in tables.preregistered_table(comparisons, gates)
    assert [analysis.outcome(c) for c in comparisons] == ["wins", "wins"]  # +3 and +2 points, tight spread
    assert not analysis.needs_more_seeds(comparisons[1])
    wide = analysis.primary_comparisons(
        {"a": {0: 0.0, 1: 0.05, 2: -0.04}, "b": {0: 0.0, 1: 0.0, 2: 0.0}}, [("a", "b")]
    )[0]
    assert analysis.outcome(wide) == "no significant difference" and analysis.needs_more_seeds(wide)
    # uniform gains only 2 points: the gate fails and every comparison is reported VOID, not negative
    gates = analysis.validity_gates(primary, start=0.415, zero_share=zero)
    assert not gates[0].passed and analysis.verdict(gates).startswith("VOID")
    text = tables.preregistered_table(comparisons, gates)
    assert "VOID" in text and "FAIL" in text and "wins" not in text
    # learnability's zero-advantage share only 10 points lower: the third gate fails
    zero["learnability"] = {s: 0.50 for s in range(8)}
    assert not analysis.validity_gates(primary, start=0.30, zero_share=zero)[2].passed


def test_comparisons_plot_draws_one_row_per_comparison_with_two_or_more_seeds(tmp_path):
    pytest.importorskip("matplotlib")
    import struct

    two = analysis.primary_comparisons(
        {"a": {0: 0.5, 1: 0.6, 2: 0.55}, "u": {0: 0.5, 1: 0.55, 2: 0.5}}, [("a", "u")]
    )
    one = analysis.primary_comparisons({"b": {0: 0.5}, "u": {0: 0.5}}, [("b", "u")])
    png = tmp_path / "forest.png"
    link = tables.comparisons_plot({"primary": two, "secondary": two + one}, png, "t")
    assert link == "![forest](forest.png)\n"
    width, height = struct.unpack(">II", png.read_bytes()[16:24])  # the PNG header's size
    assert height == round((0.45 * 2 + 1.4) * 120)  # two rows: the one-seed comparison is left out
    assert tables.comparisons_plot({"secondary": one}, tmp_path / "none.png", "t") == ""
    assert not (tmp_path / "none.png").exists()


def test_training_shares_average_over_training_steps():
    xs, ys = linear(0.2, 0.6)
    recs = records(xs, ys, 128)
    recs[0]["train/frac_zero_advantage"] = 1.0  # a step-0 record is not a training step
    for i, r in enumerate(recs[1:]):  # the zero-advantage share grows from 0.5 to 0.95 over 10 steps
        r["train/frac_zero_advantage"] = 0.5 + 0.05 * i
    shares = analysis.training_shares(recs)
    assert shares["zero_advantage"] == pytest.approx(0.725) and (shares["p0"], shares["p1"]) == (0.4, 0.2)
    assert shares["zero_advantage_first"] == pytest.approx(0.525) and shares[
        "zero_advantage_last"
    ] == pytest.approx(0.925)


def test_a_filters_zero_advantage_share_is_read_over_the_groups_it_trained_on():
    # 4x candidates, most of them agreeing and discarded: the attempted share is high, the trained share low
    recs = [{"step": 0}] + [
        {
            "step": i,
            M.TRAIN_ZERO_ADVANTAGE: 0.9,
            "curriculum/frac_all_solved_of_kept": 0.05,
            "curriculum/frac_none_solved_of_kept": 0.05 * i,
        }
        for i in (1, 2)
    ]
    shares = analysis.training_shares(recs)
    assert shares["zero_advantage"] == pytest.approx(0.9)
    assert shares["zero_advantage_trained"] == pytest.approx(0.125)
    assert math.isnan(analysis.training_shares([{"step": 1}])["zero_advantage_trained"])


def test_shares_by_buffer_age_show_a_buffer_going_stale():
    # a buffer refreshed every 20 iterations whose picks are learned: the zero-advantage share grows with age
    recs = [{"step": 0, "curriculum/buffer_age": 0, M.TRAIN_ZERO_ADVANTAGE: 1.0}]
    for step in range(1, 41):
        age = (step - 1) % 20 + 1
        recs.append(
            {
                "step": step,
                "curriculum/buffer_age": age,
                M.TRAIN_ZERO_ADVANTAGE: 0.5 + 0.02 * age,
                M.TRAIN_NONE_SOLVED: 0.3,
                M.TRAIN_ALL_SOLVED: 0.2 + 0.02 * age,
                M.TRAIN_LEARNABILITY: 0.1,
            }
        )
    by_age = analysis.shares_by_buffer_age(recs, width=10)
    assert list(by_age) == [1, 11]  # the step-0 record and age 0 are not training under a buffer
    assert by_age[1]["zero_advantage"] == pytest.approx(0.5 + 0.02 * 5.5)
    assert by_age[11]["zero_advantage"] == pytest.approx(0.5 + 0.02 * 15.5)
    assert by_age[1]["p0"] == pytest.approx(0.3) and by_age[11]["learnability"] == pytest.approx(0.1)
    # a curriculum without a buffer logs age 0: nothing to read
    assert (
        analysis.shares_by_buffer_age(
            [{"step": s, "curriculum/buffer_age": 0, M.TRAIN_ZERO_ADVANTAGE: 0.8} for s in range(1, 5)]
        )
        == {}
    )
    table = tables.buffer_age_table({"a": by_age, "b": by_age}, width=10)
    assert "| 1-10 | 2 | 61.0 ± 0.0 |" in table and "| 11-20 | 2 | 81.0 ± 0.0 |" in table


def primary_grid(tmp_path, seeds, zero):
    """The three primary arms of a tiny GRPO grid over `seeds`, each run folder holding synthetic training
    records whose zero-advantage share is `zero[arm]`."""
    from research.experiments import grid

    base = grid.configs_from_argv(["--preset", "tiny"], ["grpo"])
    arms = {
        "grpo": [
            grid.Arm("uniform"),
            grid.Arm("uniform_cm", overrides={"questions_per_step": 10}),
            grid.Arm("learnability", "learnability"),
        ]
    }
    runs = grid.plan(base, arms, seeds, tmp_path)
    xs, ys = linear(0.2, 0.6)
    for run in runs:
        run.out.mkdir(parents=True)
        recs = records(xs, ys, 128, {"train/frac_zero_advantage": zero[run.arm]})
        (run.out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return runs


def test_the_preregistered_result_from_scores_and_run_folders(tmp_path):
    zero = {"uniform": 0.6, "uniform_cm": 0.6, "learnability": 0.4}
    runs = primary_grid(tmp_path, 8, zero)
    gain = {"uniform": 0.05, "uniform_cm": 0.06, "learnability": 0.08}
    scores = {"start": {"mean@k": 0.30, "pass@1": 0.25}}
    for run in runs:
        noise = 0.01 * ((run.seed * 7) % 5 - 2)  # the same seed-to-seed spread in every arm
        scores[run.name] = {"mean@k": 0.30 + gain[run.arm] + noise, "pass@1": 0.25}
    result = analysis.preregistered(scores, runs)
    assert result.verdict == "VALID" and result.start == 0.30
    (learn_vs_uniform, learn_vs_cm) = result.comparisons
    assert learn_vs_uniform.paired.mean == pytest.approx(0.03) and learn_vs_cm.paired.mean == pytest.approx(
        0.02
    )
    assert learn_vs_uniform.paired.n == 8 and learn_vs_uniform.p_holm == 0.0  # no spread in the differences
    strict = analysis.preregistered(scores, runs, min_gain=0.10)  # uniform gained 5 points: void at 10
    assert strict.verdict.startswith("VOID") and "VOID" in tables.preregistered_table(
        strict.comparisons, strict.gates
    )


def test_holm_across_metrics_treats_every_primary_comparison_as_one_family(tmp_path):
    runs = primary_grid(tmp_path, 6, {"uniform": 0.6, "uniform_cm": 0.6, "learnability": 0.4})
    held, pool = {"start": {"mean@k": 0.05}}, {"start": {"mean@k": 0.40}}
    for run in runs:
        noise = 0.01 * ((run.seed * 7) % 5 - 2) * (1 + (run.arm == "learnability") * (run.seed % 2))
        held[run.name] = {"mean@k": 0.05 + noise}  # held-out does not move: void by the gain gate
        pool[run.name] = {"mean@k": 0.46 + (0.02 if run.arm == "learnability" else 0.0) + noise}
    alone = {"held_out": analysis.preregistered(held, runs), "train_pool": analysis.preregistered(pool, runs)}
    joint = analysis.holm_across(alone)
    assert alone["held_out"].verdict.startswith("VOID") and alone["train_pool"].verdict == "VALID"
    raw = [c.paired.p for r in alone.values() for c in r.comparisons]
    assert len(raw) == 4 and all(0 < p < 1 for p in raw)
    expected = stats.holm({str(i): p for i, p in enumerate(raw)})
    assert [c.p_holm for r in joint.values() for c in r.comparisons] == pytest.approx(
        [expected[str(i)] for i in range(4)]
    )
    for name in alone:  # a larger family never adjusts a p-value down; the rest of the result is kept
        assert all(
            j.p_holm >= a.p_holm
            for j, a in zip(joint[name].comparisons, alone[name].comparisons, strict=True)
        )
        assert joint[name].gates == alone[name].gates and joint[name].primary == alone[name].primary

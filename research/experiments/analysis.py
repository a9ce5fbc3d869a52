"""From a grid's runs and re-evaluation scores to the numbers a results table reports: per-cell curves and
training shares, comparisons with the reference arm (paired by seed), the validity gates of the
pre-registered design and its primary comparisons with Holm-adjusted p-values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from agents.core import metrics as M
from curricula.statistics import ALL_SOLVED_OF_KEPT, BUFFER_AGE, NONE_SOLVED_OF_KEPT
from research.experiments import stats
from research.experiments.reevaluate import per_seed

#: what a run's training shares are read from: the share of a step's attempted questions with no GRPO signal
#: (every attempt the same reward), none solved (p = 0) and all solved (p = 1)
SHARE_KEYS = {"zero_advantage": M.TRAIN_ZERO_ADVANTAGE, "p0": M.TRAIN_NONE_SOLVED, "p1": M.TRAIN_ALL_SOLVED}


def trained_zero_advantage(record: Mapping[str, Any]) -> float | None:
    """The zero-advantage share of the groups a step trained on (kept), where a filter's share of the questions
    it attempted (`train/frac_zero_advantage`, discarded candidates included) is another quantity: with 0/1
    rewards a kept group has no signal when all its attempts solved or none did."""
    parts = [record.get(ALL_SOLVED_OF_KEPT), record.get(NONE_SOLVED_OF_KEPT)]
    return None if any(x is None for x in parts) else float(sum(parts))


def training_shares(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Each share's mean over the run's training steps (nan when never logged), and over the first and the
    last quarter of them (`zero_advantage_first`, `..._last`: does the share grow as the policy learns?);
    `zero_advantage_trained` over the trained groups only (`trained_zero_advantage`)."""
    out = {}
    readers = {name: (lambda r, key=key: r.get(key)) for name, key in SHARE_KEYS.items()}
    readers["zero_advantage_trained"] = trained_zero_advantage
    steps = [r for r in records if r.get("step", 0) > 0]
    for name, read in readers.items():
        values = [v for v in map(read, steps) if v is not None]
        out[name] = float(np.mean(values)) if values else math.nan
        quarter = max(1, len(values) // 4)
        out[f"{name}_first"] = float(np.mean(values[:quarter])) if values else math.nan
        out[f"{name}_last"] = float(np.mean(values[-quarter:])) if values else math.nan
    return out


def shares_by_buffer_age(
    records: Sequence[Mapping[str, Any]], width: int = 10
) -> dict[int, dict[str, float]]:
    """A buffer curriculum's training shares by the age of its buffer (iterations since the last refresh, in
    bins of `width`; key: the bin's first age): do the questions it picked go stale before the next refresh?
    Empty for a run that logs no buffer age (no buffer)."""
    rows: dict[int, dict[str, list[float]]] = {}
    for r in records:
        age = r.get(BUFFER_AGE)
        if r.get("step", 0) <= 0 or age is None or age < 1:  # curricula without a buffer log age 0
            continue
        first = (int(age) - 1) // width * width + 1
        for name, key in {**SHARE_KEYS, "learnability": M.TRAIN_LEARNABILITY}.items():
            if r.get(key) is not None:
                rows.setdefault(first, {}).setdefault(name, []).append(float(r[key]))
    return {age: {name: float(np.mean(v)) for name, v in by.items()} for age, by in sorted(rows.items())}


@dataclass
class CellSummary:
    """One cell's (algorithm x arm) training curves read against its reference arm, seed by seed."""

    seeds: int
    start: list[float]
    final: list[float]
    gain: stats.Paired  # final - step 0, same seed
    vs_reference: stats.Paired | None  # final - reference's final, same seed
    at_budget: dict[float, dict[int, float | None]]  # equal compute: held-out metric at each budget, by seed
    auc_steps: stats.Paired | None  # normalised area under the curve on the step axis, minus the reference's
    auc_compute: stats.Paired | None  # the same on the attempts axis, over the algorithm's common budget
    to_target_steps: stats.ToTarget | None
    to_target_compute: stats.ToTarget | None
    shares: dict[str, list[float]]  # training shares (zero_advantage, p0, p1), by seed
    reward: list[float]  # mean train reward of the last 5 steps
    attempts_per_step: list[float]
    tokens_per_step: list[float]
    extra: dict[str, Any] = field(default_factory=dict)


def summarise_cells(
    records: Mapping[str, Mapping[int, Sequence[Mapping[str, Any]]]],
    reference: str = "uniform",
    metric: str = M.EVAL_PASS1,
    fraction: float = 0.5,
    window: int = 3,
) -> tuple[dict[str, CellSummary], dict[str, list[float]]]:
    """`records[cell][seed]` (cells named `algo-arm`) to one summary per cell, each algorithm's cells read
    against `algo-<reference>`; also each algorithm's equal-compute budgets (its own cheapest run's compute,
    and half of it)."""
    budgets: dict[str, list[float]] = {}
    by_algo: dict[str, list[str]] = {}
    for cell in records:
        by_algo.setdefault(cell.split("-", 1)[0], []).append(cell)
    for algo, cells in by_algo.items():
        compute = {
            f"{c}/{s}": stats.curve(r, metric, "attempts") for c in cells for s, r in records[c].items()
        }
        budgets[algo] = stats.equal_compute_budgets(compute)
    out = {}
    for cell, by_seed in records.items():
        algo = cell.split("-", 1)[0]
        ref_cell = f"{algo}-{reference}"
        ref = records.get(ref_cell) if ref_cell != cell else None
        steps = {s: stats.curve(r, metric, "step") for s, r in by_seed.items()}
        comp = {s: stats.curve(r, metric, "attempts") for s, r in by_seed.items()}
        start = {s: float(c[1][0]) for s, c in steps.items() if c[1].size}
        final = {s: float(c[1][-1]) for s, c in steps.items() if c[1].size}
        ref_steps = {s: stats.curve(r, metric, "step") for s, r in ref.items()} if ref else None
        ref_comp = {s: stats.curve(r, metric, "attempts") for s, r in ref.items()} if ref else None
        ref_final = {s: float(c[1][-1]) for s, c in ref_steps.items() if c[1].size} if ref_steps else None
        algo_budget = budgets[algo][-1] if budgets[algo] else None
        shares = [training_shares(r) for r in by_seed.values()]
        out[cell] = CellSummary(
            seeds=len(by_seed),
            start=list(start.values()),
            final=list(final.values()),
            gain=stats.paired_difference(final, start),
            vs_reference=stats.paired_difference(final, ref_final) if ref_final is not None else None,
            at_budget={b: {s: stats.value_at(*c, b) for s, c in comp.items()} for b in budgets[algo]},
            auc_steps=stats.paired_auc(steps, ref_steps) if ref_steps else None,
            auc_compute=stats.paired_auc(comp, ref_comp, algo_budget) if ref_comp and algo_budget else None,
            to_target_steps=stats.steps_to_target(steps, ref_steps, fraction, window) if ref_steps else None,
            to_target_compute=(
                stats.steps_to_target(comp, ref_comp, fraction, window, algo_budget)
                if ref_comp and algo_budget
                else None
            ),
            shares={k: [s[k] for s in shares] for k in shares[0]} if shares else {},
            reward=[
                float(np.mean([x[M.TRAIN_REWARD] for x in r[-5:] if M.TRAIN_REWARD in x]))
                for r in by_seed.values()
            ],
            attempts_per_step=[stats.cost_per_step(r, "attempts") for r in by_seed.values()],
            tokens_per_step=[
                stats.cost_per_step(r, "tokens")
                if any(x.get(stats.X_AXES["tokens"]) for x in r)
                else math.nan
                for r in by_seed.values()
            ],
        )
    return out, budgets


# -- the pre-registered design: gates and primary comparisons --------------------------------------------------


@dataclass
class Gate:
    """A validity condition fixed before the runs: when one fails, the comparison is void (not negative)."""

    name: str
    value: float
    threshold: float
    passed: bool

    def describe(self) -> str:
        return f"{self.name}: {100 * self.value:.1f} (needs {self.threshold_text})"

    @property
    def threshold_text(self) -> str:
        return f">= {100 * self.threshold:.4g}"


def validity_gates(
    primary: Mapping[str, Mapping[int, float]],
    start: float,
    zero_share: Mapping[str, Mapping[int, float]],
    uniform: str = "uniform",
    learnability: str = "learnability",
    min_gain: float = 0.03,
    min_zero_share: float = 0.50,
    min_share_drop: float = 0.15,
) -> list[Gate]:
    """The design's validity gates, from the results: uniform gains at least `min_gain` on the primary metric
    (mean over seeds of its final minus the start's, on the common set); uniform's zero-advantage share over
    training stays at or above `min_zero_share` (mean over seeds); learnability's is at least `min_share_drop`
    lower than uniform's (paired by seed). A gate whose inputs are missing fails."""
    uni = [v for v in primary.get(uniform, {}).values() if math.isfinite(v)]
    gain = float(np.mean(uni)) - start if uni else math.nan
    uni_zero = [v for v in zero_share.get(uniform, {}).values() if math.isfinite(v)]
    zero = float(np.mean(uni_zero)) if uni_zero else math.nan
    drop = stats.paired_difference(zero_share.get(uniform, {}), zero_share.get(learnability, {})).mean
    checks = [
        ("uniform's gain on the primary metric (points)", gain, min_gain),
        ("uniform's zero-advantage share over training (%)", zero, min_zero_share),
        ("learnability's zero-advantage share below uniform's (points)", drop, min_share_drop),
    ]
    return [
        Gate(name, value, threshold, bool(math.isfinite(value) and value >= threshold - 1e-12))
        for name, value, threshold in checks
    ]


@dataclass
class Comparison:
    """One primary comparison: the paired difference, its Holm-adjusted p-value across the family, and the
    smallest difference these seeds could detect (80% power at 5%, from the observed spread)."""

    arm: str
    reference: str
    paired: stats.Paired
    p_holm: float

    @property
    def detectable(self) -> float:
        diffs = list(self.paired.diffs.values())
        if len(diffs) < 2:
            return math.inf
        return stats.min_detectable_difference(len(diffs), float(np.std(diffs, ddof=1)))


def primary_comparisons(
    primary: Mapping[str, Mapping[int, float]],
    pairs: Sequence[tuple[str, str]] = (("learnability", "uniform"), ("learnability", "uniform_cm")),
    level: float = 0.95,
) -> list[Comparison]:
    """Each (arm, reference) pair's paired difference on the primary metric, p-values Holm-adjusted across
    the pairs (the family of the pre-registered primary tests)."""
    paired = {
        f"{a} vs {b}": stats.paired_difference(primary.get(a, {}), primary.get(b, {}), level)
        for a, b in pairs
    }
    adjusted = stats.holm({k: p.p for k, p in paired.items()})
    return [Comparison(a, b, paired[f"{a} vs {b}"], adjusted[f"{a} vs {b}"]) for a, b in pairs]


def needs_more_seeds(comparison: Comparison, max_half_width: float = 0.015) -> bool:
    """The design's one seed extension: more seeds when the interval contains zero and is wider than
    +-`max_half_width` (+-1.5 points)."""
    p = comparison.paired
    return (
        bool(p.low <= 0 <= p.high and p.half_width > max_half_width) if math.isfinite(p.half_width) else True
    )


def outcome(comparison: Comparison, alpha: float = 0.05) -> str:
    """`wins` when the Holm-adjusted p is below `alpha` and the mean is positive, `loses` when below and
    negative, else `no significant difference`."""
    if not (math.isfinite(comparison.p_holm) and comparison.p_holm < alpha):
        return "no significant difference"
    return "wins" if comparison.paired.mean > 0 else "loses"


def verdict(gates: Sequence[Gate]) -> str:
    """VALID when every gate passed, else VOID naming the failed gates."""
    failed = [g.name for g in gates if not g.passed]
    return "VALID" if not failed else "VOID (failed: " + "; ".join(failed) + ")"


@dataclass
class Preregistered:
    """The pre-registered test's numbers for one algorithm: the primary metric per arm and seed, the start's,
    the training zero-advantage share per arm and seed, the gates and the primary comparisons."""

    primary: dict[str, dict[int, float]]
    start: float
    zero_share: dict[str, dict[int, float]]
    gates: list[Gate]
    comparisons: list[Comparison]

    @property
    def verdict(self) -> str:
        return verdict(self.gates)


def preregistered(
    scores: Mapping[str, Mapping[str, Any]],
    runs: Sequence[Any],
    algo: str = "grpo",
    metric: str = "mean@k",
    start: str = "start",
    pairs: Sequence[tuple[str, str]] = (("learnability", "uniform"), ("learnability", "uniform_cm")),
    zero_share: str = "zero_advantage",
    **gate_thresholds: float,
) -> Preregistered:
    """From the common held-out set's scores (research.experiments.reevaluate: `start` and one per run name) and
    the runs (research.experiments.grid.Run) of `algo`: the gates and the Holm-adjusted primary comparisons on
    `metric` (mean@k: the accuracy of k answers sampled per question). `zero_share` names the training share
    the gates read (`training_shares`: the mean over training, or `zero_advantage_last`, its last quarter)."""
    mine = [r for r in runs if r.algo == algo]
    primary = {cell.split("-", 1)[1]: v for cell, v in per_seed(scores, mine, metric).items()}
    zero: dict[str, dict[int, float]] = {}
    for run in mine:
        zero.setdefault(run.arm, {})[run.seed] = training_shares(run.records())[zero_share]
    start_value = float(scores[start][metric])
    gates = validity_gates(primary, start_value, zero, **gate_thresholds)
    return Preregistered(primary, start_value, zero, gates, primary_comparisons(primary, pairs))


def holm_across(results: Mapping[str, Preregistered]) -> dict[str, Preregistered]:
    """The same results with Holm's correction taken over the primary comparisons of every metric together,
    for a design that registers several primary metrics as one family (docs/preregistration.md, amendment 1:
    held-out and training-pool accuracy, two comparisons each, Holm over the four)."""
    key = {
        (name, i): f"{name}: {c.arm} vs {c.reference}"
        for name, r in results.items()
        for i, c in enumerate(r.comparisons)
    }
    adjusted = stats.holm(
        {key[(name, i)]: c.paired.p for name, r in results.items() for i, c in enumerate(r.comparisons)}
    )
    return {
        name: replace(
            r, comparisons=[replace(c, p_holm=adjusted[key[(name, i)]]) for i, c in enumerate(r.comparisons)]
        )
        for name, r in results.items()
    }

"""Statistics of a grid of seeded runs: paired differences with t intervals, Holm's correction, power, and
robust readings of held-out curves (area under the curve, steps to a target on a smoothed curve).

Runs of two arms with the same seed share the initial policy, the held-out subset they are scored on during
training and the sampling seed, so every comparison here is paired by seed: the seed-to-seed spread of the
subset cancels. The t distribution is computed here (regularised incomplete beta function, as Numerical
Recipes), so no scipy is needed; tests check it against tabulated quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# -- the t distribution ---------------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))  # P(T > |t|)
    return 1.0 - tail if t >= 0 else tail


def t_quantile(q: float, df: float) -> float:
    """The t value below which a share `q` of the distribution lies (bisection on `t_cdf`, to 1e-12)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile must lie in (0, 1), got {q}")
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


# -- intervals, paired differences, Holm, power ------------------------------------------------------------


def _finite(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)


def mean_ci(values: Sequence[float | None], level: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its t interval (nan for the half-width with one value, both with none)."""
    v = _finite(values)
    if v.size == 0:
        return math.nan, math.nan
    if v.size == 1:
        return float(v[0]), math.nan
    return float(v.mean()), float(t_quantile(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))


@dataclass
class Paired:
    """`a - b` over the seeds both have: mean, t interval, two-sided p-value of "no difference"."""

    n: int
    mean: float
    half_width: float
    p: float
    diffs: dict[Any, float] = field(default_factory=dict)

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


def paired_test(diffs: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean, interval half-width and two-sided one-sample t-test p-value of paired differences."""
    d = _finite(diffs)
    n = d.size
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(d.mean())
    if n == 1:
        return mean, math.nan, math.nan
    sd = float(d.std(ddof=1))
    if sd == 0.0:  # every seed moved by the same amount: no spread, certainty either way
        return mean, 0.0, 1.0 if mean == 0.0 else 0.0
    se = sd / math.sqrt(n)
    p = 2.0 * (1.0 - t_cdf(abs(mean) / se, n - 1))
    return mean, float(t_quantile(0.5 + level / 2, n - 1) * se), float(min(1.0, p))


def paired_difference(
    a: Mapping[Any, float | None], b: Mapping[Any, float | None], level: float = 0.95
) -> Paired:
    """`a[seed] - b[seed]` over the seeds both hold a finite value for, with its t interval and p-value."""
    diffs = {
        k: float(a[k]) - float(b[k])
        for k in sorted(a)
        if k in b and a[k] is not None and b[k] is not None and math.isfinite(a[k]) and math.isfinite(b[k])
    }
    mean, half, p = paired_test(list(diffs.values()), level)
    return Paired(len(diffs), mean, half, p, diffs)


def holm(pvalues: Mapping[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); nan stays nan and is not counted."""
    finite = sorted(((p, k) for k, p in pvalues.items() if p is not None and math.isfinite(p)))
    m = len(finite)
    out = {k: math.nan for k in pvalues}
    running = 0.0
    for i, (p, k) in enumerate(finite):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = running
    return out


def min_detectable_difference(n: int, sd: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true paired difference a two-sided paired t-test at `alpha` detects with probability
    `power` from `n` seeds whose differences spread with standard deviation `sd`:
    (t_{1-alpha/2, n-1} + t_{power, n-1}) sd / sqrt(n)."""
    if n < 2:
        return math.inf
    return (t_quantile(1 - alpha / 2, n - 1) + t_quantile(power, n - 1)) * sd / math.sqrt(n)


# -- curves ---------------------------------------------------------------------------------------------------

#: the x axes of a held-out curve: training steps, or attempts / tokens generated to learn (compute)
X_AXES = {"step": "step", "attempts": "compute/attempts_total", "tokens": "compute/generated_tokens"}


def curve(
    records: Sequence[Mapping[str, Any]], metric: str = "eval/pass@1", x: str = "step"
) -> tuple[np.ndarray, np.ndarray]:
    """The (x, metric) points of a run's records where `metric` was logged; the step-0 record (logged before
    any compute counter) sits at x = 0."""
    key = X_AXES.get(x, x)
    pts = [
        (0.0 if r.get("step", 0) == 0 else float(r.get(key, math.nan)), float(r[metric]))
        for r in records
        if r.get(metric) is not None
    ]
    if not pts:
        return np.zeros(0), np.zeros(0)
    xs, ys = (np.asarray(v, dtype=float) for v in zip(*pts, strict=True))
    return xs, ys


def value_at(xs: np.ndarray, ys: np.ndarray, x: float) -> float | None:
    """The curve linearly interpolated at `x` (None when it does not get there)."""
    if xs.size == 0 or xs[-1] < x:
        return None
    return float(np.interp(x, xs, ys))


def area_under_curve(xs: np.ndarray, ys: np.ndarray, x_max: float) -> float | None:
    """The curve's mean height over [0, x_max] (trapezoids, linear between evaluations): the area normalised
    by the axis, in the metric's units. None when the curve ends before x_max."""
    if xs.size == 0 or xs[-1] < x_max or x_max <= 0:
        return None
    inside = xs < x_max
    grid = np.concatenate([xs[inside], [x_max]])
    heights = np.interp(grid, xs, ys)
    return float(np.sum((grid[1:] - grid[:-1]) * (heights[1:] + heights[:-1]) / 2) / x_max)


def smooth(ys: np.ndarray, window: int = 3) -> np.ndarray:
    """Centred moving average over `window` evaluations (fewer at the ends): a single noisy evaluation no
    longer decides when a curve "reaches" a level."""
    ys = np.asarray(ys, dtype=float)
    half = window // 2
    return np.array([ys[max(0, i - half) : i + half + 1].mean() for i in range(ys.size)])


def first_reach(xs: np.ndarray, ys: np.ndarray, target: float) -> float | None:
    """First x at which the curve reaches `target`, interpolated; 0 when it starts there; None when never."""
    if ys.size == 0:
        return None
    if ys[0] >= target:
        return float(xs[0])
    for i in range(1, ys.size):
        if ys[i] >= target:
            return float(xs[i - 1] + (xs[i] - xs[i - 1]) * (target - ys[i - 1]) / (ys[i] - ys[i - 1]))
    return None


Curves = Mapping[Any, tuple[np.ndarray, np.ndarray]]


def common_horizon(*groups: Curves) -> float:
    """The largest x every curve of `groups` reaches: the common axis of an area or a budget comparison."""
    ends = [float(xs[-1]) for g in groups for xs, _ in g.values() if xs.size]
    return min(ends) if ends else math.nan


def paired_auc(arm: Curves, ref: Curves, x_max: float | None = None, level: float = 0.95) -> Paired:
    """Paired difference (arm - ref) of the normalised area under the held-out curve on [0, x_max] (default:
    the common horizon of both): how much higher the arm's curve sat on average over training."""
    x_max = common_horizon(arm, ref) if x_max is None else x_max
    a = {s: area_under_curve(*c, x_max) for s, c in arm.items()}
    b = {s: area_under_curve(*c, x_max) for s, c in ref.items()}
    return paired_difference(a, b, level)


@dataclass
class ToTarget:
    """Steps (or compute) to a target on smoothed curves, every paired seed counted: a seed that never reaches
    the target counts at the horizon (censored, so the speed-up is if anything understated)."""

    ratio: (
        float  # mean over seeds of ref's x / mean over seeds of arm's x: > 1 means the arm got there sooner
    )
    difference: Paired  # ref's x - arm's x per seed
    reached_arm: int
    reached_ref: int
    targets: dict[Any, float]


def steps_to_target(
    arm: Curves,
    ref: Curves,
    fraction: float = 0.5,
    window: int = 3,
    horizon: float | None = None,
    level: float = 0.95,
) -> ToTarget:
    """Per seed, the target is `fraction` of the way from the start (both runs of a seed share it) to the
    lower of the two smoothed finals, so both runs can reach it (to the higher one when the other run did not
    learn at all); x to reach it on each smoothed curve, a run that never does counted at the horizon."""
    horizon = common_horizon(arm, ref) if horizon is None else horizon
    xa, xr, targets = {}, {}, {}
    reached_a = reached_r = informative = 0
    for seed in sorted(set(arm) & set(ref)):
        (ax, ay), (rx, ry) = arm[seed], ref[seed]
        if ay.size == 0 or ry.size == 0:
            continue
        ax, ay = ax[ax <= horizon], ay[ax <= horizon]
        rx, ry = rx[rx <= horizon], ry[rx <= horizon]
        start = (ay[0] + ry[0]) / 2  # one seed: one initial policy on one subset
        sa, sr = smooth(ay, window), smooth(ry, window)
        sa[0] = sr[0] = start  # the start is measured, not smoothed into the first update's result
        low, high = sorted((sa[-1], sr[-1]))
        # below both finals when both learned; when one did not, the other's (it is then counted at the horizon)
        gap = low - start if low > start else high - start
        if gap <= 0:  # neither learned: no target to reach, both counted at the horizon
            a = r = None
            target = start
        else:
            informative += 1
            target = start + fraction * gap
            a, r = first_reach(ax, sa, target), first_reach(rx, sr, target)
        targets[seed] = float(target)
        reached_a += a is not None
        reached_r += r is not None
        xa[seed] = horizon if a is None else a
        xr[seed] = horizon if r is None else r
    mean_a = float(np.mean(list(xa.values()))) if xa else math.nan
    mean_r = float(np.mean(list(xr.values()))) if xr else math.nan
    # no seed where either run learned: no target, no ratio (not a 1.0x)
    ratio = mean_r / mean_a if informative and mean_a > 0 else math.nan
    return ToTarget(ratio, paired_difference(xr, xa, level), reached_a, reached_r, targets)


def equal_compute_budgets(curves: Curves) -> list[float]:
    """The equal-compute reading points of one algorithm's runs: half and all of the budget its cheapest run
    reached (each algorithm its own: VinePPO's rollouts make its runs far costlier than GRPO's)."""
    end = common_horizon(curves)
    return [float(math.floor(end / 2)), float(end)] if math.isfinite(end) else []


# -- compute matching -----------------------------------------------------------------------------------------


def cost_per_step(records: Sequence[Mapping[str, Any]], unit: str = "attempts") -> float:
    """What a run generated per training step to learn (`attempts`: training + probe + VinePPO rollout
    attempts; `tokens`: the tokens of all of them), from its last logged record."""
    key = X_AXES[unit]
    last = [r for r in records if r.get(key) is not None and r.get("step", 0) > 0]
    if not last:
        raise ValueError(f"no {key} logged after step 0: the run has not trained")
    return float(last[-1][key]) / float(last[-1]["step"])


def rollout_cost_per_attempt(records: Sequence[Mapping[str, Any]]) -> float:
    """Attempts an algorithm generates per training attempt on top of it (VinePPO's Monte-Carlo rollouts;
    0 for GRPO and PPO), measured from a run's compute counters."""
    last = [r for r in records if r.get("compute/attempts_train")]
    if not last:
        raise ValueError("no compute/attempts_train logged: the run has not trained")
    return float(last[-1].get("compute/attempts_vine", 0) or 0) / float(last[-1]["compute/attempts_train"])


def probe_attempts_per_step(options: Mapping[str, Any]) -> float:
    """Learnability's probe attempts per training step: N candidates x L attempts every T steps."""
    return options["num_candidates"] * options["probe_attempts"] / options["refresh_every"]


def compute_matched_questions(
    questions_per_step: int, attempts_per_question: int, extra_per_step: float, rollout_cost: float = 0.0
) -> int:
    """Questions per step of the compute-matched uniform baseline: as many total attempts per step as an arm
    that spends `extra_per_step` attempts (probes) on top of `questions_per_step` x G training attempts.
    Every uniform question costs G (1 + rollout_cost) attempts: with VinePPO each added question also gets
    its rollouts, so matching on training attempts alone would overspend (1,148 against 859 per step)."""
    per_question = attempts_per_question * (1.0 + rollout_cost)
    return max(1, round(questions_per_step + extra_per_step / per_question))

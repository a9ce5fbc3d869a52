"""Simulated learners under each curriculum (research.simulation): what share of the attempts each one
spends training on questions the learner can learn from, and how fast pool accuracy rises, at equal compute;
and, with --regimes, where in (pool size, run length, batch) learnability can beat compute-matched uniform.

    python scripts/simulate_curricula.py                   # prints the table (~1-2 minutes on 2 cores)
    python scripts/simulate_curricula.py --write           # also writes docs/curricula_simulation.png and the
                                                           # table in docs/curricula.md
    python scripts/simulate_curricula.py --seeds 2 --attempts 100000 --out /tmp/sim.png
    python scripts/simulate_curricula.py --regimes         # uniform, compute-matched uniform and learnability
                                                           # (recommended buffer, scaled) per regime, then a
                                                           # row per question selector in one regime
    python scripts/simulate_curricula.py --regimes --regime 640 200 16 --start 0.38 0.19 0.43
                                                           # one regime, the learner started at a measured
                                                           # distribution (p = 1, between, p = 0)
    python scripts/simulate_curricula.py --lag             # the learnable share of trained groups when reports
                                                           # come 0, 1, 4 requests late (asynchronous rollouts)
    python scripts/simulate_curricula.py --regimes --regime 640 200 16 --seeds 8 \
        --start-json runs/digits/start_all.json --levels 3 4 5 6 7 8 9 --fit 21.05 6.9 --fit-midpoint 100 4.45
                                                           # the registered design's arms on a learner started
                                                           # at each question's measured p, its rates fitted so
                                                           # that uniform gains what uniform measured (points)

The learner and its assumptions are in research/simulation.py. Compute: every curriculum gets the same number
of attempts (training attempts, probe attempts and discarded filter candidates all count). Reported per run:
the share of trained groups whose question was learnable (0 < p < 1) when it was picked, that share per
generated attempt (attempts that went into learnable trained groups / all attempts), and pool accuracy (mean
p over the pool).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # research/ is not installed

from agents.cli.args import exit_on_user_error  # noqa: E402
from mathenv.errors import UserError  # noqa: E402
from research.comparisons import compare_design, compare_regime, compare_selectors, design_arms  # noqa: E402
from research.simulation import DEFAULT_START, MeasuredStart, run  # noqa: E402
from research.simulation_async import learnable_share_under_lag  # noqa: E402
from research.simulation_fit import DriftTarget, fit_drift  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
RUNS = [  # (label, curriculum, options)
    ("uniform", "uniform", {}),
    ("learnability (recommended)", "learnability", {}),
    ("learnability (fast)", "learnability", {"preset": "fast"}),
    ("learnability (recommended, trains on probes)", "learnability", {"train_on_probes": True}),
    ("learnability_filter", "learnability_filter", {}),
    ("prioritized (PLR defaults)", "prioritized", {}),
    ("prioritized (temperature 1)", "prioritized", {"temperature": 1.0}),
    ("easy_to_hard", "easy_to_hard", {"ramp_iterations": 300}),
    ("zero_variance_filter", "zero_variance_filter", {}),
    ("posterior", "posterior", {}),
    ("greso", "greso", {}),
    ("speed", "speed", {}),
    ("pass_rate_band", "pass_rate_band", {}),
    ("adarft", "adarft", {}),
    ("mopps", "mopps", {}),
]
#: the regime of the per-selector table of --regimes: (pool, steps, N_l), 10 epochs of a fixed pool
SELECTOR_REGIME = (1024, 320, 32)
#: (pool, steps, questions per step N_l) for --regimes: the paper's GSM8K run, the earlier testbed grid, and
#: fixed pools revisited for 5-10 epochs at N_l = 16 (what two CPU cores can afford)
REGIMES = [
    (7473, 650, 64),
    (20_000, 120, 16),
    (400, 200, 16),
    (512, 160, 16),
    (512, 320, 16),
    (640, 200, 16),
    (768, 240, 16),
    (1024, 320, 16),
    (1024, 160, 32),
]


def regimes(
    seeds: int,
    regime_list: list[tuple[int, int, int]] = REGIMES,
    start: tuple[float, float, float] = DEFAULT_START,
) -> str:
    """The regime table: final gains in points of pool (and held-out) accuracy, paired over seeds; `start` is
    the learner's shares of always / sometimes / never solved questions at the start."""
    lines = [
        "| pool | steps x N_l | epochs | uniform gain (pool) | zero-adv. uniform / learnability | "
        "learnability - uniform | learnability - compute-matched uniform (pool) | same, held-out |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, steps, nl in regime_list:
        r = compare_regime(n, steps, nl, seeds=seeds, learner={"start": start})
        lu, lc = r["learnability-uniform"], r["learnability-uniform_cm"]
        lines.append(
            f"| {n:,} | {steps} x {nl} | {steps * nl / n:.1f} | +{r['uniform']['pool']:.1f} | "
            f"{100 * r['uniform']['zero_advantage']:.0f}% / {100 * r['learnability']['zero_advantage']:.0f}% | "
            f"{lu['pool']:+.2f} +- {lu['pool_se']:.2f} | {lc['pool']:+.2f} +- {lc['pool_se']:.2f} | "
            f"{lc['heldout']:+.2f} +- {lc['heldout_se']:.2f} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def selectors(seeds: int, regime: tuple[int, int, int], start: tuple[float, float, float]) -> str:
    """A row per question selector in one regime: its gain against uniform at equal batches, and against
    uniform given the attempts the selector really generated (compute-matched)."""
    n, steps, nl = regime
    lines = [
        f"Selectors at pool {n:,}, {steps} steps x N_l = {nl}:",
        "",
        "| selector | attempts per step (uniform: "
        f"{nl * 8}) | zero-adv. trained | gain (pool) | - uniform | - compute-matched uniform (pool) | "
        "same, held-out |",
        "|---|---|---|---|---|---|---|",
    ]
    with warnings.catch_warnings():  # the filters' short batches at their caps: part of what is measured
        warnings.simplefilter("ignore", UserWarning)
        results = compare_selectors(n, steps, nl, seeds=seeds, learner={"start": start})
    for label, r in results.items():
        lines.append(
            f"| {label} | {r['attempts_per_step']:,.0f} | {100 * r['zero_advantage']:.0f}% | "
            f"+{r['pool']:.1f} | {r['pool-uniform']:+.2f} +- {r['pool-uniform_se']:.2f} | "
            f"{r['pool-uniform_cm']:+.2f} +- {r['pool-uniform_cm_se']:.2f} (N_l = {r['matched_batch']:.0f}) | "
            f"{r['heldout-uniform_cm']:+.2f} +- {r['heldout-uniform_cm_se']:.2f} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def design(
    start: MeasuredStart,
    regime: tuple[int, int, int],
    G: int,
    seeds: int,
    target: DriftTarget | None,
    fit_seeds: int,
) -> str:
    """The registered design's arms (research.comparisons.design_arms) on a learner started at `start`, with
    the design's learning-rate schedule (agents/presets.py DIGITS, agents.trainer.lr_factor) and, given a
    `target`, the rates fitted so that the uniform arm gains what the measured uniform run gained."""
    from functools import partial

    from start_distribution import BINS, bin_shares

    from agents.core.config import TrainConfig
    from agents.presets import DIGITS
    from agents.trainer import lr_factor

    n, steps, nl = regime
    config = TrainConfig(lr_schedule=DIGITS["lr_schedule"], warmup_ratio=DIGITS["warmup_ratio"])
    learner: dict = {"start": start, "schedule": partial(lr_factor, config, total=steps)}
    levels = sorted(set(start.levels.tolist()))
    shares = ", ".join(f"{100 * v:.1f}% at {b}" for b, v in zip(BINS, bin_shares(start.p), strict=True))
    pool = "each at its measured p" if n == start.p.size else "drawn from them with the same per-level mix"
    lines = [
        f"Start: {start.source}, {start.p.size} questions of levels {', '.join(map(str, levels))} (mean p "
        f"{100 * start.p.mean():.1f}%: {shares}); the pool's {n} questions {pool}; 2,000 held-out questions "
        f"drawn from them (same per-level mix), one skill per level. Learning rates follow the design's "
        f"schedule ({config.lr_schedule}, warmup {config.warmup_ratio:g} of {steps} iterations).",
        "",
    ]
    if target is None:
        lines += ["Rates: the learner's defaults, not fitted (give --fit).", ""]
    else:
        started = time.perf_counter()
        fit = fit_drift(target, n=n, steps=steps, batch_size=nl, G=G, seeds=fit_seeds, learner=learner)
        learner.update(fit.rates)
        measured = {"pool": target.pool, "heldout": target.heldout}
        if target.midpoint:
            measured[f"heldout@{target.midpoint[0]}"] = target.midpoint[1]
        if target.zero_advantage is not None:
            measured["zero_advantage"] = 100 * target.zero_advantage
        said = "; ".join(
            f"zero-advantage share {100 * fit.predicted[k]:.1f}% +- {100 * fit.spread[k]:.1f} (measured {v:.1f}%)"
            if k == "zero_advantage"
            else f"{k} {fit.predicted[k]:+.2f} +- {fit.spread[k]:.2f} (measured {v:+.2f})"
            for k, v in measured.items()
        )
        lines += [
            f"Fitted drift (research.simulation_fit.fit_drift: uniform, seeds 0-{fit_seeds - 1}, {fit.runs} runs, "
            f"{time.perf_counter() - started:.0f} s): lr_question {fit.rates['lr_question']:.4g}, lr_skill "
            f"{fit.rates['lr_skill']:.4g}, lr_interference {fit.rates['lr_interference']:.4g} (held at 0: "
            f"these targets do not tell interference from more transfer). Uniform, predicted (mean +- sd over "
            f"the fit's seeds) against measured, gains in points: {said}.",
            "",
        ]
    with warnings.catch_warnings():  # the filters' short batches at their caps: part of what is measured
        warnings.simplefilter("ignore", UserWarning)
        rows = compare_design(design_arms(n, nl, G), n, steps, G=G, seeds=seeds, learner=learner)
    lines += [
        f"Predicted for the design (pool {n:,}, {steps} iterations x {nl} questions x G = {G}), {seeds} paired "
        "seeds: mean +- standard deviation over seeds; differences +- their standard error. uniform_cm is "
        "matched to learnability's attempts; the arms that screen or filter (learnability_filter, greso, "
        "speed, pass_rate_band) attempt more than they train on (attempts per step): compare those at equal "
        "attempts with `--regimes --regime ...` without --start-json (compare_selectors).",
        "",
        "| arm | attempts per step | held-out gain (points) | pool gain (points) | zero-advantage share of "
        "trained groups (%) | held-out - uniform | held-out - uniform_cm |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['attempts_per_step']:,.0f} | {r['heldout']:+.2f} +- {r['heldout_sd']:.2f} | "
            f"{r['pool']:+.2f} +- {r['pool_sd']:.2f} | {100 * r['zero_advantage']:.1f} +- "
            f"{100 * r['zero_advantage_sd']:.1f} | {r['heldout-uniform']:+.2f} +- {r['heldout-uniform_se']:.2f} | "
            f"{r['heldout-uniform_cm']:+.2f} +- {r['heldout-uniform_cm_se']:.2f} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def lags(seeds: int, pool: int) -> str:
    """The learnable share of trained groups per curriculum under reports 0, 1 and 4 requests late (out of order,
    5% of groups evicted unread when late): research.simulation_async.AsyncLoop."""
    lines = [
        "| curriculum | lag 0 (sync) | lag 1 | lag 4 | lag 4 - lag 0 (points) |",
        "|---|---|---|---|---|",
    ]
    for label, name, options in RUNS:
        if "trains on probes" in label or "temperature" in label:
            continue
        opts = dict(options, **({"ramp_iterations": 100} if name == "easy_to_hard" else {}))
        if name == "learnability":
            opts.setdefault("preset", "recommended")
        r = learnable_share_under_lag(name, n=pool, iterations=400, seeds=seeds, batch_size=32, **opts)
        lines.append(
            f"| {label} | {100 * r[0]:.1f}% | {100 * r[1]:.1f}% | {100 * r[4]:.1f}% | "
            f"{100 * (r[4] - r[0]):+.1f} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pool", type=int, default=4000, help="questions in the pool")
    ap.add_argument("--attempts", type=int, default=400_000, help="attempt budget per run (probes included)")
    ap.add_argument("--group", type=int, default=8, help="G: attempts per question in a training batch")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument(
        "--out", default=None, help="save the figure here (with --write: docs/curricula_simulation.png)"
    )
    ap.add_argument(
        "--write",
        action="store_true",
        help="write the figure and the table into docs/ (docs/curricula.md's simulation section)",
    )
    ap.add_argument(
        "--regimes",
        action="store_true",
        help="instead: uniform, compute-matched uniform and learnability (recommended buffer scaled to "
        "N_l) in each regime of REGIMES, G = 8, --seeds paired seeds (+- is the standard error)",
    )
    ap.add_argument(
        "--regime",
        type=int,
        nargs=3,
        metavar=("POOL", "STEPS", "N_L"),
        default=None,
        help="with --regimes: this one regime instead of the list",
    )
    ap.add_argument(
        "--start",
        type=float,
        nargs=3,
        metavar=("P1", "MID", "P0"),
        default=DEFAULT_START,
        help="with --regimes: the learner's shares at p = 1, 0 < p < 1 and p = 0 at the start (a measured "
        "start distribution, e.g. scripts/start_distribution.py's)",
    )
    ap.add_argument(
        "--start-json",
        default=None,
        metavar="FILE",
        help="with --regimes: instead of --start, start each pool question at the p measured by "
        "scripts/start_distribution.py --json FILE, and print the registered design's arms (research."
        "comparisons.design_arms) in --regime (default: agents/presets.py DIGITS, 640 200 16)",
    )
    ap.add_argument(
        "--levels",
        type=int,
        nargs="+",
        default=None,
        help="with --start-json: only the questions of these levels (the design's pool: 3 4 5 6 7 8 9); "
        "default: every question in the file",
    )
    ap.add_argument(
        "--fit",
        type=float,
        nargs=2,
        metavar=("POOL_GAIN", "HELDOUT_GAIN"),
        default=None,
        help="with --start-json: fit the learner's rates so that uniform gains these, in POINTS of accuracy "
        "(21.05 for a pool going 38.7%% -> 59.75%%, not 0.21), over the whole run",
    )
    ap.add_argument(
        "--fit-midpoint",
        type=float,
        nargs=2,
        metavar=("ITERATION", "HELDOUT_GAIN"),
        default=None,
        help="with --fit: also the held-out gain in POINTS by this iteration (a run's in-training evaluation)",
    )
    ap.add_argument(
        "--fit-zero-advantage",
        type=float,
        default=None,
        metavar="PERCENT",
        help="with --fit: also uniform's zero-advantage share of trained groups over the run, in PERCENT (66)",
    )
    ap.add_argument("--fit-seeds", type=int, default=3, help="with --fit: seeds per candidate of the fit")
    ap.add_argument(
        "--lag",
        action="store_true",
        help="instead: the learnable share of trained groups with reports 0, 1 and 4 requests late "
        "(400 requests of 32 questions x G=8, --pool questions, --seeds seeds)",
    )
    args = ap.parse_args()
    if abs(sum(args.start) - 1) > 1e-6 or min(args.start) < 0:
        raise UserError(
            f"--start takes three shares (p = 1, between, p = 0) that sum to 1, got "
            f"{' '.join(map(str, args.start))}"
        )
    start, target = checked_design(args)
    if args.lag or args.regimes or start is not None:
        started = time.perf_counter()
        if start is not None:
            regime = tuple(args.regime) if args.regime else design_regime()
            name, table = (
                "design-simulation",
                design(start, regime, args.group, args.seeds, target, args.fit_seeds),
            )
            what = "the registered design's arms on a learner started at a measured distribution"
        elif args.lag:
            name, table = "lag", lags(args.seeds, args.pool)
            what = (
                f"pool {args.pool}, 400 requests of 32 questions x G = 8, {args.seeds} seeds; late reports out of "
                f"order with 5% of groups evicted unread"
            )
        else:
            custom = args.regime is not None or tuple(args.start) != DEFAULT_START
            name = "regimes-calibrated" if custom else "regimes"
            table = regimes(args.seeds, [tuple(args.regime)] if args.regime else REGIMES, tuple(args.start))
            table += "\n\n" + selectors(
                args.seeds, tuple(args.regime) if args.regime else SELECTOR_REGIME, tuple(args.start)
            )
            what = (
                f"G = 8, {args.seeds} paired seeds, points of accuracy gained by the end; held-out questions "
                f"move only through skill transfer; start: {args.start[0]:.0%} of the pool at p = 1, "
                f"{args.start[1]:.0%} between, {args.start[2]:.0%} at p = 0"
            )
        cmd = "python scripts/simulate_curricula.py " + " ".join(sys.argv[1:])
        body = f"`{cmd}`: {what}; {time.perf_counter() - started:.0f} s.\n\n{table}"
        print(body)
        if args.write:
            from _benchtable import write_section

            write_section(name, body, doc=DOCS / "curricula.md")
            print(f"wrote the {name} table in docs/curricula.md")
        return

    started = time.perf_counter()
    grid = np.linspace(0, args.attempts, 201)
    curves, shares, info = {}, {}, {}
    for label, name, options in RUNS:
        ys, us, extra = [], [], []
        for seed in range(args.seeds):
            x, y, u, e = run(name, options, n=args.pool, seed=seed, budget=args.attempts, G=args.group)
            ys.append(np.interp(grid, x, y))
            us.append(u[-1] / x[-1])
            extra.append(e)
        curves[label] = np.asarray(ys)
        shares[label] = np.asarray(us)
        info[label] = {k: float(np.mean([e[k] for e in extra])) for k in extra[0]}
        print(f"  {label}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started

    target = curves["uniform"].mean(axis=0)[-1]
    lines = [
        "| curriculum | learnable share of trained picks | attempts on learnable trained picks, per attempt | "
        "probe share | discarded share | final pool accuracy | vs uniform (points) | attempts to uniform's final |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, ys in curves.items():
        mean = ys.mean(axis=0)
        reach = np.flatnonzero(mean >= target)
        speedup = args.attempts / grid[reach[0]] if reach.size and grid[reach[0]] > 0 else float("nan")
        speed = (
            ("reference" if label == "uniform" else f"{speedup:.2f}x fewer")
            if np.isfinite(speedup)
            else "not reached"
        )
        i = info[label]
        lines.append(
            f"| {label} | {100 * i['learnable_picks']:.0f}% | {100 * shares[label].mean():.0f}% +- "
            f"{100 * shares[label].std():.0f} | {100 * i['probe_share']:.0f}% | "
            f"{100 * i['discarded_share']:.0f}% | {100 * mean[-1]:.1f}% +- {100 * ys[:, -1].std():.1f} | "
            f"{100 * (mean[-1] - target):+.1f} | {speed} |"
        )
    cmd = "python scripts/simulate_curricula.py" + (
        "" if sys.argv[1:] == [] else " " + " ".join(sys.argv[1:])
    )
    body = "\n".join(
        [
            f"`{cmd}`: pool {args.pool}, {args.attempts:,} attempts per run (probes and discarded "
            f"candidates included), G={args.group}, {args.seeds} seeds (+- is the standard deviation "
            f"over seeds); {elapsed:.0f} s.",
            "",
            *lines,
        ]
    )
    print(body)

    out = args.out or (str(DOCS / "curricula_simulation.png") if args.write else None)
    if out:
        plot(curves, grid, args, out)
        print(f"\nwrote {out}")
    if args.write:
        from _benchtable import write_section

        write_section("simulation", body, doc=DOCS / "curricula.md")
        print("wrote the simulation table in docs/curricula.md")


def design_regime() -> tuple[int, int, int]:
    """(pool, iterations, questions per iteration) of the registered design: agents/presets.py DIGITS."""
    from agents.presets import DIGITS

    return DIGITS["num_questions"], DIGITS["steps"], DIGITS["questions_per_step"]


def checked_design(args: argparse.Namespace) -> tuple[MeasuredStart | None, DriftTarget | None]:
    """The measured start and the fit's target the options ask for, or a UserError naming the option."""
    if args.start_json is None:
        for flag in ("levels", "fit", "fit_midpoint", "fit_zero_advantage"):
            if getattr(args, flag) is not None:
                raise UserError(f"--{flag.replace('_', '-')} needs --start-json FILE (a measured start)")
        return None, None
    if tuple(args.start) != DEFAULT_START:
        raise UserError("give --start (three shares) or --start-json (measured p), not both")
    if args.fit is None and (args.fit_midpoint or args.fit_zero_advantage is not None):
        raise UserError(
            "--fit-midpoint and --fit-zero-advantage add to --fit POOL_GAIN HELDOUT_GAIN: give it"
        )
    start = MeasuredStart.from_json(args.start_json, args.levels)
    if args.fit is None:
        return start, None
    steps = args.regime[1] if args.regime else design_regime()[1]
    midpoint = None
    if args.fit_midpoint:
        k, gain = args.fit_midpoint
        if k != int(k) or not 0 < k < steps:
            raise UserError(
                f"--fit-midpoint {k:g} {gain:g}: the iteration must be a whole number in 1..{steps - 1}"
            )
        midpoint = (int(k), gain)
    zero = args.fit_zero_advantage
    if zero is not None and not 0 <= zero <= 100:
        raise UserError(f"--fit-zero-advantage {zero:g}: a percentage in [0, 100]")
    if any(abs(g) > 100 for g in args.fit):
        raise UserError(f"--fit {args.fit[0]:g} {args.fit[1]:g}: gains are points of accuracy, within +-100")
    return start, DriftTarget(args.fit[0], args.fit[1], midpoint, None if zero is None else zero / 100)


def plot(curves: dict[str, np.ndarray], grid: np.ndarray, args: argparse.Namespace, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for (label, ys), color in zip(curves.items(), plt.cm.tab10.colors, strict=False):
        mean, lo, hi = ys.mean(axis=0), ys.min(axis=0), ys.max(axis=0)
        bold = label in ("uniform", "learnability (recommended)", "posterior")
        ax.plot(grid, 100 * mean, label=label, color=color, lw=2 if bold else 1.2)
        ax.fill_between(grid, 100 * lo, 100 * hi, color=color, alpha=0.15, lw=0)
    ax.set_xlabel("attempts (training + probe + discarded candidates)")
    ax.set_ylabel("pool accuracy (%)")
    ax.set_title(
        f"Drifting simulated learner, {args.pool} questions, G={args.group}: mean and min-max of "
        f"{args.seeds} seeds",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main))

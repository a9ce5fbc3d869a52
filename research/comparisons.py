"""Comparisons on the simulated learner (research.simulation): learnability against uniform and compute-matched
uniform over regimes (`compare_regime`), every question selector against uniform at equal batches and at
equal attempts (`compare_selectors`), as `scripts/simulate_curricula.py --regimes` prints them, and the arms
of the registered design on a learner started from a measured distribution (`design_arms`, `compare_design`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from curricula import make
from research.simulation import SimulatedArm, run_steps


def regime_arms(batch_size: int, steps: int, G: int, n: int) -> list[SimulatedArm]:
    """uniform, learnability with the paper's `recommended` buffer scaled to `batch_size` (N = 20 N_l,
    K = 4 N_l, T = 50, L = 8, rho = 0.5), and uniform given learnability's probe attempts as more questions
    per step (compute-matched)."""
    learn = SimulatedArm("learnability", "learnability", {"preset": "recommended"}, batch_size)
    probes = make("learnability", n, batch_size=batch_size, preset="recommended").planned_probe_attempts(
        steps
    )
    extra = round(probes / (steps * G))
    return [
        SimulatedArm("uniform", "uniform", {}, batch_size),
        SimulatedArm("uniform_cm", "uniform", {}, batch_size + extra),
        learn,
    ]


def compare_regime(
    n: int,
    steps: int,
    batch_size: int,
    G: int = 8,
    seeds: int = 8,
    heldout: int = 2000,
    learner: dict[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Each arm of `regime_arms` over `seeds` paired seeds (the same learner per seed): mean gains, and the
    paired differences of learnability against each uniform with their standard errors."""
    arms = regime_arms(batch_size, steps, G, n)
    results = {
        a.name: [
            run_steps(a, n=n, seed=s, steps=steps, G=G, heldout=heldout, learner=learner)
            for s in range(seeds)
        ]
        for a in arms
    }
    out: dict[str, dict[str, float]] = {}
    for name, runs in results.items():
        out[name] = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    for base in ("uniform", "uniform_cm"):
        for metric in ("pool", "heldout"):
            mean, se = paired(results["learnability"], results[base], metric)
            out.setdefault(f"learnability-{base}", {}).update({metric: mean, f"{metric}_se": se})
    return out


def paired(runs: list[dict[str, float]], base: list[dict[str, float]], metric: str) -> tuple[float, float]:
    """Mean and standard error of `metric`'s differences between two arms run on the same seeds."""
    d = np.array([a[metric] - b[metric] for a, b in zip(runs, base, strict=True)])
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


#: the question selectors compared in one regime (`compare_selectors`, `simulate_curricula.py --regimes`)
SELECTORS: list[tuple[str, str, dict[str, Any]]] = [  # (label, curriculum, options)
    ("learnability (recommended)", "learnability", {"preset": "recommended"}),
    ("learnability_filter", "learnability_filter", {}),
    ("zero_variance_filter", "zero_variance_filter", {}),
    ("posterior", "posterior", {}),
    ("greso", "greso", {}),
    ("speed", "speed", {}),
    ("pass_rate_band", "pass_rate_band", {}),
    ("adarft", "adarft", {}),
    ("mopps", "mopps", {}),
]


def compare_selectors(
    n: int,
    steps: int,
    batch_size: int,
    G: int = 8,
    seeds: int = 4,
    heldout: int = 2000,
    learner: dict[str, Any] | None = None,
    selectors: list[tuple[str, str, dict[str, Any]]] = SELECTORS,
) -> dict[str, dict[str, float]]:
    """Each selector for `steps` training batches of `batch_size` groups, against uniform at the same
    batches and against uniform given as many attempts as the selector really generated (probes, screening
    and discarded groups included: more questions per step, compute-matched), paired over seeds. Returns per
    selector its mean gains, attempts per step and the paired differences (pool and held-out, with standard
    errors)."""

    def seeded(arm: SimulatedArm) -> list[dict[str, float]]:
        return [
            run_steps(arm, n=n, seed=s, steps=steps, G=G, heldout=heldout, learner=learner)
            for s in range(seeds)
        ]

    uniform = seeded(SimulatedArm("uniform", "uniform", {}, batch_size))
    out: dict[str, dict[str, float]] = {}
    for label, name, options in selectors:
        runs = seeded(SimulatedArm(label, name, options, batch_size))
        spent = float(np.mean([r["attempts"] for r in runs]))
        matched = min(n, max(batch_size, round(spent / (steps * G))))
        cm = seeded(SimulatedArm("uniform_cm", "uniform", {}, matched))
        row = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        row["attempts_per_step"] = spent / steps
        row["matched_batch"] = float(matched)
        for base, ref in (("uniform", uniform), ("uniform_cm", cm)):
            for metric in ("pool", "heldout"):
                row[f"{metric}-{base}"], row[f"{metric}-{base}_se"] = paired(runs, ref, metric)
        out[label] = row
    return out


#: the selectors of SELECTORS that the registered design runs besides learnability, its filter and posterior
DESIGN_SELECTORS = ("greso", "speed", "pass_rate_band", "adarft", "mopps")


def design_arms(pool: int, batch_size: int, G: int, *, selectors: bool = True) -> list[SimulatedArm]:
    """The registered design's arms: uniform; uniform_cm, as many attempts per step as learnability's
    training and probes (research.experiments.stats.compute_matched_questions); the paper's `recommended`
    buffer scaled to the batch as the grid scales it (research.experiments.grid.learnability_options) at
    rho 0.5 (primary) and rho 1; the 4x filter; the posterior; and, with `selectors`, DESIGN_SELECTORS at
    their defaults."""
    from research.experiments.grid import learnability_options  # imports torch: only when asked
    from research.experiments.stats import compute_matched_questions, probe_attempts_per_step

    learn = learnability_options(batch_size, pool, preset="recommended")
    matched = compute_matched_questions(batch_size, G, probe_attempts_per_step(learn), 0.0)
    arms = [
        SimulatedArm("uniform", "uniform", {}, batch_size),
        SimulatedArm("uniform_cm", "uniform", {}, matched),
        SimulatedArm("learnability (rho 0.5)", "learnability", learn, batch_size),
        SimulatedArm("learnability (rho 1)", "learnability", {**learn, "rho": 1.0}, batch_size),
        SimulatedArm("learnability_filter", "learnability_filter", {"ratio": 4}, batch_size),
        SimulatedArm("posterior", "posterior", {}, batch_size),
    ]
    if selectors:
        arms += [
            SimulatedArm(label, name, opts, batch_size)
            for label, name, opts in SELECTORS
            if name in DESIGN_SELECTORS
        ]
    return arms


def compare_design(
    arms: list[SimulatedArm],
    n: int,
    steps: int,
    G: int = 8,
    seeds: int = 8,
    heldout: int = 2000,
    learner: dict[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Each arm over `seeds` paired seeds (the same learner per seed; the first arm is the reference,
    `uniform_cm` the compute-matched one): per arm the mean and standard deviation over seeds of its pool
    and held-out gains and zero-advantage share of trained groups, its attempts per step, and its paired
    held-out difference from each of the two uniforms with its standard error."""
    runs = {
        a.name: [
            run_steps(a, n=n, seed=s, steps=steps, G=G, heldout=heldout, learner=learner)
            for s in range(seeds)
        ]
        for a in arms
    }
    out: dict[str, dict[str, float]] = {}
    for name, rs in runs.items():
        row: dict[str, float] = {}
        for k in ("pool", "heldout", "zero_advantage"):
            row[k], row[f"{k}_sd"] = (
                float(np.mean([r[k] for r in rs])),
                float(np.std([r[k] for r in rs], ddof=1)) if len(rs) > 1 else 0.0,
            )
        row["attempts_per_step"] = float(np.mean([r["attempts"] for r in rs])) / steps
        for base in (arms[0].name, "uniform_cm"):
            if base in runs:
                row[f"heldout-{base}"], row[f"heldout-{base}_se"] = paired(rs, runs[base], "heldout")
        out[name] = row
    return out

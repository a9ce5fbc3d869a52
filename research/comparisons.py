"""Comparisons on the simulated learner (research.simulation): learnability against uniform and compute-matched
uniform over regimes (`compare_regime`), and every question selector against uniform at equal batches and at
equal attempts (`compare_selectors`), as `scripts/simulate_curricula.py --regimes` prints them."""

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
            d = np.array(
                [a[metric] - b[metric] for a, b in zip(results["learnability"], results[base], strict=True)]
            )
            out[f"learnability-{base}"] = out.get(f"learnability-{base}", {})
            out[f"learnability-{base}"][metric] = float(d.mean())
            out[f"learnability-{base}"][f"{metric}_se"] = (
                float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
            )
    return out


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
                d = np.array([a[metric] - b[metric] for a, b in zip(runs, ref, strict=True)])
                row[f"{metric}-{base}"] = float(d.mean())
                row[f"{metric}-{base}_se"] = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
        out[label] = row
    return out

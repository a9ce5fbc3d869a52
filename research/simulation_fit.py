"""The simulated learner's rates fitted to a measured run (research.simulation): which lr_question, lr_skill
make the uniform arm gain what a real uniform run gained, so that the simulator's predictions for the other
arms start from the measured drift, not from guessed rates (issue 32: the regime is chosen on a learner fitted
to the measured start distribution and drift).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from research.simulation import SimulatedArm, run_steps


@dataclass(frozen=True)
class DriftTarget:
    """A measured uniform run's gains by its end, in points of accuracy: what `fit_drift` fits the learner's
    rates to. `midpoint`: (iteration, held-out gain by then), from the run's in-training evaluation;
    `zero_advantage`: the share (0-1) of its trained groups whose G attempts all agreed."""

    pool: float
    heldout: float
    midpoint: tuple[int, float] | None = None
    zero_advantage: float | None = None

    def misses(self, predicted: dict[str, float]) -> dict[str, float]:
        """Predicted minus measured, per target, in points (the zero-advantage share too)."""
        out = {"pool": predicted["pool"] - self.pool, "heldout": predicted["heldout"] - self.heldout}
        if self.midpoint is not None:
            k, gain = self.midpoint
            out[f"heldout@{k}"] = predicted[f"heldout@{k}"] - gain
        if self.zero_advantage is not None:
            out["zero_advantage"] = 100 * (predicted["zero_advantage"] - self.zero_advantage)
        return out


#: the learning rates `fit_drift` tries first, a factor 2 apart; each later round tries the best value and its
#: neighbours at half the previous factor (in log space). Interference is held at 0: gains at the end and midway
#: do not tell it from more transfer (with it free, a run made at lr_skill 0.0015, lr_interference 5e-5 was fitted
#: as 0.002, 1.5e-4), so fitting it would only add noise; give a grid with more values to try it anyway
FIT_GRID: dict[str, tuple[float, ...]] = {
    "lr_question": (0.03, 0.06, 0.12, 0.25, 0.5, 1.0),
    "lr_skill": (0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008),
    "lr_interference": (0.0,),
}


@dataclass
class DriftFit:
    """What `fit_drift` chose: the rates, the uniform arm's predicted gains with them (mean and standard
    deviation over the fit's seeds), the misses against the target, and the runs it took."""

    rates: dict[str, float]
    predicted: dict[str, float]
    spread: dict[str, float]
    misses: dict[str, float]
    runs: int

    @property
    def loss(self) -> float:
        """Sum of squared misses (points squared)."""
        return float(sum(m * m for m in self.misses.values()))


def fit_drift(
    target: DriftTarget,
    *,
    n: int,
    steps: int,
    batch_size: int,
    G: int,
    seeds: int = 3,
    heldout: int = 2000,
    learner: dict[str, Any] | None = None,
    grid: dict[str, tuple[float, ...]] = FIT_GRID,
    rounds: int = 3,
) -> DriftFit:
    """The learning rates (lr_question, lr_skill, lr_interference) with which the uniform arm (`batch_size`
    questions x G attempts, `steps` iterations, pool `n`, `learner`'s start and schedule) reproduces `target`:
    least squares in points over `grid`, then `rounds` finer grids around the best. Seeds 0..seeds-1 for
    every candidate (common random numbers), so the search is deterministic and its surface smooth."""
    arm = SimulatedArm("uniform", "uniform", {}, batch_size)
    checkpoints = (target.midpoint[0],) if target.midpoint else ()
    seen: dict[tuple[float, ...], DriftFit] = {}
    names = tuple(grid)

    def evaluate(values: tuple[float, ...]) -> DriftFit:
        if values not in seen:
            rates = dict(zip(names, values, strict=True))
            runs = [
                run_steps(
                    arm,
                    n=n,
                    seed=s,
                    steps=steps,
                    G=G,
                    heldout=heldout,
                    learner={**(learner or {}), **rates},
                    checkpoints=checkpoints,
                )
                for s in range(seeds)
            ]
            mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
            spread = {k: float(np.std([r[k] for r in runs])) for k in runs[0]}
            seen[values] = DriftFit(rates, mean, spread, target.misses(mean), 0)
        return seen[values]

    def search(axes: list[tuple[float, ...]]) -> tuple[float, ...]:
        best = min(itertools.product(*axes), key=lambda v: (evaluate(v).loss, v))
        return best

    best = search([tuple(v) for v in grid.values()])
    factors = [_step(v) for v in grid.values()]
    for _ in range(rounds):
        factors = [f**0.5 for f in factors]
        axes = []
        for value, f, values in zip(best, factors, grid.values(), strict=True):
            if value == 0:  # no interference stays a candidate beside a little
                nonzero = [v for v in values if v > 0]
                axes.append((0.0, min(nonzero) / f) if nonzero else (0.0,))
            else:
                axes.append((value / f, value, value * f))
        best = search(axes)
    fit = seen[best]
    fit.runs = len(seen) * seeds
    return fit


def _step(values: tuple[float, ...]) -> float:
    """The geometric factor between a grid's neighbouring nonzero values (1 for a single value)."""
    nonzero = sorted(v for v in values if v > 0)
    return float((nonzero[-1] / nonzero[0]) ** (1 / (len(nonzero) - 1))) if len(nonzero) > 1 else 1.0

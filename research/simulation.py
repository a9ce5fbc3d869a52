"""A simulated learner to try curricula on before an expensive run: which regime can show a difference?

The learner. Question i has a success rate p_i = clip(a_skill(i) + b_i, 0, 1): exactly 0 or 1 outside a band,
so "learnable" (0 < p < 1) is a property of the learner, not of a threshold. At the start a share `start[0]`
of the pool is always solved (p = 1), `start[1]` sometimes (p from 0.05 to 0.95) and `start[2]` never (p = 0).
Training on a group of G attempts at question i is a policy-gradient step with the group-mean baseline,

    step = 4 mean_g (y_g - mean(y)) (y_g - p_i)        (zero when all attempts agree)
    b_i += lr_question step,   a_skill(i) += lr_skill step,   every other skill -= lr_interference step

so practice raises p only where 0 < p < 1; part of it transfers to the question's skill (40 skills), which
slowly brings never-solved questions within reach; and a little of it interferes with the other skills,
so solved questions drift back below 1 (forgetting) and estimates made earlier go stale. Held-out questions
have their own b and share the skills: only transfer moves them, as only generalisation moves a real held-out
set. The model assumes the paper's premise (learning happens only where 0 < p < 1), so read what it predicts
as an upper bound on what a curriculum can gain, and a prediction of zero as a reason not to run.

A measured start (`MeasuredStart`, scripts/start_distribution.py --json) replaces the three shares: each pool
question starts at its measured p (p = 0 and p = 1 get b outside [0, 1]: unlearnable until its skill moves),
held-out questions are drawn from the same per-level distribution, and each level is a skill (its questions
share a procedure, so practice on a level moves that level's unseen questions and no other's).
`research.simulation_fit.fit_drift` chooses the learning rates so that the uniform arm reproduces a measured run's gains.

    python scripts/simulate_curricula.py              # every curriculum at equal attempts
    python scripts/simulate_curricula.py --regimes    # uniform, compute-matched uniform and learnability over
                                                      # pool sizes and run lengths: where is the effect?
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curricula import make
from curricula.completions import HeldGroups
from curricula.protocol import Feedback, Request, padded_rewards
from mathenv.errors import UserError

#: shares of the pool always / sometimes / never solved at the start, when no measured distribution is given
DEFAULT_START = (0.3, 0.4, 0.3)


@dataclass(frozen=True)
class MeasuredStart:
    """The start policy's success rate on each pool question and the question's level, as measured by
    scripts/start_distribution.py: the learner starts there instead of at DEFAULT_START's three shares, so its
    mass at small p (which decides what a first batch can teach) is the measured one."""

    p: np.ndarray
    levels: np.ndarray
    source: str = "given"

    def __post_init__(self) -> None:
        p, levels = np.asarray(self.p, dtype=float), np.asarray(self.levels, dtype=np.int64)
        if p.ndim != 1 or not p.size or p.shape != levels.shape or not ((p >= 0) & (p <= 1)).all():
            raise UserError(
                f"{self.source}: a start needs one success rate in [0, 1] and one level per question, got "
                f"{p.size} rates and {levels.size} levels"
            )
        object.__setattr__(self, "p", p)
        object.__setattr__(self, "levels", levels)

    @classmethod
    def from_json(cls, path: str | Path, levels: Sequence[int] | None = None) -> MeasuredStart:
        """The "p" and "levels" of a `start_distribution.py --json` file, keeping only the questions of
        `levels` when given (the design's pool levels)."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise UserError(
                f"--start-json {path}: cannot read it as JSON ({type(e).__name__}); give the file that "
                f"scripts/start_distribution.py --json wrote"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("p"), list):
            raise UserError(
                f'--start-json {path}: no "p" list (one success rate per pool question); give the file that '
                f"scripts/start_distribution.py --json wrote"
            )
        p = np.asarray(data["p"], dtype=float)
        lv = np.asarray(data.get("levels", [0] * p.size), dtype=np.int64)
        if levels:
            keep = np.isin(lv, list(levels))
            if not keep.any():
                raise UserError(
                    f"--levels {' '.join(map(str, levels))}: {path} has no question at these levels"
                )
            p, lv = p[keep], lv[keep]
        return cls(p, lv, source=str(path))

    def draw(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`count` questions with the measured per-level mix (largest remainder), each p resampled from its
        level's measured p: new questions of the same kind, as a held-out split is."""
        values, sizes = np.unique(self.levels, return_counts=True)
        exact = count * sizes / sizes.sum()
        per = np.floor(exact).astype(np.int64)
        per[np.argsort(per - exact, kind="stable")[: count - per.sum()]] += 1
        p = [rng.choice(self.p[self.levels == v], k) for v, k in zip(values, per, strict=True)]
        return np.concatenate(p), np.repeat(values, per)


class Learner:
    """Success rates that drift with practice, transfer and interference (see the module docstring)."""

    def __init__(
        self,
        n: int,
        seed: int,
        *,
        skills: int = 40,
        lr_question: float = 0.05,
        lr_skill: float = 0.0005,
        lr_interference: float = 0.00001,
        start: tuple[float, float, float] | MeasuredStart = DEFAULT_START,
        heldout: int = 0,
        skills_per_level: int = 1,
        schedule: Callable[[int], float] | None = None,
    ) -> None:
        """With a MeasuredStart, `skills` is unused: each level has `skills_per_level` skills (its questions
        drawn among them), and a pool of its size starts at exactly its p (another size: drawn from it).
        `schedule(iteration)` multiplies the three rates, as a run's learning-rate schedule does
        (`iteration` is set by whoever drives the learner; None: constant)."""
        rng = np.random.default_rng(seed)
        self.lr_question, self.lr_skill, self.lr_interference = lr_question, lr_skill, lr_interference
        self.schedule, self.iteration = schedule, 0
        self.rng = np.random.default_rng(seed + 1000)
        if isinstance(start, MeasuredStart):
            self._start_at(start, n, heldout, skills_per_level, rng)
            return
        total = n + heldout
        kind = rng.choice(3, total, p=list(start))  # always / sometimes / never solved at the start
        b = np.where(
            kind == 0,
            rng.uniform(1.05, 1.5, total),
            np.where(kind == 1, rng.uniform(0.05, 0.95, total), rng.uniform(-0.6, -0.05, total)),
        )
        skill = rng.integers(skills, size=total)
        self.b, self.skill = b[:n].copy(), skill[:n]
        self.heldout_b, self.heldout_skill = b[n:], skill[n:]
        self.a = np.zeros(skills)
        # dataset difficulty labels (MATH-style levels 1-5): noisy, as real labels are
        noisy = -self.b + rng.normal(0, 0.3, n)
        self.difficulty = np.searchsorted(np.quantile(noisy, [0.2, 0.4, 0.6, 0.8]), noisy) + 1

    def _start_at(
        self, start: MeasuredStart, n: int, heldout: int, per_level: int, rng: np.random.Generator
    ) -> None:
        pool = (start.p, start.levels) if n == start.p.size else start.draw(n, rng)
        held = start.draw(heldout, rng)
        p, levels = np.concatenate([pool[0], held[0]]), np.concatenate([pool[1], held[1]])
        b = np.where(p >= 1, rng.uniform(1.05, 1.5, p.size), p)
        b = np.where(p <= 0, rng.uniform(-0.6, -0.05, p.size), b)
        values = np.unique(start.levels)
        skill = np.searchsorted(values, levels) * per_level + rng.integers(per_level, size=p.size)
        self.b, self.skill = b[:n].copy(), skill[:n]
        self.heldout_b, self.heldout_skill = b[n:], skill[n:]
        self.a = np.zeros(values.size * per_level)
        self.difficulty = levels[:n]  # the dataset's own labels

    def p(self, ids: np.ndarray | None = None) -> np.ndarray:
        theta = self.a[self.skill] + self.b if ids is None else self.a[self.skill[ids]] + self.b[ids]
        return np.clip(theta, 0.0, 1.0)

    def attempt(self, ids: np.ndarray, attempts: int | np.ndarray) -> np.ndarray:
        """(n, max attempts) rewards; with one count per id, NaN after each row's own attempts."""
        counts = np.broadcast_to(np.asarray(attempts, dtype=np.int64), (ids.size,))
        width = int(counts.max()) if ids.size else int(np.max(attempts, initial=0))
        r = (self.rng.random((ids.size, width)) < self.p(ids)[:, None]).astype(np.float32)
        r[np.arange(width)[None, :] >= counts[:, None]] = np.nan
        return r

    def train(self, ids: np.ndarray, rewards: np.ndarray) -> None:
        p = self.p(ids)[:, None]
        y = rewards
        step = 4.0 * np.nanmean((y - np.nanmean(y, axis=1, keepdims=True)) * (y - p), axis=1)
        if self.schedule is not None:
            step = step * self.schedule(self.iteration)
        np.add.at(self.b, ids, self.lr_question * step)
        per_skill = np.bincount(self.skill[ids], weights=step, minlength=self.a.size)
        self.a += self.lr_skill * per_skill - self.lr_interference * (per_skill.sum() - per_skill)

    def accuracy(self) -> float:
        """Mean success rate over the training pool."""
        return float(self.p().mean())

    def heldout_accuracy(self) -> float:
        """Mean success rate over the held-out questions (NaN without any)."""
        if not self.heldout_b.size:
            return float("nan")
        return float(np.clip(self.a[self.heldout_skill] + self.heldout_b, 0.0, 1.0).mean())


def made(rewards: np.ndarray) -> int:
    """Attempts a reward array holds (NaN padding is no attempt)."""
    return int(np.isfinite(rewards).sum())


class SimGroups(HeldGroups[np.ndarray]):
    """HeldGroups over reward rows: a held row's finished attempts, joined by concatenation."""

    def __init__(self) -> None:
        super().__init__(lambda a, b: np.concatenate([a, b]))

    def trained(self, req: Request, fb: Feedback, rewards: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows kept, their groups as one NaN-padded array): what the learner trains on."""
        rows = [r[np.isfinite(r)] for r in rewards]
        kept = self.absorb(req, fb, rows)
        if not kept:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.float32)
        idx = np.array([i for i, _ in kept], dtype=np.int64)
        groups = [g for _, g in kept]
        return idx, padded_rewards(np.concatenate(groups), np.array([g.size for g in groups])).astype(
            np.float32
        )


def run(
    name: str,
    options: dict[str, Any],
    *,
    n: int,
    seed: int,
    budget: int,
    G: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """One curriculum until `budget` attempts. Returns, after every report: attempts so far, pool accuracy,
    and attempts that went into trained groups whose question was learnable at pick time; plus totals."""
    learner = Learner(n, seed)
    cur = make(name, n, seed=seed, **with_difficulty(name, options, learner))
    held = SimGroups()
    xs, ys, useful = [0], [learner.accuracy()], [0]
    spent = trained = learnable = 0
    while spent < budget:
        req = cur.next_request()
        ids = req.question_ids
        p_now = learner.p(ids)
        rewards = learner.attempt(ids, req.counts(G))
        rows, groups = held.trained(req, cur.report(ids, rewards, req.phase), rewards)
        if rows.size:
            ok = (p_now[rows] > 0) & (p_now[rows] < 1)
            trained += rows.size
            learnable += int(ok.sum())
            useful.append(useful[-1] + int(np.isfinite(groups[ok]).sum()))
            learner.train(ids[rows], groups)
        else:
            useful.append(useful[-1])
        spent += made(rewards)
        xs.append(spent)
        ys.append(learner.accuracy())
    d = cur.diagnostics()
    totals = {
        "learnable_picks": learnable / max(1, trained),
        "probe_share": d["curriculum/probe_attempts"] / max(1, spent),
        "discarded_share": d["curriculum/discarded_attempts"] / max(1, spent),
    }
    return np.asarray(xs), np.asarray(ys), np.asarray(useful), totals


def with_difficulty(name: str, options: dict[str, Any], learner: Learner) -> dict[str, Any]:
    """`options`, plus the learner's difficulty labels for a curriculum that orders by difficulty."""
    from curricula import CURRICULA

    opts = dict(options)
    if CURRICULA[name].needs_difficulty:
        opts.setdefault("difficulty", learner.difficulty)
    return opts


@dataclass
class SimulatedArm:
    """One arm of a simulated comparison: a curriculum, its options and its questions per step."""

    name: str
    curriculum: str
    options: dict[str, Any]
    batch_size: int


def run_steps(
    arm: SimulatedArm,
    *,
    n: int,
    seed: int,
    steps: int,
    G: int,
    heldout: int = 2000,
    learner: dict[str, Any] | None = None,
    checkpoints: Sequence[int] = (),
) -> dict[str, float]:
    """One arm for `steps` training iterations (each a batch of `arm.batch_size` groups of G attempts, after
    any probes the curriculum asks for). Returns the pool and held-out accuracy gained by the end (points),
    attempts spent and the zero-advantage share of trained groups; and `heldout@k`, the held-out gain after
    iteration k, for each k of `checkpoints` (a run's in-training evaluations)."""
    sim = Learner(n, seed, heldout=heldout, **(learner or {}))
    opts = with_difficulty(arm.curriculum, arm.options, sim)
    cur = make(arm.curriculum, n, seed=seed, batch_size=arm.batch_size, **opts)
    held = SimGroups()
    start_pool, start_heldout = sim.accuracy(), sim.heldout_accuracy()
    spent = done_steps = groups = zero = 0
    at: dict[str, float] = {}
    while done_steps < steps:
        req = cur.next_request()
        rewards = sim.attempt(req.question_ids, req.counts(G))
        fb = cur.report(req.question_ids, rewards, req.phase)
        spent += made(rewards)
        rows, kept = held.trained(req, fb, rewards)
        if rows.size:
            groups += len(kept)
            zero += int((np.nanstd(kept, axis=1) == 0).sum())
            sim.train(req.question_ids[rows], kept)
        if req.phase == "train" and fb.done:
            done_steps += 1
            sim.iteration = done_steps
            if done_steps in checkpoints:
                at[f"heldout@{done_steps}"] = 100 * (sim.heldout_accuracy() - start_heldout)
    return {
        "pool": 100 * (sim.accuracy() - start_pool),
        "heldout": 100 * (sim.heldout_accuracy() - start_heldout),
        "attempts": spent,
        "zero_advantage": zero / max(1, groups),
        **at,
    }

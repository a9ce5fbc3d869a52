"""Simulated learners under each curriculum: pool accuracy against attempts, in seconds, before any GPU hour.

    python scripts/simulate_curricula.py                  # writes docs/curricula_simulation.png (~30 s)
    python scripts/simulate_curricula.py --seeds 2 --attempts 100000 --out /tmp/sim.png

The learner. Each question i has a success logit theta_i = a_skill(i) + b_i; an attempt succeeds with
p_i = sigmoid(theta_i). The pool spans questions the learner always solves (p ~ 0.99), sometimes solves
(p from 0.05 to 0.95) and never solves (p ~ 0.001), like a small model on GSM8K or MATH. Training on a group
of G attempts at question i is one policy-gradient step with the group-mean baseline on that logit:

    step = mean_g (y_g - mean(y)) * (y_g - p_i)        (zero when all attempts agree; ~ p(1-p) on average)
    b_i += lr_question * step,   a_skill(i) += lr_skill * step

so practice raises p only where 0 < p < 1, exactly the property that makes groups of identical rewards
worthless to advantage-based methods, and part of what is learned transfers to the question's skill (40
skills), slowly bringing never-solved questions within reach. Every curriculum gets the same number of
attempts: training attempts, probe attempts (learnability's candidates, not trained on) and discarded
candidates (the filters) all count. Pool accuracy is the learner's expected accuracy over the whole pool.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import curricula  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
RUNS = [  # (label, curriculum, options)
    ("uniform", "uniform", {}),
    ("learnability (recommended)", "learnability", {}),
    ("learnability (fast)", "learnability", {"preset": "fast"}),
    ("learnability (recommended, trains on probes)", "learnability", {"train_on_probes": True}),
    ("learnability_filter", "learnability_filter", {}),
    ("prioritized", "prioritized", {}),
    ("easy_to_hard", "easy_to_hard", {"ramp_iterations": 300}),
    ("zero_variance_filter", "zero_variance_filter", {}),
]


class Learner:
    """Per-question success logits that rise with practice when 0 < p < 1 (see the module docstring)."""

    def __init__(self, n: int, seed: int, *, skills: int = 40, lr_question: float = 1.0,
                 lr_skill: float = 0.02) -> None:
        rng = np.random.default_rng(seed)
        kind = rng.choice(3, n, p=[0.3, 0.4, 0.3])  # always / sometimes / never solved at the start
        self.b = np.where(kind == 0, rng.normal(4.6, 0.3, n),
                          np.where(kind == 1, rng.uniform(-3.0, 3.0, n), rng.normal(-7.0, 0.5, n)))
        self.skill = rng.integers(skills, size=n)
        self.a = np.zeros(skills)
        self.lr_question, self.lr_skill = lr_question, lr_skill
        # dataset difficulty labels (MATH-style levels 1-5): noisy, as real labels are
        noisy = -self.b + rng.normal(0, 1.5, n)
        self.difficulty = np.searchsorted(np.quantile(noisy, [0.2, 0.4, 0.6, 0.8]), noisy) + 1
        self.rng = np.random.default_rng(seed + 1000)

    def p(self, ids: np.ndarray | None = None) -> np.ndarray:
        theta = self.a[self.skill] + self.b if ids is None else self.a[self.skill[ids]] + self.b[ids]
        return 1.0 / (1.0 + np.exp(-theta))

    def attempt(self, ids: np.ndarray, attempts: int) -> np.ndarray:
        return (self.rng.random((ids.size, attempts)) < self.p(ids)[:, None]).astype(np.float32)

    def train(self, ids: np.ndarray, rewards: np.ndarray) -> None:
        p = self.p(ids)[:, None]
        y = rewards
        step = np.nanmean((y - np.nanmean(y, axis=1, keepdims=True)) * (y - p), axis=1)
        np.add.at(self.b, ids, self.lr_question * step)
        np.add.at(self.a, self.skill[ids], self.lr_skill * step)

    def accuracy(self) -> float:
        return float(self.p().mean())


def run(name: str, options: dict, *, n: int, seed: int, budget: int, G: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """One curriculum until `budget` attempts; returns (attempts, pool accuracy) after every update."""
    learner = Learner(n, seed)
    opts = dict(options)
    if name == "easy_to_hard":
        opts["difficulty"] = learner.difficulty
    cur = curricula.make(name, n, seed=seed, **opts)
    xs, ys = [0], [learner.accuracy()]
    spent = 0
    while spent < budget:
        req = cur.next_request()
        ids = req.question_ids
        rewards = learner.attempt(ids, req.attempts or G)
        keep = cur.report(ids, rewards, req.phase).keep
        if keep.any():
            learner.train(ids[keep], rewards[keep])
        spent += rewards.size
        xs.append(spent)
        ys.append(learner.accuracy())
    d = cur.diagnostics()
    return np.asarray(xs), np.asarray(ys), {"probe_share": d["curriculum/probe_attempts"] / max(1, spent),
                                            "discarded_share": d["curriculum/discarded_attempts"] / max(1, spent),
                                            "iterations": d["curriculum/iteration"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pool", type=int, default=4000, help="questions in the pool")
    ap.add_argument("--attempts", type=int, default=400_000, help="attempt budget per run (probes included)")
    ap.add_argument("--group", type=int, default=8, help="G: attempts per question in a training batch")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default=str(DOCS / "curricula_simulation.png"))
    args = ap.parse_args()

    started = time.perf_counter()
    grid = np.linspace(0, args.attempts, 201)
    curves, info = {}, {}
    for label, name, options in RUNS:
        ys, extra = [], []
        for seed in range(args.seeds):
            x, y, e = run(name, options, n=args.pool, seed=seed, budget=args.attempts, G=args.group)
            ys.append(np.interp(grid, x, y))
            extra.append(e)
        curves[label] = np.asarray(ys)
        info[label] = {k: float(np.mean([e[k] for e in extra])) for k in extra[0]}
    elapsed = time.perf_counter() - started

    base = curves["uniform"].mean(axis=0)
    target = base[-1]
    rows = []
    for label, ys in curves.items():
        mean = ys.mean(axis=0)
        reach = np.flatnonzero(mean >= target)
        speedup = args.attempts / grid[reach[0]] if reach.size and grid[reach[0]] > 0 else float("nan")
        half = len(grid) // 2
        rows.append((label, mean[0], mean[half], ys[:, half].std(), mean[-1], ys[:, -1].std(), mean[-1] - target,
                     speedup, info[label]["probe_share"], info[label]["discarded_share"]))

    print(f"pool {args.pool}, {args.attempts:,} attempts per run (probes and discarded candidates included), "
          f"G={args.group}, {args.seeds} seeds; {elapsed:.0f} s\n")
    header = ("| curriculum | start | accuracy at half budget | final accuracy | vs uniform (points) | "
              "attempts to uniform's final | probe share | discarded share |")
    print(header)
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        speed = ("reference" if r[0] == "uniform" else f"{r[7]:.2f}x fewer") if np.isfinite(r[7]) else "not reached"
        print(f"| {r[0]} | {100 * r[1]:.1f}% | {100 * r[2]:.1f}% +- {100 * r[3]:.1f} | {100 * r[4]:.1f}% +- "
              f"{100 * r[5]:.1f} | {100 * r[6]:+.1f} | {speed} | {100 * r[8]:.0f}% | {100 * r[9]:.0f}% |")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for (label, ys), color in zip(curves.items(), plt.cm.tab10.colors, strict=False):
        mean, lo, hi = ys.mean(axis=0), ys.min(axis=0), ys.max(axis=0)
        ax.plot(grid, 100 * mean, label=label, color=color, lw=2 if label in ("uniform", "learnability (recommended)") else 1.2)
        ax.fill_between(grid, 100 * lo, 100 * hi, color=color, alpha=0.15, lw=0)
    ax.set_xlabel("attempts (training + probe + discarded candidates)")
    ax.set_ylabel("pool accuracy (%)")
    ax.set_title(f"Simulated learner, {args.pool} questions, G={args.group}: mean and min-max of {args.seeds} seeds")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

"""Simulated learners under each curriculum: what share of the attempts each one spends training on
questions the learner can learn from, and how fast pool accuracy rises, at equal compute.

    python scripts/simulate_curricula.py                   # prints the table (~1-2 minutes on 2 cores)
    python scripts/simulate_curricula.py --write           # also writes docs/curricula_simulation.png and the
                                                           # table in docs/curricula.md
    python scripts/simulate_curricula.py --seeds 2 --attempts 100000 --out /tmp/sim.png

The learner. Question i has a success rate p_i = clip(a_skill(i) + b_i, 0, 1): exactly 0 or 1 outside a band,
so "learnable" (0 < p < 1) is a property of the learner, not of a threshold. At the start 30% of the pool is
always solved (p = 1), 40% sometimes (p from 0.05 to 0.95) and 30% never (p = 0), like a small model on
GSM8K or MATH. Training on a group of G attempts at question i is a policy-gradient step with the group-mean
baseline,

    step = 4 mean_g (y_g - mean(y)) (y_g - p_i)        (zero when all attempts agree)
    b_i += lr_question step,   a_skill(i) += lr_skill step,   every other skill -= lr_interference step

so practice raises p only where 0 < p < 1; part of it transfers to the question's skill (40 skills), which
slowly brings never-solved questions within reach; and a little of it interferes with the other skills,
so solved questions drift back below 1 (forgetting) and estimates made earlier go stale. p therefore drifts
both with training on the question and without it.

Compute: every curriculum gets the same number of attempts (training attempts, probe attempts and
discarded filter candidates all count). Reported per run: the share of trained groups whose question was
learnable (0 < p < 1) when it was picked, that share per generated attempt (attempts that went into
learnable trained groups / all attempts), and pool accuracy (mean p over the pool).
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
    ("prioritized (PLR defaults)", "prioritized", {}),
    ("prioritized (temperature 1)", "prioritized", {"temperature": 1.0}),
    ("easy_to_hard", "easy_to_hard", {"ramp_iterations": 300}),
    ("zero_variance_filter", "zero_variance_filter", {}),
    ("posterior", "posterior", {}),
]


class Learner:
    """Success rates that drift with practice, transfer and interference (see the module docstring)."""

    def __init__(self, n: int, seed: int, *, skills: int = 40, lr_question: float = 0.05,
                 lr_skill: float = 0.0005, lr_interference: float = 0.00001) -> None:
        rng = np.random.default_rng(seed)
        kind = rng.choice(3, n, p=[0.3, 0.4, 0.3])  # always / sometimes / never solved at the start
        self.b = np.where(kind == 0, rng.uniform(1.05, 1.5, n),
                          np.where(kind == 1, rng.uniform(0.05, 0.95, n), rng.uniform(-0.6, -0.05, n)))
        self.skill = rng.integers(skills, size=n)
        self.a = np.zeros(skills)
        self.lr_question, self.lr_skill, self.lr_interference = lr_question, lr_skill, lr_interference
        # dataset difficulty labels (MATH-style levels 1-5): noisy, as real labels are
        noisy = -self.b + rng.normal(0, 0.3, n)
        self.difficulty = np.searchsorted(np.quantile(noisy, [0.2, 0.4, 0.6, 0.8]), noisy) + 1
        self.rng = np.random.default_rng(seed + 1000)

    def p(self, ids: np.ndarray | None = None) -> np.ndarray:
        theta = self.a[self.skill] + self.b if ids is None else self.a[self.skill[ids]] + self.b[ids]
        return np.clip(theta, 0.0, 1.0)

    def attempt(self, ids: np.ndarray, attempts: int) -> np.ndarray:
        return (self.rng.random((ids.size, attempts)) < self.p(ids)[:, None]).astype(np.float32)

    def train(self, ids: np.ndarray, rewards: np.ndarray) -> None:
        p = self.p(ids)[:, None]
        y = rewards
        step = 4.0 * np.nanmean((y - np.nanmean(y, axis=1, keepdims=True)) * (y - p), axis=1)
        np.add.at(self.b, ids, self.lr_question * step)
        per_skill = np.bincount(self.skill[ids], weights=step, minlength=self.a.size)
        self.a += self.lr_skill * per_skill - self.lr_interference * (per_skill.sum() - per_skill)

    def accuracy(self) -> float:
        return float(self.p().mean())


def run(name: str, options: dict, *, n: int, seed: int, budget: int, G: int) -> tuple[np.ndarray, ...]:
    """One curriculum until `budget` attempts. Returns, after every report: attempts so far, pool accuracy,
    and attempts that went into trained groups whose question was learnable at pick time; plus totals."""
    learner = Learner(n, seed)
    opts = dict(options)
    if name == "easy_to_hard":
        opts["difficulty"] = learner.difficulty
    cur = curricula.make(name, n, seed=seed, **opts)
    xs, ys, useful = [0], [learner.accuracy()], [0]
    spent = trained = learnable = 0
    while spent < budget:
        req = cur.next_request()
        ids = req.question_ids
        p_now = learner.p(ids)
        rewards = learner.attempt(ids, req.attempts or G)
        keep = cur.report(ids, rewards, req.phase).keep
        if keep.any():
            ok = (p_now[keep] > 0) & (p_now[keep] < 1)
            trained += int(keep.sum())
            learnable += int(ok.sum())
            useful.append(useful[-1] + int(ok.sum()) * rewards.shape[1])
            learner.train(ids[keep], rewards[keep])
        else:
            useful.append(useful[-1])
        spent += rewards.size
        xs.append(spent)
        ys.append(learner.accuracy())
    d = cur.diagnostics()
    totals = {"learnable_picks": learnable / max(1, trained),
              "probe_share": d["curriculum/probe_attempts"] / max(1, spent),
              "discarded_share": d["curriculum/discarded_attempts"] / max(1, spent)}
    return np.asarray(xs), np.asarray(ys), np.asarray(useful), totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pool", type=int, default=4000, help="questions in the pool")
    ap.add_argument("--attempts", type=int, default=400_000, help="attempt budget per run (probes included)")
    ap.add_argument("--group", type=int, default=8, help="G: attempts per question in a training batch")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default=None, help="save the figure here (with --write: docs/curricula_simulation.png)")
    ap.add_argument("--write", action="store_true",
                    help="write the figure and the table into docs/ (docs/curricula.md's simulation section)")
    args = ap.parse_args()

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
        speed = ("reference" if label == "uniform" else f"{speedup:.2f}x fewer") if np.isfinite(speedup) else "not reached"
        i = info[label]
        lines.append(f"| {label} | {100 * i['learnable_picks']:.0f}% | {100 * shares[label].mean():.0f}% +- "
                     f"{100 * shares[label].std():.0f} | {100 * i['probe_share']:.0f}% | "
                     f"{100 * i['discarded_share']:.0f}% | {100 * mean[-1]:.1f}% +- {100 * ys[:, -1].std():.1f} | "
                     f"{100 * (mean[-1] - target):+.1f} | {speed} |")
    cmd = "python scripts/simulate_curricula.py" + ("" if sys.argv[1:] == [] else " " + " ".join(sys.argv[1:]))
    body = "\n".join([f"`{cmd}`: pool {args.pool}, {args.attempts:,} attempts per run (probes and discarded "
                      f"candidates included), G={args.group}, {args.seeds} seeds (+- is the standard deviation "
                      f"over seeds); {elapsed:.0f} s.", "", *lines])
    print(body)

    out = args.out or (str(DOCS / "curricula_simulation.png") if args.write else None)
    if out:
        plot(curves, grid, args, out)
        print(f"\nwrote {out}")
    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _benchtable import write_section

        write_section("simulation", body, doc=DOCS / "curricula.md")
        print("wrote the simulation table in docs/curricula.md")


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
    ax.set_title(f"Drifting simulated learner, {args.pool} questions, G={args.group}: mean and min-max of "
                 f"{args.seeds} seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main()

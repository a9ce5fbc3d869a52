"""Per-episode cost of each curriculum against the bare env, at pools of 10^3, 10^5 and 10^6 questions.

    python scripts/bench_curricula.py                 # default run (~4 minutes on 2 cores), prints the table
    python scripts/bench_curricula.py --write         # ... and writes it into docs/benchmarks.md
    python scripts/bench_curricula.py --pools 1000 --episodes 2048

What is measured, per pool size and curriculum, all in one process:
- Gymnasium path: `CurriculumWrapper.reset()` + `step(answer)` per episode, against the bare env's
  `reset(options={"question_id": i})` + `step(answer)` on the same env object, in alternating chunks of one
  batch (64 questions x 8 attempts), so drift hits both alike. Overhead = wrapped - bare, and its ratio to
  the bare env's cost. The wrapped figure includes every probe episode, the epoch permutation and each
  batch's `report`.
- "all seen" rows: the same after every question of the pool was reported once (prioritized ranks every
  seen question; posterior keeps a posterior for each), so the cost at a full pool is measured, not only
  at the start of a run.
- Batch path: `next_request()` + `report(ids, rewards=...)` per iteration (no scoring: the curriculum's
  own cost), per question handed out (probe candidates and filter candidates included).
- Memory: bytes of numpy state the curriculum holds (statistics, epoch order, buffers, labels) / pool size.

Large pools repeat a generated arithmetic set of 1,000 questions (`MathReasoningEnv(questions=...)`): the
env stores references, so a 10^6 pool costs only its lists, and the bare env's cost does not depend on the
pool. Answers come from a simulated learner (right with a per-question probability spanning 0..1), so
curricula see realistic rewards; both paths pay the same verifier calls (its cache warms up alike).
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curricula import CurriculumWrapper  # noqa: E402
from curricula.completions import report_completions  # noqa: E402
from mathenv import MathReasoningEnv  # noqa: E402

GROUP = 8  # attempts per question (G), as in the paper's 64 x 8 batches
ROWS = [  # (label, name, options, report every question of the pool first)
    ("uniform", "uniform", {}, False),
    ("learnability (fast: T=10, N=256, K=64)", "learnability", {"preset": "fast"}, False),
    ("learnability (recommended: T=50, N=1280, K=256)", "learnability", {}, False),
    ("learnability_filter (ratio 4)", "learnability_filter", {}, False),
    ("prioritized", "prioritized", {}, False),
    ("prioritized (all seen)", "prioritized", {}, True),
    ("easy_to_hard", "easy_to_hard", {}, False),
    ("zero_variance_filter", "zero_variance_filter", {}, False),
    ("posterior", "posterior", {}, False),
    ("posterior (all seen)", "posterior", {}, True),
    ("greso", "greso", {}, False),
    ("greso (all seen)", "greso", {}, True),
    ("speed", "speed", {}, False),
    ("pass_rate_band", "pass_rate_band", {}, False),
    ("adarft", "adarft", {}, False),
    ("mopps", "mopps", {}, False),
    ("mopps (all seen)", "mopps", {}, True),
]


class PassThrough(gym.Wrapper):
    """A gym.Wrapper that only forwards reset/step and tags info: the price of any Python wrapper layer."""

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        info["wrapped"] = True
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["wrapped"] = True
        return obs, reward, terminated, truncated, info


class Policy:
    """Right with probability p[question] (p uniform in [0, 1] per question), decided ahead of time."""

    def __init__(self, env: MathReasoningEnv, base: int, episodes: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.right = [f"\\boxed{{{q.answer}}}" for q in env.questions[:base]]
        self.base = base
        self.p = rng.random(base)  # repeated questions share their base question's p
        self.u = rng.random(episodes)

    def act(self, qid: int, k: int) -> str:
        b = qid % self.base
        return self.right[b] if self.u[k] < self.p[b] else "\\boxed{-1}"

    def rewards(self, ids: np.ndarray, attempts: int, rng: np.random.Generator) -> np.ndarray:
        return (rng.random((ids.size, attempts)) < self.p[ids % self.base][:, None]).astype(np.float32)


def time_gym(env, wrapped, policy, episodes: int, seed: int) -> tuple[float, float]:
    """(bare, wrapped) seconds per episode, in alternating chunks of one batch. `wrapped=None` times a
    pass-through wrapper opening the same questions as the bare env."""
    chunk = 64 * GROUP
    rng = np.random.default_rng(seed)
    bare_ids = rng.integers(env.num_questions, size=episodes).tolist()
    t_bare = t_wrapped = 0.0
    if wrapped is None:
        passthrough = PassThrough(env)
    else:
        wrapped.reset(seed=seed)
        wrapped.step(policy.act(0, 0))
    perf = time.perf_counter
    for start in range(0, episodes, chunk):
        stop = min(start + chunk, episodes)
        t0 = perf()
        for k in range(start, stop):
            q = bare_ids[k]
            env.reset(options={"question_id": q})
            env.step(policy.act(q, k))
        t1 = perf()
        if wrapped is None:
            for k in range(start, stop):
                q = bare_ids[k]
                passthrough.reset(options={"question_id": q})
                passthrough.step(policy.act(q, k))
        else:
            for k in range(start, stop):
                _, info = wrapped.reset()
                wrapped.step(policy.act(info["question_id"], k))
        t2 = perf()
        t_bare += t1 - t0
        t_wrapped += t2 - t1
    return t_bare / episodes, t_wrapped / episodes


def seen_all(curriculum, policy, seed: int) -> None:
    """Report every question of the pool once (4 attempts each, as a training batch, in chunks), so the
    curriculum holds statistics for the whole pool."""
    rng = np.random.default_rng(seed)
    for chunk in np.array_split(
        np.arange(curriculum.num_questions), max(1, curriculum.num_questions // 100_000)
    ):
        curriculum.report(chunk, policy.rewards(chunk, 4, rng))


def time_batch(wrapped, policy, iterations: int, seed: int) -> tuple[float, float]:
    """(seconds per training iteration, seconds per question handed out) through next_request + report."""
    rng = np.random.default_rng(seed)
    handed, elapsed, stop = 0, 0.0, wrapped.curriculum.iteration + iterations
    while wrapped.curriculum.iteration < stop:
        t0 = time.perf_counter()
        req = wrapped.curriculum.next_request()
        phase, ids, counts = req.phase, req.question_ids, req.counts(GROUP)
        elapsed += time.perf_counter() - t0
        rewards = policy.rewards(ids, int(counts.max()), rng)  # the learner's time is not the curriculum's
        rewards[np.arange(rewards.shape[1])[None, :] >= counts[:, None]] = np.nan  # per-question attempts
        t0 = time.perf_counter()
        report_completions(wrapped.curriculum, wrapped, ids, rewards=rewards, phase=phase)
        elapsed += time.perf_counter() - t0
        handed += ids.size
    return elapsed / iterations, elapsed / handed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pools", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    ap.add_argument("--episodes", type=int, default=32_768, help="Gymnasium episodes per curriculum and pool")
    ap.add_argument(
        "--iterations", type=int, default=200, help="batch-API training iterations per curriculum"
    )
    ap.add_argument(
        "--base", type=int, default=1_000, help="distinct generated questions repeated into a pool"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = ap.parse_args()

    started = time.perf_counter()
    base_questions = MathReasoningEnv(num_questions=args.base, data_seed=args.seed).questions
    rows, summary = [], {}
    for pool in args.pools:
        questions = (base_questions * math.ceil(pool / len(base_questions)))[:pool]
        env = MathReasoningEnv(questions=questions)
        policy = Policy(env, min(args.base, pool), args.episodes + 1, args.seed)
        for q in range(min(args.base, pool)):  # warm the verifier's caches for every (answer, gold) pair
            for action in (policy.right[q], "\\boxed{-1}"):
                env.reset(options={"question_id": q})
                env.step(action)
        bare, through = time_gym(env, None, policy, args.episodes, args.seed)
        rows.append(
            [
                "(pass-through gym.Wrapper, no curriculum)",
                f"{pool:,}",
                f"{bare * 1e6:.1f}",
                f"{through * 1e6:.1f}",
                f"{(through - bare) * 1e6:.1f}",
                f"{(through - bare) / bare:.2f}",
                "",
                "",
                "",
            ]
        )
        print(f"  pass-through wrapper @ {pool:,}: {(through - bare) * 1e6:.1f} us/episode", flush=True)
        for label, name, options, prefill in ROWS:
            try:
                wrapped = CurriculumWrapper(env, name, seed=args.seed, attempts_per_question=GROUP, **options)
            except ValueError as e:
                rows.append([label, f"{pool:,}", *["n/a"] * 7])
                print(f"  {label} @ {pool:,}: skipped ({e})", flush=True)
                continue
            batch = CurriculumWrapper(env, name, seed=args.seed, attempts_per_question=GROUP, **options)
            if prefill:
                for w in (wrapped, batch):
                    seen_all(w.curriculum, policy, args.seed)
            gc.collect()
            bare, wrapped_s = time_gym(env, wrapped, policy, args.episodes, args.seed)
            per_iter, per_question = time_batch(batch, policy, args.iterations, args.seed)
            mem = batch.curriculum.state_nbytes() / pool
            overhead = (wrapped_s - bare) * 1e6
            summary.setdefault(label, {})[pool] = overhead
            rows.append(
                [
                    label,
                    f"{pool:,}",
                    f"{bare * 1e6:.1f}",
                    f"{wrapped_s * 1e6:.1f}",
                    f"{overhead:.1f}",
                    f"{overhead / (bare * 1e6):.2f}",
                    f"{per_iter * 1e6:.0f}",
                    f"{per_question * 1e6:.2f}",
                    f"{mem:.1f}",
                ]
            )
            print(
                f"  {label} @ {pool:,}: bare {bare * 1e6:.1f} us, wrapped {wrapped_s * 1e6:.1f} us, "
                f"overhead {overhead:.1f} us/episode ({overhead / (bare * 1e6):.2f} x bare); batch "
                f"{per_iter * 1e6:.0f} us/iteration, {per_question * 1e6:.2f} us/question; {mem:.1f} B/question",
                flush=True,
            )
        del env, questions
    perm_ms = {}
    for pool in args.pools:  # the one-off cost every epoch of uniform draws starts with
        t0 = time.perf_counter()
        np.random.default_rng(0).permutation(pool).astype(np.int32)
        perm_ms[pool] = (time.perf_counter() - t0) * 1e3
    elapsed = time.perf_counter() - started

    from _benchtable import machine_line, markdown_table, write_section

    headers = [
        "curriculum",
        "pool",
        "bare env reset+step (us/episode)",
        "wrapped reset+step (us/episode)",
        "curriculum overhead (us/episode)",
        "overhead / bare",
        "batch API (us/iteration of 64 x 8)",
        "batch API (us/question handed out)",
        "state (bytes/question)",
    ]
    table = markdown_table(headers, rows)
    worst = {label: max(v.values()) for label, v in summary.items()}
    cmd = "python scripts/bench_curricula.py" + ("" if sys.argv[1:] == [] else " " + " ".join(sys.argv[1:]))
    body = "\n".join(
        [
            "## Curricula: per-episode overhead and memory",
            "",
            f"Written by `{cmd}` on {machine_line()}; {elapsed:.0f} s.",
            f"Gymnasium path: {args.episodes:,} episodes per row through `CurriculumWrapper` (G = {GROUP} attempts per "
            "question, probes included) against the bare `MathReasoningEnv` reset(question_id)+step on the same env, "
            "in alternating chunks of 512 episodes after warming the verifier's cache; overhead = wrapped - bare "
            "(on this shared machine, repeated runs move single figures by a few us). "
            "The pass-through row is a `gym.Wrapper` that only forwards: the price of any Python wrapper layer. "
            f"Batch path: `next_request()` + `report(rewards=...)` over {args.iterations} training iterations "
            '(probe batches included, no scoring). "all seen" rows: every question of the pool reported once '
            "before timing. Pools above 1,000 repeat 1,000 generated arithmetic questions. "
            "State: numpy arrays the curriculum holds, per question of the pool. "
            "Goal: below 10 us per episode at 10^6 for every curriculum, flat as the pool grows.",
            "Every row includes the first epoch's permutation of the pool (uniform draws without replacement), "
            "paid once per pass over the pool: "
            + ", ".join(f"{perm_ms[p]:.1f} ms at {p:,}" for p in args.pools)
            + f". In these short windows that is up to {max(perm_ms.values()) * 1e3 / args.episodes:.1f} us per "
            f"episode and {max(perm_ms.values()) * 1e3 / args.iterations:.0f} us per batch iteration at the largest "
            "pool; over a whole epoch it is a few ns per draw.",
            "",
            table,
            "",
            "Largest overhead per curriculum over the pools measured: "
            + "; ".join(
                f"{label.split(':')[0] + ')' if ':' in label else label} {w:.1f} us"
                for label, w in worst.items()
            )
            + ".",
        ]
    )
    print()
    print(body)
    if args.write:
        write_section("curricula", body)
        print("\nwrote the curricula section of docs/benchmarks.md")


if __name__ == "__main__":
    main()

"""One evaluator for every caller: the trainer's held-out checks, `python -m agents.evaluate`, the testbed's
per-level report and the reproduction's common held-out set.

Greedy pass@1 is what a deployed policy answers; the accuracy of k answers sampled at the training temperature
(`mean@k`) is what RL optimises; `maj@k` is the majority vote over those k answers. Per level (the questions'
`difficulty`): the same numbers, and the shares of questions that none / some / all k samples solved (the
regime where choosing questions matters is "some").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

#: generate(prompts, greedy) -> response token ids per prompt
GenerateFn = Callable[[list[list[int]], bool], list[list[int]]]


def evaluate_policy(
    generate: GenerateFn,
    decode: Callable[[list[int]], str],
    env: Any,
    question_ids: Sequence[int],
    prompts: Sequence[list[int]],
    *,
    samples: int = 0,
    seed: int | None = None,
    greedy: bool = True,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Score a policy on `question_ids` of `env` (a MathReasoning-v0 env, unwrapped), `prompts` being their
    token ids. `samples` > 0 adds mean@k and maj@k with k = samples; `seed` samples from a forked torch RNG
    seeded so (the caller's stream, CUDA's on `device` included, is left as it was), None from the caller's
    stream."""
    import torch  # here: agents.evaluate reads its options before torch loads

    ids = np.asarray(question_ids, dtype=np.int64)
    out: dict[str, Any] = {"questions": int(ids.size)}
    correct_greedy = None
    if greedy:
        responses = generate(list(prompts), True)
        _, verdicts = env.batch_rewards(ids, [decode(r) for r in responses])
        correct_greedy = np.array([v.correct for v in verdicts], dtype=float)
        out["pass@1"] = float(correct_greedy.mean()) if ids.size else float("nan")
    correct = None
    if samples:
        repeated = [p for p in prompts for _ in range(samples)]
        if seed is None:
            responses = generate(repeated, False)
        else:
            cuda = [torch.device(device)] if torch.device(device).type == "cuda" else []
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(seed)
                responses = generate(repeated, False)
        _, verdicts = env.batch_rewards(np.repeat(ids, samples), [decode(r) for r in responses])
        correct = np.array([v.correct for v in verdicts], dtype=float).reshape(ids.size, samples)
        majority = np.zeros(ids.size)
        for i in range(ids.size):
            group = verdicts[i * samples : (i + 1) * samples]
            votes = Counter(v.extracted for v in group if v.extracted is not None)
            if votes:
                top = votes.most_common(1)[0][0]
                majority[i] = float(next(v.correct for v in group if v.extracted == top))
        out.update(
            {
                "mean@k": float(correct.mean()) if ids.size else float("nan"),
                f"maj@{samples}": float(majority.mean()) if ids.size else float("nan"),
                "k": samples,
                "p": correct.mean(axis=1).tolist(),
                **_shares(correct.mean(axis=1)),
            }
        )
    levels = np.array(
        [
            -1 if env.questions[int(q)].difficulty is None else int(env.questions[int(q)].difficulty)
            for q in ids
        ]
    )
    if (levels >= 0).any():
        per_level: dict[int, dict[str, Any]] = {}
        for lv in sorted(set(levels.tolist()) - {-1}):
            rows = levels == lv
            entry: dict[str, Any] = {"questions": int(rows.sum())}
            if correct_greedy is not None:
                entry["pass@1"] = float(correct_greedy[rows].mean())
            if correct is not None:
                entry["mean@k"] = float(correct[rows].mean())
                entry.update(_shares(correct[rows].mean(axis=1)))
            per_level[lv] = entry
        out["per_level"] = per_level
    return out


def subset(pool_size: int, num_questions: int | None, seed: int) -> np.ndarray:
    """A fixed random subset of `num_questions` question ids drawn with `seed`, sorted (all, in order, when
    None or larger than the pool)."""
    if num_questions is None or num_questions >= pool_size:
        return np.arange(pool_size)
    return np.sort(np.random.default_rng(seed).permutation(pool_size)[:num_questions])


def heldout_ids(pool_size: int, num_questions: int | None, seed: int) -> np.ndarray:
    """The held-out questions a run with `seed` scores itself on (agents.trainer) and `agents.evaluate` scores
    its checkpoints on: one choice, so that both report on the same questions. Drawn with seed + 1, apart
    from the streams `seed` itself starts (model init, sampling, the curriculum)."""
    return subset(pool_size, num_questions, seed + 1)


def _shares(p: np.ndarray) -> dict[str, float]:
    """Shares of questions no sample solved (p = 0), some solved (0 < p < 1), all solved (p = 1)."""
    if p.size == 0:
        return {"p0": float("nan"), "mid": float("nan"), "p1": float("nan")}
    return {
        "p0": float(np.mean(p == 0)),
        "mid": float(np.mean((p > 0) & (p < 1))),
        "p1": float(np.mean(p == 1)),
    }


def format_table(result: dict[str, Any]) -> str:
    """A Markdown table of a result with samples: one row per level, then all questions."""
    lines = [
        "| level | questions | greedy pass@1 | sampled | p=0 | 0<p<1 | p=1 |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [(str(lv), r) for lv, r in result.get("per_level", {}).items()] + [("all", result)]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['questions']} | {r.get('pass@1', float('nan')):.3f} | "
            f"{r.get('mean@k', float('nan')):.3f} | {r.get('p0', float('nan')):.2f} | "
            f"{r.get('mid', float('nan')):.2f} | {r.get('p1', float('nan')):.2f} |"
        )
    return "\n".join(lines)

"""A driver's helpers beside the protocol's loop (curricula.protocol): `HeldGroups`, the driver's side of a
group the curriculum holds for a later continuation, and the batch path without episodes: a trainer asks the
curriculum for a request (`curriculum.next_request()`), attempts each id `req.counts(G)[i]` times (G, or the
curriculum's per-question counts), and hands the completions here, which scores them all in one call to the
env's batch path and reports the rewards to the curriculum:

    req = cur.next_request()                                      # Request(phase, question_ids, attempts)
    completions = generate(req.question_ids, req.counts(G))       # n lists, counts[i] strings in row i
    rewards, feedback, verdicts = report_completions(cur, env, req.question_ids, completions, req.phase)

(The Gymnasium path, one episode per `reset`/`step`, is `curricula.gym_wrapper.CurriculumWrapper`.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from curricula.protocol import Curriculum, Feedback, Request


def report_completions(
    curriculum: Curriculum,
    env: Any,
    question_ids: Any,
    completions: Sequence[Sequence[str]] | None = None,
    phase: str = "train",
    *,
    rewards: Any = None,
) -> tuple[np.ndarray, Feedback, list]:
    """Score and report one request: `completions[i]` holds the attempts at `question_ids[i]`.

    All completions are scored in one `env.unwrapped.batch_rewards` call (`env`: a MathReasoning-v0 env,
    possibly wrapped); rows shorter than the longest are padded with NaN (attempts that never finished, or a
    request's per-question counts).
    Pass `rewards=` (shape (n,) or (n, G)) instead of completions to report rewards you computed yourself.
    Returns (rewards (n, G) float32, the curriculum's Feedback, the flat list of verdicts, row-major; empty
    for rewards=).
    """
    ids = np.asarray(question_ids)
    if ids.ndim != 1:
        raise ValueError(f"question_ids must be 1-D, got shape {ids.shape}")
    if (completions is None) == (rewards is None):
        raise ValueError("pass exactly one of completions (n lists of G strings) or rewards= ((n, G) array)")
    verdicts: list = []
    if rewards is not None:
        r = np.asarray(rewards, dtype=np.float32)
        r = r[:, None] if r.ndim == 1 else r
        if r.ndim != 2 or r.shape[0] != ids.size:
            raise ValueError(
                f"rewards must have shape ({ids.size},) or ({ids.size}, G), got {np.shape(rewards)}"
            )
    else:
        if len(completions) != ids.size:
            raise ValueError(f"got {ids.size} question ids but {len(completions)} rows of completions")
        rows = [[c] if isinstance(c, str) else list(c) for c in completions]
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        G = int(lengths.max()) if lengths.size else 0
        flat = [c for row in rows for c in row]
        scores, verdicts = env.unwrapped.batch_rewards(np.repeat(ids, lengths), flat)
        r = np.full((ids.size, max(G, 1)), np.nan, dtype=np.float32)
        if G:
            r[np.arange(G)[None, :] < lengths[:, None]] = scores
    return r, curriculum.report(ids, r, phase), verdicts


T = TypeVar("T")


class HeldGroups(Generic[T]):
    """The driver's side of `Feedback.hold`, one implementation for every driver: groups of attempts (of any
    kind: reward rows, rollouts, completions) the curriculum asked to hold, and the join of each with its
    continuation. `absorb` takes one reported request's groups and returns those to train on."""

    def __init__(self, join: Callable[[T, T], T]) -> None:
        self.join = join
        self.groups: dict[int, T] = {}  # question id -> its held attempts

    def absorb(self, request: Request, feedback: Feedback, groups: Sequence[T]) -> list[tuple[int, T]]:
        """(row, group) for every row the feedback keeps, a continuation joined to its held attempts (held
        first); the rows the feedback holds are kept here until a later request continues them. `groups`
        and the feedback's masks are aligned with `request.question_ids`."""
        cont, hold, keep = request.continuing(), feedback.held(), np.asarray(feedback.keep, dtype=bool)
        out = []
        for i, q in enumerate(np.asarray(request.question_ids).tolist()):
            prior = self.groups.pop(q, None) if cont[i] else None
            if hold[i]:
                self.groups[q] = groups[i]
            elif keep[i]:
                out.append((i, groups[i] if prior is None else self.join(prior, groups[i])))
        return out

    def __len__(self) -> int:
        return len(self.groups)

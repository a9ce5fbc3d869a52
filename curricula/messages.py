"""The messages of the curriculum protocol (curricula.protocol): what to attempt (`Request`), the curriculum's
answer to a report (`Feedback`), the report's rewards (`padded_rewards`, `report_rows`), and `HeldGroups`, the
drivers' side of a group held for a later continuation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

PHASES = ("train", "probe")
EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Request:
    """What to attempt next, then `report` the rewards with this `phase`.

    `attempts` says how often to attempt each of `question_ids`: None as many times as the trainer's group
    size G, an int that many times each, or an int array aligned with `question_ids`, one count per id (SPEED
    screens new questions with a few attempts while it completes the groups of earlier ones). Report the
    rewards as an (n, max count) array, each row's finished attempts first and NaN after them (`counts(G)`
    gives the counts as an array in every case).

    `continues` (None, or a bool per id) marks rows that complete a group the curriculum asked the driver to
    hold (`Feedback.hold`): their rewards are only the new attempts, and the driver trains on the held
    attempts and the new ones as one group when the report keeps the row."""

    phase: str  # "probe" (estimates for the curriculum) or "train" (a training batch, or part of one)
    question_ids: np.ndarray
    attempts: int | np.ndarray | None = None
    continues: np.ndarray | None = None

    def counts(self, group_size: int) -> np.ndarray:
        """Attempts to make at each id, an int64 array aligned with `question_ids` (`group_size`, the
        trainer's G, where `attempts` is None)."""
        n = len(self.question_ids)
        if self.attempts is None:
            return np.full(n, int(group_size), dtype=np.int64)
        return np.broadcast_to(np.asarray(self.attempts, dtype=np.int64), (n,)).copy()

    def continuing(self) -> np.ndarray:
        """`continues` as a bool array (all False when None)."""
        if self.continues is None:
            return np.zeros(len(self.question_ids), dtype=bool)
        return np.asarray(self.continues, dtype=bool)


@dataclass(frozen=True)
class Feedback:
    """The curriculum's answer to a `report`: which reported groups to train on, and whether the training
    batch is complete (learn now) or more requests follow first (probes, or more draws to fill a batch).

    `hold` (None: none) marks groups that are neither trained on nor dropped yet: keep their attempts; a later
    request names the question again with `continues` set, and its attempts join these (SPEED's screening)."""

    keep: np.ndarray  # bool, one per reported question id
    done: bool
    phase: str
    hold: np.ndarray | None = None

    def held(self) -> np.ndarray:
        """`hold` as a bool array (all False when None)."""
        return (
            np.zeros(len(self.keep), dtype=bool) if self.hold is None else np.asarray(self.hold, dtype=bool)
        )


def padded_rewards(flat: Any, counts: np.ndarray) -> np.ndarray:
    """Rewards of a request attempted `counts[i]` times at row i, concatenated row by row, as the (n, max
    count) float array `report` takes (NaN after each row's attempts)."""
    counts = np.asarray(counts, dtype=np.int64)
    width = int(counts.max()) if counts.size else 0
    out = np.full((counts.size, max(width, 1)), np.nan, dtype=np.float64)
    if width:
        out[np.arange(width)[None, :] < counts[:, None]] = np.asarray(flat, dtype=np.float64)
    return out


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


def report_rows(
    question_ids: Any,
    rewards: Any,
    phase: str,
    num_questions: int,
    min_attempts: int,
    solved_threshold: float,
    name: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A report checked and read: (question ids as int64, solved attempts per row, finished attempts per
    row); `min_attempts` is what each row of `name`'s report must be able to hold. Raises ValueError naming
    what is wrong."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    ids = np.asarray(question_ids)
    if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        raise ValueError(f"question_ids must be a 1-D array of ints, got shape {ids.shape} dtype {ids.dtype}")
    ids = ids.astype(np.int64, copy=False)
    if ids.size and (ids.min() < 0 or ids.max() >= num_questions):
        raise ValueError(f"question ids must lie in [0, {num_questions})")
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2 or r.shape[0] != ids.size:
        raise ValueError(f"rewards must have shape ({ids.size},) or ({ids.size}, G), got {np.shape(rewards)}")
    if r.shape[1] < min_attempts:
        raise ValueError(
            f"{name} scores each question from its own group of attempts: pass rewards of "
            f"shape (n, G) with G >= {min_attempts}, got {r.shape}"
        )
    tried = (~np.isnan(r)).sum(axis=1)
    solved = (r >= solved_threshold).sum(axis=1)  # NaN compares False
    return ids, solved, tried

"""Per-question statistics every curriculum keeps, in numpy arrays sized to the pool (16 bytes per question),
never in per-question Python objects: attempts, successes, the iteration last seen, and p, the share solved
in the question's latest group of attempts; plus the histogram of p and the pool's summed p(1 - p), kept
incrementally so that diagnostics never scan the pool.
"""

from __future__ import annotations

from typing import Any

import numpy as np

P_BINS = 10
#: an attempt counts as solved at a reward of at least this (the verifier's rewards: 1 right, 0 wrong): the
#: curricula's default `solved_threshold` and the trainer's train/accuracy and all- and none-solved shares
SOLVED_REWARD = 0.5


def learnability(p: np.ndarray | float) -> np.ndarray | float:
    """p(1 - p): the variance of a Bernoulli(p) reward, zero when every attempt agrees (the paper's score)."""
    return p * (1.0 - p)


def p_bins(p: np.ndarray) -> np.ndarray:
    """The histogram bin (of P_BINS over [0, 1]) of each p."""
    return np.minimum((p * P_BINS).astype(np.int64), P_BINS - 1)


class QuestionStats:
    """The statistics of a pool of `num_questions` questions (ids 0..n-1)."""

    #: state_dict key -> attribute (the keys curricula have always saved under)
    STATE = {
        "attempts": "attempts",
        "successes": "successes",
        "last_seen": "last_seen",
        "p": "p",
        "_p_hist": "p_hist",
        "_seen": "seen",
        "_learnability_sum": "learnability_sum",
    }

    def __init__(self, num_questions: int) -> None:
        n = num_questions
        self.attempts = np.zeros(n, dtype=np.int32)
        self.successes = np.zeros(n, dtype=np.int32)
        self.last_seen = np.full(n, -1, dtype=np.int32)  # iteration of the question's latest attempts
        self.p = np.full(
            n, np.nan, dtype=np.float32
        )  # share solved in the question's latest group of attempts
        self.p_hist = np.zeros(P_BINS, dtype=np.int64)
        self.seen = 0
        self.learnability_sum = 0.0

    def record(self, uniq: np.ndarray, a: np.ndarray, s: np.ndarray, iteration: int) -> None:
        """Add `a` attempts and `s` successes, made at `iteration`, to the questions `uniq` (unique); p becomes
        s / a and last_seen `iteration`, except where a question holds newer evidence (a late report of an
        older group adds its counts but leaves the newer estimate)."""
        newer = self.last_seen[uniq] <= iteration
        self.attempts[uniq] += a.astype(np.int32)
        self.successes[uniq] += s.astype(np.int32)
        uniq, a, s = uniq[newer], a[newer], s[newer]
        new_p = (s / a).astype(np.float32)
        old_p = self.p[uniq]
        was_seen = ~np.isnan(old_p)
        np.subtract.at(self.p_hist, p_bins(old_p[was_seen]), 1)
        np.add.at(self.p_hist, p_bins(new_p), 1)
        self.learnability_sum += float(
            learnability(new_p.astype(np.float64)).sum()
            - learnability(old_p[was_seen].astype(np.float64)).sum()
        )
        self.seen += int((~was_seen).sum())
        self.p[uniq] = new_p
        self.last_seen[uniq] = iteration

    def pool_learnability(self) -> float:
        """Mean p(1 - p) over the questions seen so far (nan before any)."""
        return self.learnability_sum / self.seen if self.seen else float("nan")

    def state_dict(self) -> dict[str, Any]:
        return {key: getattr(self, attr) for key, attr in self.STATE.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, attr in self.STATE.items():
            setattr(self, attr, state[key])


def per_question(
    ids: np.ndarray, solved: np.ndarray, tried: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A report's groups summed by question: (unique ids, attempts, successes); groups with no finished attempt
    are left out (a question can appear in several groups of one report)."""
    has = tried > 0
    uniq, inv = np.unique(ids[has], return_inverse=True)
    a = np.bincount(inv, weights=tried[has]).astype(np.int64)
    s = np.bincount(inv, weights=solved[has]).astype(np.int64)
    return uniq, a, s

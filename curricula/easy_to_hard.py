"""A fixed schedule over difficulty: start on the easiest questions, widen to the whole pool."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from curricula.protocol import Curriculum
from curricula.statistics import SOLVED_REWARD


def difficulty_from_questions(questions: Sequence[Any], curriculum: str = "easy_to_hard") -> np.ndarray:
    """Per-question difficulty: the dataset's labels (MATH levels, arithmetic levels), else the length of
    the worked solution (GSM8K); raises ValueError when the pool has neither."""
    labels = [q.difficulty for q in questions]
    if all(d is not None for d in labels):
        return np.asarray(labels, dtype=np.float64)
    solutions = [q.solution for q in questions]
    if all(solutions):
        return np.fromiter((len(s) for s in solutions), dtype=np.float64, count=len(solutions))
    missing = sum(d is None and not s for d, s in zip(labels, solutions, strict=True))
    raise ValueError(
        f"{curriculum} needs a difficulty per question, but {missing} of {len(questions)} questions "
        f"have neither a difficulty label nor a worked solution; pass difficulty=[...] yourself or "
        f"choose another curriculum"
    )


def checked_difficulty(curriculum: Curriculum, difficulty: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """The difficulty a difficulty-driven curriculum (easy_to_hard, adarft) was given, as floats: one finite
    number per question, or one line saying what to pass."""
    curriculum._require(
        difficulty is not None,
        "needs difficulty=[one number per question] (labels, or solution length for GSM8K); "
        "curricula.make(..., questions=pool) and the wrapper read them from the pool",
    )
    d = np.asarray(difficulty, dtype=np.float64)
    curriculum._require(
        d.shape == (curriculum.num_questions,),
        f"difficulty has shape {d.shape}; pass one number per question ({curriculum.num_questions})",
    )
    curriculum._require(bool(np.isfinite(d).all()), "difficulty holds NaN or inf; label every question")
    return d


class EasyToHard(Curriculum):
    """Competence-based curriculum (Platanios et al. 2019, "Competence-based Curriculum Learning for Neural
    Machine Translation", NAACL): at iteration t a share c(t) of the pool, the easiest, is open and each batch
    is drawn uniformly from it. c(t) is their linear competence (the default),

        c(t) = min(1, t * (1 - c0) / T + c0),

    or, with `pacing="sqrt"`, their square-root competence c(t) = min(1, sqrt(t * (1 - c0^2) / T + c0^2)),
    with c0 = `start` and T = `ramp_iterations`. As in the paper, a question is open when the share of the
    pool at most as difficult as it (its difficulty CDF) is <= c(t). Differences: t counts training
    iterations, not their steps; c0 defaults to 0.1 (theirs 0.01) so the first batches are not drawn from a
    handful of questions; at least a batch is always open. Ties within a difficulty level are broken in a
    seeded random order, so the frontier moves smoothly.
    """

    name = "easy_to_hard"
    options_doc: ClassVar[dict[str, str]] = {
        "difficulty": "one number per question (read from the pool's labels when not given)",
        "start": "c0: share of the pool open at the first iteration",
        "ramp_iterations": "T: iterations until the whole pool is open",
        "pacing": "linear or sqrt competence",
    }
    needs_difficulty = True
    _state_keys = ("order", "rank")

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        difficulty: Sequence[float] | np.ndarray | None = None,
        start: float = 0.1,
        ramp_iterations: int = 500,
        pacing: str = "linear",
        batch_size: int = 64,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        super().__init__(num_questions, seed, batch_size=batch_size, solved_threshold=solved_threshold)
        d = checked_difficulty(self, difficulty)
        self._require(
            0.0 < start <= 1.0, f"start (share of the pool open at first) must lie in (0, 1], got {start!r}"
        )
        self._require(
            isinstance(ramp_iterations, int) and ramp_iterations >= 1,
            f"ramp_iterations must be an int >= 1, got {ramp_iterations!r}",
        )
        self._require(
            pacing in ("linear", "sqrt"),
            f"pacing must be 'linear' or 'sqrt' (Platanios et al.'s competence functions), got {pacing!r}",
        )
        self.start, self.ramp_iterations, self.pacing = float(start), ramp_iterations, pacing
        self.config.update(start=self.start, ramp_iterations=ramp_iterations, pacing=pacing, difficulty=d)
        self._difficulty = d
        self._restart()

    def _restart(self):
        # the seeded tie-break order is part of the random stream: seed(s) redraws it as make(seed=s) would
        dtype = np.int32 if self.num_questions < 2**31 else np.int64
        self.order = np.lexsort((self.rng.random(self.num_questions), self._difficulty)).astype(
            dtype
        )  # easiest first
        self.rank = np.empty_like(self.order)
        self.rank[self.order] = np.arange(self.num_questions, dtype=dtype)

    def frontier(self) -> float:
        """Share of the pool open at the current iteration: the competence c(t)."""
        t = self.iteration / self.ramp_iterations
        if self.pacing == "sqrt":
            return min(1.0, math.sqrt(t * (1.0 - self.start**2) + self.start**2))
        return min(1.0, t * (1.0 - self.start) + self.start)

    def open_count(self) -> int:
        """How many of the easiest questions are open (at least a batch)."""
        cached = self.__dict__.get("_open")
        if (
            cached is None or cached[0] != self.iteration
        ):  # question_info asks every episode: once per iteration
            cached = self._open = (
                self.iteration,
                max(self.batch_size, math.ceil(self.frontier() * self.num_questions)),
            )
        return cached[1]

    def _sample(self, n: int | None = None) -> np.ndarray:
        n, m = self._n(n), self.open_count()
        return self.order[self.rng.choice(m, n, replace=n > m)].astype(np.int64)

    def _in_buffer(self, question_id: int) -> bool:
        return bool(self.rank[question_id] < self.open_count())

    def _sampling_prob(self, question_id: int) -> float:
        m = self.open_count()
        return 1.0 / m if self.rank[question_id] < m else 0.0

    def diagnostics(self) -> dict[str, Any]:
        out = super().diagnostics()
        out["curriculum/frontier"] = self.frontier()
        out["curriculum/frontier_difficulty"] = float(self._difficulty[self.order[self.open_count() - 1]])
        return out

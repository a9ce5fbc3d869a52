"""AdaRFT (Shi et al. 2025, arXiv 2504.05520): a target difficulty that follows the batch's reward, and batches
of the questions whose difficulty is nearest to it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from curricula.easy_to_hard import checked_difficulty
from curricula.protocol import Curriculum
from curricula.statistics import SOLVED_REWARD

#: AdaRFT's difficulty scale: 100 x (1 - a reference model's success rate); labels are mapped onto it
SCALE = 100.0


class AdaRFT(Curriculum):
    """Adaptive curriculum reinforcement finetuning: move a target difficulty T with the reward, draw nearest.

    The method of arXiv 2504.05520 (its update rule and batch selection, as the paper states them; the
    defaults from its experiments): each step takes the batch of B questions with the smallest
    |d_i - T| (Delta_i = |d_i - T|), attempts them, and with R_avg, the batch's mean reward, updates

        T' = clip(T + eta * tanh(alpha * (R_avg - beta)), d_min, d_max)

    so T rises while the model solves more than the target share beta and falls while it solves less. The
    paper's defaults: beta = 0.5, alpha = 2, eta = 50 on difficulties in [0, 100], T0 = 0 (the easiest).

    Difficulties: the paper scores each question by 100 x (1 - success rate of a reference model); here any
    per-question difficulty (the pool's labels: arithmetic and MATH levels, else the worked solution's length,
    as for `easy_to_hard`) is mapped linearly onto [0, 100] (min -> 0, max -> 100), so eta keeps the paper's
    meaning of a step of half the range. Ties in |d - T| at the edge of the batch (many questions share a
    level) are broken at random on every draw. R_avg is the share of the iteration's training attempts
    solved (the mean reward for 0/1 rewards), over every report that closes into the iteration (late ones too).
    Difference, for asynchronous rollouts only: the step is taken from the target the reported questions were
    drawn at (their mean, weighted by attempts), which is T itself in a synchronous loop; stepping from the
    current T by rewards of questions drawn at an older T integrates stale errors and overshoots (measured:
    learnable share 69% -> 46% at lag 4 before this).

    Cost: O(B log n) per batch over a sorted copy of the difficulties (12 bytes per question); no pass over
    the pool.
    """

    name = "adarft"
    needs_difficulty: ClassVar[bool] = True
    options_doc: ClassVar[dict[str, str]] = {
        "difficulty": "one number per question (read from the pool's labels when not given)",
        "eta": "step size of the target difficulty, on the [0, 100] scale",
        "alpha": "sensitivity of the step to the reward gap (tanh(alpha * (R_avg - beta)))",
        "beta": "target mean reward: T rises above it and falls below it",
        "start": "initial target difficulty T0 on [0, 100] (0: the easiest questions)",
    }
    _state_keys = ("target", "_reward_sums", "_history")

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        difficulty: Sequence[float] | np.ndarray | None = None,
        eta: float = 50.0,
        alpha: float = 2.0,
        beta: float = 0.5,
        start: float = 0.0,
        batch_size: int = 64,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        super().__init__(num_questions, seed, batch_size=batch_size, solved_threshold=solved_threshold)
        d = checked_difficulty(self, difficulty)
        self._require(eta >= 0, f"eta (the step size) must be >= 0, got {eta!r}")
        self._require(alpha > 0, f"alpha (the sensitivity) must be > 0, got {alpha!r}")
        self._require(0.0 <= beta <= 1.0, f"beta (the target mean reward) must lie in [0, 1], got {beta!r}")
        self._require(0.0 <= start <= SCALE, f"start (T0) must lie in [0, {SCALE:g}], got {start!r}")
        self.eta, self.alpha, self.beta = float(eta), float(alpha), float(beta)
        self.config.update(eta=self.eta, alpha=self.alpha, beta=self.beta, start=float(start), difficulty=d)
        span = float(d.max() - d.min())
        scaled = (d - d.min()) * (SCALE / span) if span > 0 else np.zeros_like(d)
        dtype = np.int32 if self.num_questions < 2**31 else np.int64
        self._by_difficulty = np.argsort(scaled, kind="stable").astype(dtype)
        self._sorted = scaled[self._by_difficulty]
        self.target = float(start)
        self._reward_sums = [
            0,
            0,
            0.0,
        ]  # the iteration's solved and finished training attempts, sum of T drawn at
        self._history: dict[int, float] = {0: self.target}  # T at each recent iteration, for late reports

    def nearest(self, n: int) -> np.ndarray:
        """The n questions with the smallest |d - T|, ties at the edge drawn at random."""
        d, T, size = self._sorted, self.target, self.num_questions
        pos = int(np.searchsorted(d, T))
        lo, hi = max(0, pos - n), min(size, pos + n)  # the n nearest are among these, and a tie may go beyond
        dist = np.abs(d[lo:hi] - T)
        edge = np.partition(dist, n - 1)[n - 1] if n else 0.0
        inside = lo + np.flatnonzero(dist < edge)
        ranges = [  # every question at the edge distance, below T and above it (exact values, not T -+ edge)
            (int(np.searchsorted(d, v, "left")), int(np.searchsorted(d, v, "right")))
            for v in np.unique(d[lo:hi][dist == edge])
        ]
        tied = sum(b - a for a, b in ranges)
        pick = np.sort(self.rng.choice(tied, n - inside.size, replace=False)) if n > inside.size else []
        chosen = list(inside)
        for k in pick:
            for a, b in ranges:
                if k < b - a:
                    chosen.append(a + int(k))
                    break
                k -= b - a
        return self._by_difficulty[np.asarray(chosen, dtype=np.int64)].astype(np.int64)

    def _sample(self, n: int | None = None) -> np.ndarray:
        ids = self.nearest(self._n(n))
        self.rng.shuffle(ids)
        return ids

    def _after_update(self, ids, solved, tried, phase):
        if phase == "train":
            drawn_at = self._history.get(self.iteration - self.report_lag, self.target)
            self._reward_sums[0] += int(solved.sum())
            self._reward_sums[1] += int(tried.sum())
            self._reward_sums[2] += float(drawn_at) * int(tried.sum())

    def _close_batch(self) -> None:
        solved, tried, t_sum = self._reward_sums
        if tried:
            # the step moves from the target the rewarded questions were drawn at: T itself in a synchronous
            # loop; under late reports, the older target (stepping from T by stale rewards overshoots)
            step = self.eta * math.tanh(self.alpha * (solved / tried - self.beta))
            self.target = min(max(t_sum / tried + step, 0.0), SCALE)
        self._reward_sums = [0, 0, 0.0]
        self._history[self.iteration + 1] = self.target
        self._history.pop(self.iteration + 1 - 64, None)  # reports later than 64 iterations use T now

    def _restart(self) -> None:
        self._history[self.iteration] = self.target

    def _sampling_prob(self, question_id: int) -> float:
        return math.nan  # ties at the edge of the nearest set are drawn afresh each batch

    def diagnostics(self) -> dict[str, Any]:
        out = super().diagnostics()
        out["curriculum/target_difficulty"] = self.target
        return out

"""DAPO's dynamic sampling (Yu et al. 2025): drop question groups whose attempts all agree, draw more."""

from __future__ import annotations

import math

import numpy as np

from curricula.base import Curriculum


class ZeroVarianceFilter(Curriculum):
    """Train only on groups with both solved and unsolved attempts (non-zero advantage).

    DAPO regenerates until the batch is full; to keep one call per batch, `sample(n)` instead draws
    `oversample * n` uniform candidates up front, with `oversample` = 1 / (recent share of informative
    groups) capped at `max_oversample` unless fixed; `update` keeps at most `n` informative groups. A batch
    can still come out short when informative groups are rarer than the cap allows.
    """

    name = "zero_variance_filter"
    min_attempts = 2
    _state_keys = ("informative_share", "_target")

    def __init__(self, num_questions: int, seed: int = 0, *, oversample: float | None = None,
                 max_oversample: float = 3.0, batch_size: int = 64, solved_threshold: float = 0.5) -> None:
        super().__init__(num_questions, seed, batch_size=batch_size, solved_threshold=solved_threshold)
        self._require(max_oversample >= 1, f"max_oversample must be >= 1, got {max_oversample!r}")
        self._require(oversample is None or 1 <= oversample <= max_oversample,
                      f"oversample must be None (adaptive) or in [1, max_oversample={max_oversample}], got {oversample!r}")
        most = math.ceil((oversample or max_oversample) * self.batch_size)
        self._require(most <= self.num_questions,
                      f"up to {most} candidates per batch exceed the pool of {self.num_questions} questions: "
                      f"lower max_oversample or batch_size, or use a larger pool")
        self.oversample, self.max_oversample = oversample, float(max_oversample)
        self.config.update(oversample=oversample, max_oversample=self.max_oversample)
        self.informative_share = 1.0  # running share of groups whose attempts disagree
        self._target = 0  # groups wanted by the latest sample(n)

    def _sample(self, n: int | None = None) -> np.ndarray:
        n = self._n(n)
        factor = self.oversample or min(self.max_oversample, 1.0 / max(self.informative_share, 1e-9))
        self._target = n
        return self._draw_uniform(math.ceil(factor * n))

    def _restart(self):
        self._target = 0

    def _keep(self, ids, solved, tried, phase):
        informative = (tried >= 2) & (solved > 0) & (solved < tried)
        if phase == "probe":
            return np.zeros(len(ids), dtype=bool)
        if (tried > 0).any():
            share = informative.sum() / (tried > 0).sum()
            self.informative_share = 0.5 * self.informative_share + 0.5 * float(share)
        if self._target:
            informative &= np.cumsum(informative) <= self._target
        self._target = 0
        return informative

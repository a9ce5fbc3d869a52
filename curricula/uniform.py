"""The paper's baseline: every question once per epoch, in a seeded random order."""

from __future__ import annotations

import numpy as np

from curricula.protocol import Curriculum


class Uniform(Curriculum):
    """Uniform sampling without replacement per epoch (what a shuffled data loader does)."""

    name = "uniform"

    def _sample(self, n: int | None = None) -> np.ndarray:
        return self._draw_uniform(self._n(n))

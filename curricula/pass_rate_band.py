"""Balanced online difficulty filtering (Bae et al. 2025, arXiv 2504.03380): train only on groups whose pass
rate lies in a band [low, high], drawing more until the batch is full."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from curricula.statistics import SOLVED_REWARD
from curricula.zero_variance import ZeroVarianceFilter


class PassRateBand(ZeroVarianceFilter):
    """Keep the groups whose share of solved attempts lies in [low, high], both edges included; refill.

    The balanced filter of arXiv 2504.03380 (its Figure 1's filtered "stack" of rollouts): attempt a
    generation batch, keep the groups with low <= pass rate <= high, and sample again until `batch_size`
    groups are kept; the same loop as DAPO's dynamic sampling (`zero_variance_filter`, whose band is the open
    (0, 1)), and the band-pass filter asked for in verl issue 2791 (its example band is [0.2, 0.8], edges
    included in the pull request that answered it). Only the paper's abstract and third-party summaries were
    readable here (2026-12-07): the default band [0.25, 0.75], its inclusive edges and the refill rule are
    not checked against the paper's method text (one summary gives the band as an open interval). With
    G = 8 and these defaults, pass rates 2/8 and 6/8 are kept, 1/8 and 7/8 are not.

    `max_num_gen_batches` caps the generation batches of one training batch (the first draw and its refills;
    0 = no cap): at the cap the batch ends short, with a warning, as `zero_variance_filter` does (and as
    MoPPS's released DAPO trainer does at its cap of 10).
    """

    name = "pass_rate_band"
    options_doc: ClassVar[dict[str, str]] = {
        "low": "lowest pass rate kept (inclusive; default band [0.25, 0.75], unchecked against the paper's text)",
        "high": "highest pass rate kept (inclusive)",
        "gen_batch_size": "questions per generation batch (None: batch_size)",
        "max_num_gen_batches": "cap on generation batches (first draw + refills) per training batch; 0: none",
    }

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        low: float = 0.25,
        high: float = 0.75,
        gen_batch_size: int | None = None,
        max_num_gen_batches: int = 10,
        batch_size: int = 64,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        super().__init__(
            num_questions,
            seed,
            gen_batch_size=gen_batch_size,
            max_num_gen_batches=max_num_gen_batches,
            batch_size=batch_size,
            solved_threshold=solved_threshold,
        )
        self._require(
            0.0 <= low <= high <= 1.0,
            f"the band [low, high] must satisfy 0 <= low <= high <= 1, got low={low!r}, high={high!r}",
        )
        self.low, self.high = float(low), float(high)
        self.config.update(low=self.low, high=self.high)

    def _informative(self, solved: np.ndarray, tried: np.ndarray) -> np.ndarray:
        # s >= low * t rather than s / t >= low, so that 2/8 sits exactly on the edge 0.25 whatever the rounding
        return (tried >= 2) & (solved >= self.low * tried - 1e-9) & (solved <= self.high * tried + 1e-9)

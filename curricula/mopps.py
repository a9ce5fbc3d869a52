"""MoPPS (Qu et al. 2025, arXiv 2507.04632): a discounted Beta posterior of each question's success rate,
Thompson samples of it, and the batch of candidates whose samples are nearest a target success rate."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from curricula.protocol import Curriculum
from curricula.statistics import SOLVED_REWARD


class MoPPS(Curriculum):
    """Model Predictive Prompt Selection, as its paper and released code (thu-rllab/MoPPS) run it.

    Question i has a Beta(alpha_i, beta_i) posterior of its success rate, the prior Beta(a0, b0) = Beta(1, 1)
    until it is attempted. Each report of s successes and f failures at i updates it once (the streaming
    Bayesian update with forgetting of the paper, as `PosteriorSampler.train` in recipe/ours/mopps.py runs it):

        alpha_i <- lambda alpha_i + (1 - lambda) a0 + s,     beta_i <- lambda beta_i + (1 - lambda) b0 + f

    A training request draws `ratio x n` candidates (the epoch order stands for MoPPS's data loader, which
    draws `ts_ratio` x the batch but drops an epoch's last partial draw, where this order runs on into the
    next), samples p~_i ~ Beta(alpha_i, beta_i) for each (Thompson sampling) and returns the n with the
    smallest (p~_i - target)^2 (its "topk" strategy, `PosteriorSampler.sample_batch`, target 0.5). No probes:
    every attempt made is a training attempt. Defaults are the released math scripts'
    (`math_verl_*_topk_noinit.sh`): ratio 16, lambda 1 (no forgetting); its countdown and geometry
    scripts use ratio 8 and lambda 0.5.

    How it differs from `posterior` (a variant written here before): `posterior` discounts every question
    once per training iteration whether attempted or not (lambda 0.99) and ranks by p~(1 - p~), the same
    order as nearness to 0.5 but with no other target; this class discounts once per update of the question,
    as MoPPS does, and takes any target. Late reports (asynchronous rollouts) update when they arrive, as
    MoPPS, a synchronous trainer, would have if it had seen them then.

    Cost: O(ratio x n) per batch; 8 bytes per question (alpha and beta as float32).
    """

    name = "mopps"
    options_doc: ClassVar[dict[str, str]] = {
        "ratio": "candidates drawn per question chosen (MoPPS's ts_ratio)",
        "forgetting": "lambda: weight of the old posterior at each update of a question (1: none)",
        "target": "success rate the chosen questions' Thompson samples should be nearest",
        "prior": "(a0, b0) of the Beta prior",
    }
    _state_keys = ("alpha", "beta", "_picked")

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        ratio: float = 16,
        forgetting: float = 1.0,
        target: float = 0.5,
        prior: tuple[float, float] = (1.0, 1.0),
        batch_size: int = 64,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        super().__init__(num_questions, seed, batch_size=batch_size, solved_threshold=solved_threshold)
        self._require(ratio >= 1, f"ratio (candidates per question chosen) must be >= 1, got {ratio!r}")
        self._require(
            math.ceil(ratio * self.batch_size) <= self.num_questions,
            f"ratio * batch_size = {math.ceil(ratio * self.batch_size)} candidates exceed the pool of "
            f"{self.num_questions} questions: lower ratio or batch_size, or use a larger pool",
        )
        self._require(0.0 <= forgetting <= 1.0, f"forgetting (lambda) must lie in [0, 1], got {forgetting!r}")
        self._require(0.0 <= target <= 1.0, f"target (a success rate) must lie in [0, 1], got {target!r}")
        a0, b0 = (float(x) for x in prior)
        self._require(a0 > 0 and b0 > 0, f"prior (a0, b0) must be two positive numbers, got {prior!r}")
        self.ratio, self.forgetting, self.target, self.prior = (
            float(ratio),
            float(forgetting),
            float(target),
            (a0, b0),
        )
        self.config.update(ratio=self.ratio, forgetting=self.forgetting, target=self.target, prior=self.prior)
        self.alpha = np.full(self.num_questions, a0, dtype=np.float32)
        self.beta = np.full(self.num_questions, b0, dtype=np.float32)
        self._picked = math.nan  # mean |p~ - target| of the latest picks

    def _sample(self, n: int | None = None) -> np.ndarray:
        n = self._n(n)
        candidates = self._draw_uniform(math.ceil(self.ratio * n))
        p = self.rng.beta(self.alpha[candidates].astype(np.float64), self.beta[candidates].astype(np.float64))
        gap = (p - self.target) ** 2
        best = np.argsort(gap, kind="stable")[:n]  # candidates come in random order: fair ties
        self._picked = float(np.sqrt(gap[best]).mean()) if n else math.nan
        return candidates[best]

    def _observe(self, ids, attempts, successes):
        lam, (a0, b0) = self.forgetting, self.prior
        self.alpha[ids] = lam * self.alpha[ids] + (1 - lam) * a0 + successes
        self.beta[ids] = lam * self.beta[ids] + (1 - lam) * b0 + (attempts - successes)

    def _sampling_prob(self, question_id: int) -> float:
        return math.nan  # Thompson sampling over random candidates has no closed form

    def diagnostics(self) -> dict[str, Any]:
        out = super().diagnostics()
        out["curriculum/picked_gap"] = self._picked
        return out

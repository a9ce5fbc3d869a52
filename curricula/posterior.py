"""Learnability at zero probe cost: a Beta posterior of each question's success rate from the attempts
training makes anyway, and Thompson sampling of p(1 - p) (after MoPPS, Qu et al. 2025, arXiv 2507.04632)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from curricula.protocol import Curriculum
from curricula.statistics import SOLVED_REWARD, learnability


class Posterior(Curriculum):
    """Choose each batch by posterior samples of learnability; no probes.

    Every reported attempt (training or probe) updates question i's Beta(alpha_i, beta_i) posterior of its
    success rate: alpha_i = a0 + w_i S_i, beta_i = b0 + w_i F_i, where S_i, F_i are its discounted successes
    and failures and w_i = forgetting ** (iterations since they were last updated). Since the policy changes
    every iteration, old evidence fades back to the prior Beta(a0, b0); a question never attempted has the
    prior. Attempts reported late (asynchronous rollouts) are dated by their request: they arrive already
    discounted by forgetting ** report_lag. A training request draws `ratio x n` candidates uniformly (the epoch order), samples
    p~_i ~ Beta(alpha_i, beta_i) for each (Thompson sampling) and returns the n with the highest
    p~_i (1 - p~_i), which is MoPPS's "top-k closest to 0.5" rule. Candidates are only scored, never
    attempted: every attempt made is a training attempt.

    Differences from MoPPS (thu-rllab/MoPPS, recipe/ours/): MoPPS decays a prompt's counts by lambda once
    per update of that prompt (its default lambda is 1, no decay); here the discount is per training
    iteration, whether or not the question was attempted, so an estimate fades while the policy moves on.
    MoPPS takes the candidates from its data loader (`ts_ratio` x the batch); here from the epoch order.

    Cost: O(ratio x n) per batch (the candidates' posteriors and Beta samples), 8 bytes per question for
    S and F; nothing scans the pool.
    """

    name = "posterior"
    options_doc: ClassVar[dict[str, str]] = {
        "ratio": "candidates scored per question chosen",
        "forgetting": "lambda: discount of the evidence per training iteration",
        "prior": "(a0, b0) of the Beta prior",
    }
    _state_keys = ("successes_w", "failures_w", "_picked_score", "_picked_evidence")

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        ratio: float = 4,
        forgetting: float = 0.99,
        prior: tuple[float, float] = (1.0, 1.0),
        batch_size: int = 64,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        super().__init__(num_questions, seed, batch_size=batch_size, solved_threshold=solved_threshold)
        self._require(
            ratio >= 1, f"ratio (candidates scored per question chosen) must be >= 1, got {ratio!r}"
        )
        self._require(
            math.ceil(ratio * self.batch_size) <= self.num_questions,
            f"ratio * batch_size = {math.ceil(ratio * self.batch_size)} candidates exceed the pool of "
            f"{self.num_questions} questions: lower ratio or batch_size, or use a larger pool",
        )
        self._require(
            0.0 < forgetting <= 1.0,
            f"forgetting (the discount per iteration) must lie in (0, 1], got {forgetting!r}",
        )
        a0, b0 = (float(x) for x in prior)
        self._require(a0 > 0 and b0 > 0, f"prior (a0, b0) must be two positive numbers, got {prior!r}")
        self.ratio, self.forgetting, self.prior = float(ratio), float(forgetting), (a0, b0)
        self.config.update(ratio=self.ratio, forgetting=self.forgetting, prior=self.prior)
        self.successes_w = np.zeros(self.num_questions, dtype=np.float32)  # discounted to last_seen
        self.failures_w = np.zeros(self.num_questions, dtype=np.float32)
        self._picked_score = math.nan  # mean sampled p(1-p) of the latest batch's picks
        self._picked_evidence = math.nan  # mean discounted attempts behind their posteriors

    @property
    def request_size(self) -> int:
        return self.batch_size

    def posterior(self, question_ids: Any) -> tuple[np.ndarray, np.ndarray]:
        """(alpha, beta) of each question's Beta posterior at the current iteration."""
        ids = np.asarray(question_ids, dtype=np.int64)
        w = self._weight(ids)
        return self.prior[0] + w * self.successes_w[ids], self.prior[1] + w * self.failures_w[ids]

    def _weight(self, ids: np.ndarray) -> np.ndarray:
        """forgetting ** (iterations since each question's evidence was last updated); 0 if it has none."""
        age = self.iteration - self.last_seen[ids].astype(np.float64)
        return np.where(self.last_seen[ids] >= 0, self.forgetting**age, 0.0)

    def _sample(self, n: int | None = None) -> np.ndarray:
        n = self._n(n)
        candidates = self._draw_uniform(math.ceil(self.ratio * n))
        alpha, beta = self.posterior(candidates)
        p = self.rng.beta(alpha, beta)
        score = learnability(p)
        best = np.argsort(-score, kind="stable")[:n]  # candidates come in random order: fair ties
        self._picked_score = float(score[best].mean()) if n else math.nan
        self._picked_evidence = float((alpha[best] + beta[best]).mean() - sum(self.prior)) if n else math.nan
        return candidates[best]

    def _observe(self, ids, attempts, successes):
        # the sums are discounted to last_seen, which becomes max(last_seen, issued) (curricula.statistics):
        # bring the old evidence and the new attempts (made report_lag iterations ago) both to that date
        issued = self.iteration - self.report_lag
        seen = self.last_seen[ids].astype(np.float64)
        date = np.maximum(seen, issued)
        w = np.where(seen >= 0, self.forgetting ** (date - seen), 0.0)
        late = self.forgetting ** (date - issued)
        self.successes_w[ids] = w * self.successes_w[ids] + late * successes
        self.failures_w[ids] = w * self.failures_w[ids] + late * (attempts - successes)

    def _sampling_prob(self, question_id: int) -> float:
        return math.nan  # Thompson sampling over random candidates has no closed form

    def diagnostics(self) -> dict[str, Any]:
        out = super().diagnostics()
        out["curriculum/picked_learnability"] = self._picked_score
        out["curriculum/picked_evidence"] = self._picked_evidence
        return out

"""GRESO (Zheng et al. 2025, arXiv 2506.02177): skip, before any rollout, the questions whose recent groups
all agreed, with a probability that grows with the length of that run; the base probabilities adapt to hold
a target share of zero-variance groups. No probes: the history is the training groups themselves."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from curricula.statistics import SOLVED_REWARD
from curricula.zero_variance import ZeroVarianceFilter


class Greso(ZeroVarianceFilter):
    """Pre-rollout probabilistic skipping on top of DAPO's dynamic sampling.

    Each question keeps the run z of its latest consecutive zero-variance groups: all solved ("easy", z > 0)
    or none solved ("hard", z < 0); any mixed group resets it. Building a generation batch, a candidate from
    the epoch order is skipped before rollout with probability

        P_skip = 1 - max(p ** |z|, min_keep_prob)        (p = p_easy if easy, p_hard if hard)

    (the paper's probabilistic pre-rollout filter with its exploration probability p, and the 1% floor, as in the
    released code: Infini-AI-Lab/GRESO, `DataProfiler.easy_probabilistic_skip` / `hard_probabilistic_skip`).
    Candidates are drawn until `gen_batch_size` survive; the survivors are attempted and filtered as by
    `zero_variance_filter` (keep groups whose attempts disagree, draw again until `batch_size` are kept).
    From the second epoch on (the released trainer adapts only when `epoch > 0`: the first pass over the pool
    fills every question's history first), at the end of each training batch the base probabilities adapt
    (the paper's self-adjusting exploration probability; the released trainer's `p_easy` / `p_hard`
    update): if the share of all-solved groups among the iteration's generated groups
    is at least target / 3, p_easy -= step (skip more), else p_easy += step; the same for none-solved groups
    against 2 target / 3 and p_hard (the code gives hard questions two thirds of the target: they are the
    likelier to change as the policy improves); both stay in [p_min, p_max]. Defaults are the released
    scripts': p_easy = p_hard = 0.5, target 0.25, step 0.01, [0.05, 0.95].

    Differences: the paper counts runs over epochs; a question is drawn once per epoch from the epoch order
    here, so a run counts its latest groups as the code's trace does. The released trainer adapts the
    generation batch size to the zero-variance rate (1.5x its estimate); here a generation batch is
    `gen_batch_size` survivors, at most `max_num_gen_batches` of them (the code has no cap). Rewards are the
    env's (the code's math reward gives 1 / 0.1 / 0 for right / formatted / unformatted). The first epoch
    ends here when the draws from the epoch order exceed the pool (skipped draws count: the code's epoch is
    a pass over its dataloader). State: one int8 per question (z, clipped to +-127, where p ** 127 is below
    any floor), and the draws so far; a state saved before the draws were counted loads as past the first
    epoch (it adapted from its first batch, and keeps doing so).
    """

    name = "greso"
    options_doc: ClassVar[dict[str, str]] = {
        "p_easy": "initial base keep probability p of all-solved questions (skip: 1 - p^z)",
        "p_hard": "initial base keep probability p of none-solved questions",
        "target_zero_variance": "share of zero-variance groups to hold (1/3 all-solved, 2/3 none-solved)",
        "step": "change of p_easy / p_hard per training batch",
        "p_min": "lowest p_easy / p_hard",
        "p_max": "highest p_easy / p_hard",
        "min_keep_prob": "floor of the keep probability p^z (the skip probability never exceeds 1 - floor)",
        "gen_batch_size": "questions attempted per generation batch, after skipping (None: batch_size)",
        "max_num_gen_batches": "cap on generation batches per training batch; 0: none",
    }
    _state_keys = (
        *ZeroVarianceFilter._state_keys,
        "streak",
        "p_easy",
        "p_hard",
        "_zero_counts",
        "_skipped",
        "_last_skipped",
        "_draws",
    )

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        p_easy: float = 0.5,
        p_hard: float = 0.5,
        target_zero_variance: float = 0.25,
        step: float = 0.01,
        p_min: float = 0.05,
        p_max: float = 0.95,
        min_keep_prob: float = 0.01,
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
            0.0 < p_min <= p_max <= 1.0, f"need 0 < p_min <= p_max <= 1, got p_min={p_min}, p_max={p_max}"
        )
        for label, v in (("p_easy", p_easy), ("p_hard", p_hard)):
            self._require(
                p_min <= v <= p_max, f"{label}={v!r} must lie in [p_min, p_max] = [{p_min}, {p_max}]"
            )
        self._require(0.0 <= target_zero_variance <= 1.0, "target_zero_variance must lie in [0, 1]")
        self._require(step >= 0.0, f"step must be >= 0, got {step!r}")
        self._require(0.0 < min_keep_prob <= 1.0, f"min_keep_prob must lie in (0, 1], got {min_keep_prob!r}")
        self.target_zero_variance, self.step = float(target_zero_variance), float(step)
        self.p_min, self.p_max, self.min_keep_prob = float(p_min), float(p_max), float(min_keep_prob)
        self.config.update(
            p_easy=float(p_easy),
            p_hard=float(p_hard),
            target_zero_variance=self.target_zero_variance,
            step=self.step,
            p_min=self.p_min,
            p_max=self.p_max,
            min_keep_prob=self.min_keep_prob,
        )
        self.p_easy, self.p_hard = float(p_easy), float(p_hard)
        self.streak = np.zeros(self.num_questions, dtype=np.int8)  # +z: z all-solved in a row, -z: none
        self._zero_counts = [0, 0, 0]  # this iteration's generated groups: all solved, none solved, all
        self._skipped = 0  # candidates skipped before rollout for the batch in progress
        self._last_skipped = 0
        self._draws = 0  # candidates drawn from the epoch order (skipped or not): the first epoch's end

    def keep_probability(self, question_ids: Any) -> np.ndarray:
        """Probability that each question survives the pre-rollout filter now: max(p ** |z|, floor), 1 for a
        question whose latest group was mixed (or that was never attempted)."""
        z = self.streak[np.asarray(question_ids, dtype=np.int64)].astype(np.float64)
        base = np.where(z > 0, self.p_easy, self.p_hard)
        return np.where(z == 0, 1.0, np.maximum(base ** np.abs(z), self.min_keep_prob))

    def _sample(self, n: int | None = None) -> np.ndarray:
        if not self._target:
            self._target = self._n(n)
        need = math.ceil(self.gen_batch_size * self._target / self.batch_size)
        out: list[np.ndarray] = []
        while need > 0:
            order = self._epoch()
            pos = self._order_pos
            chunk = order[pos : pos + max(2 * need, 64)].astype(np.int64)
            survive = np.flatnonzero(self.rng.random(chunk.size) < self.keep_probability(chunk))[:need]
            used = int(survive[-1]) + 1 if survive.size == need else chunk.size  # draws past it stay unread
            self._order_pos += used
            self._draws += used
            self._skipped += used - survive.size
            out.append(chunk[survive])
            need -= survive.size
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def _observe(self, ids, attempts, successes):
        # only a group at least as recent as the question's latest one moves its run (late reports)
        newer = self.last_seen[ids] <= self.iteration - self.report_lag
        ids, attempts, successes = ids[newer], attempts[newer], successes[newer]
        z = self.streak[ids].astype(np.int16)
        easy, hard = successes == attempts, successes == 0
        z = np.where(easy, np.maximum(z, 0) + 1, np.where(hard, np.minimum(z, 0) - 1, 0))
        self.streak[ids] = np.clip(z, -127, 127).astype(np.int8)

    def _after_update(self, ids, solved, tried, phase):
        if phase != "train":
            return
        attempted = tried > 0
        self._zero_counts[0] += int((attempted & (solved == tried)).sum())
        self._zero_counts[1] += int((attempted & (solved == 0)).sum())
        self._zero_counts[2] += int(attempted.sum())

    def _close_batch(self) -> None:
        easy, hard, total = self._zero_counts
        if total and self.past_first_epoch:
            t = self.target_zero_variance
            self.p_easy = self._move(self.p_easy, easy / total >= t / 3)
            self.p_hard = self._move(self.p_hard, hard / total >= 2 * t / 3)
        self._zero_counts = [0, 0, 0]
        self._last_skipped, self._skipped = self._skipped, 0

    @property
    def past_first_epoch(self) -> bool:
        """Whether the draws have gone past one pass over the pool: p_easy / p_hard adapt from then on."""
        return self._draws > self.num_questions

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "_draws" not in state:  # saved before the draws were counted: it adapted from the first batch
            state = {**state, "_draws": self.num_questions + 1}
        super().load_state_dict(state)

    def _move(self, p: float, too_many: bool) -> float:
        """One step of the base probability: down (skip more) when the zero-variance share is at its target."""
        return max(p - self.step, self.p_min) if too_many else min(p + self.step, self.p_max)

    def _sampling_prob(self, question_id: int) -> float:
        return math.nan  # the skip draws and refills have no closed form per draw

    def diagnostics(self) -> dict[str, Any]:
        out = super().diagnostics()
        out["curriculum/p_easy"] = self.p_easy
        out["curriculum/p_hard"] = self.p_hard
        out["curriculum/skipped"] = self._last_skipped
        return out

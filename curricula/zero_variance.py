"""DAPO's dynamic sampling (Yu et al. 2025): drop question groups whose attempts all agree, draw more."""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import numpy as np

from curricula.protocol import Curriculum
from curricula.statistics import SOLVED_REWARD


class ZeroVarianceFilter(Curriculum):
    """Train only on groups with both solved and unsolved attempts (non-zero advantage), in full batches.

    DAPO's dynamic sampling as verl's recipe runs it (recipe/dapo/dapo_ray_trainer.py): draw a generation
    batch of `gen_batch_size` questions, attempt each G times, keep the groups whose rewards have a non-zero
    standard deviation (verl's test, on the reward itself: a partial credit or a format penalty separates
    two unsolved attempts; attempts that never finished are left out), and draw further generation batches until `batch_size` groups are kept, then truncate to exactly
    `batch_size` (the first ones kept). Through the protocol: every "train" request is one generation batch;
    `report` keeps the informative groups, and its feedback is not `done` until the batch is full, so the
    trainer keeps asking (`next_request` again) and updates once on the full batch. Every attempt counts in
    `curriculum/train_attempts`, the dropped ones also in `curriculum/discarded_attempts`.

    `max_num_gen_batches` caps the generation batches of one training batch (DAPO's recipes use 10; 0 = no
    cap). Where DAPO raises at the cap, this ends the batch short (`done` with fewer groups kept) and warns,
    so a long run is not lost to one hard stretch of data; `curriculum/gen_batches` logs how many it took and
    `last_shortfall` says how many groups the batch lacked (trainers fill it or train on it short).
    """

    name = "zero_variance_filter"
    options_doc: ClassVar[dict[str, str]] = {
        "gen_batch_size": "questions per generation batch (None: batch_size)",
        "max_num_gen_batches": "cap on generation batches per training batch; 0: none",
    }
    min_attempts = 2
    _state_keys = ("_target", "_kept", "_gen_batches", "_last_gen_batches", "last_shortfall")

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        gen_batch_size: int | None = None,
        max_num_gen_batches: int = 10,
        batch_size: int = 64,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        super().__init__(num_questions, seed, batch_size=batch_size, solved_threshold=solved_threshold)
        gen = self.batch_size if gen_batch_size is None else gen_batch_size
        self._require(
            isinstance(gen, (int, np.integer)) and gen >= 1,
            f"gen_batch_size (questions per generation batch) must be an int >= 1, got {gen!r}",
        )
        self._require(
            gen <= self.num_questions,
            f"gen_batch_size={gen} exceeds the pool of {self.num_questions} "
            f"questions: lower it or use a larger pool",
        )
        self._require(
            isinstance(max_num_gen_batches, (int, np.integer)) and max_num_gen_batches >= 0,
            f"max_num_gen_batches must be an int >= 0 (0: no cap), got {max_num_gen_batches!r}",
        )
        self.gen_batch_size, self.max_num_gen_batches = int(gen), int(max_num_gen_batches)
        self.config.update(gen_batch_size=self.gen_batch_size, max_num_gen_batches=self.max_num_gen_batches)
        self._target = 0  # groups the training batch in progress wants (0: none in progress)
        self._kept = 0  # groups kept for it so far
        self._gen_batches = 0  # generation batches reported for it
        self._last_gen_batches = 0  # generation batches the latest complete training batch took
        #: groups the latest complete training batch lacked (> 0 when max_num_gen_batches ended it short)
        self.last_shortfall = 0
        self._spread = np.zeros(0, dtype=bool)  # per group of the report being handled: rewards not all equal

    @property
    def request_size(self) -> int:
        return self.gen_batch_size

    def _sample(self, n: int | None = None) -> np.ndarray:
        if (
            not self._target
        ):  # a new training batch: n groups wanted, however many generation batches it takes
            self._target = self._n(n)
        return self._draw_uniform(math.ceil(self.gen_batch_size * self._target / self.batch_size))

    def _rows(self, question_ids, rewards, phase):
        ids, solved, tried = super()._rows(question_ids, rewards, phase)
        r = np.asarray(rewards, dtype=np.float64).reshape(ids.size, -1)
        with warnings.catch_warnings():  # a group with no finished attempt has no deviation: NaN, not kept
            warnings.simplefilter("ignore", RuntimeWarning)
            self._spread = np.nanstd(r, axis=1) > 0
        return ids, solved, tried

    def _keep(self, ids, solved, tried, phase):
        if phase == "probe":
            return np.zeros(len(ids), dtype=bool)
        target = self._target or self.batch_size  # a report without a request fills a batch of batch_size
        self._target = target
        informative = self._informative(solved, tried)
        keep = informative & (np.cumsum(informative) <= target - self._kept)  # DAPO keeps the first ones
        self._kept += int(keep.sum())
        self._gen_batches += 1
        return keep

    def _informative(self, solved: np.ndarray, tried: np.ndarray) -> np.ndarray:
        """The groups worth training on: DAPO's, those whose rewards are not all equal (read in `_rows`)."""
        return self._spread

    def _batch_done(self) -> bool:
        full = self._kept >= self._target
        capped = bool(self.max_num_gen_batches) and self._gen_batches >= self.max_num_gen_batches
        if not (full or capped):
            return False
        if not full:
            warnings.warn(
                f"{self.name}: {self._gen_batches} generation batches (max_num_gen_batches) "
                f"kept only {self._kept} of {self._target} informative groups; training on the short "
                f"batch (DAPO would stop here: the data may be too hard or too easy for the policy)",
                stacklevel=3,
            )
        self._last_gen_batches = self._gen_batches
        self.last_shortfall = self._target - min(self._kept, self._target)
        self._target = self._kept = self._gen_batches = 0
        return True

    def _restart(self):
        self._target = self._kept = self._gen_batches = 0

    def diagnostics(self) -> dict[str, Any]:
        out = super().diagnostics()
        out["curriculum/gen_batches"] = self._last_gen_batches
        return out

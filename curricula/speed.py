"""SPEED (Zhang et al. 2025, arXiv 2506.09016): screen each new question with a few attempts, and complete the
group only of those whose screening neither all solved nor all failed."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from curricula.protocol import EMPTY, Request
from curricula.statistics import SOLVED_REWARD
from curricula.zero_variance import ZeroVarianceFilter


class Speed(ZeroVarianceFilter):
    """Selective prompting with efficient estimation of difficulty: screening, then continuation.

    SPEED's two-phase inference (arXiv 2506.09016; the thresholds follow its Theorem 3.1, SNR <= 4 N P (1 - P)
    for RLOO with N rollouts, zero at P = 0 or 1). Checked on 2026-12-07 against the authors' code (the SPEED
    commits of github.com/guanning03/JSPO-Official, up to 32e4097: `verl/trainer/ppo/data_controller.py`,
    `recipe/dapo/src/fast_dapo_ray_trainer.py`, the `run_fast_*.sh` scripts); the paper's method text itself
    was not readable here. Where this class agrees with that code: the screening test (0 < p^ < 1, strict, on
    0/1 accuracy), the screening and continuation attempts trained as one group of N, both phases carried in
    one generation call, and qualified questions carried over to later batches. Where it differs, see the end.

    Every new candidate is attempted N_init times (`screen_attempts`); a candidate qualifies when its
    screening pass rate p^ lies strictly between the thresholds, P_low < p^ < P_high (defaults 0 and 1:
    neither all solved nor all failed); qualified questions get N - N_init more attempts (`group_size` = N,
    the trained group), and the screening attempts are trained on with the continuation's, as one group.
    One request carries both phases (the continuation of one batch generated with the screening of the
    next, as in the authors' code): the continuation of questions screened earlier (N - N_init attempts
    each) and the screening of new candidates (N_init each), so a request asks per-question attempt counts (`Request.attempts` an array, `Request.continues` marking the continuations). A screening group
    that qualifies is held (`Feedback.hold`): the driver keeps its attempts and joins the continuation's to
    them; a continuation group is kept. Qualified questions beyond what the batch needs stay held for the
    next batch (a buffer of qualified prompts); the training batch is done when `batch_size`
    completed groups are kept.

    `screen_batch_size` new candidates are screened per request (default `batch_size`), and
    `max_num_gen_batches` caps the requests of one training batch (0: none; at the cap the batch ends short
    with a warning, as `zero_variance_filter`). Differences from the authors' code: (1) their scripts use
    N_init = 4 (or 6) of N = 20-24, and require N - N_init to be a multiple of N_init; here N is the driver's G
    (8 by default) and N_init = N / 2; (2) every call of theirs screens a fresh batch of 4x the training batch
    and continues every question that qualified, buffering finished groups; here a request screens only when
    the held questions cannot fill the batch, `screen_batch_size` defaults to 1x, and only the questions the
    batch needs are continued (the rest stay held, screened but not continued); (3) their cap is 50 calls and
    stops the run when reached; here 10 (DAPO's) ends the batch short; (4) a question already held or being
    continued is not screened again (theirs may be).
    Statistics: a continued question's `p` is its continuation's share solved; every attempt, screening or
    continuation, counts once in `curriculum/train_attempts`, the screening attempts of candidates that did
    not qualify also in `curriculum/discarded_attempts`.
    """

    name = "speed"
    options_doc: ClassVar[dict[str, str]] = {
        "screen_attempts": "N_init: attempts that screen each new question (None: half of group_size, at least 2)",
        "group_size": "N: attempts of a trained group, screening included (continuation: N - N_init)",
        "low": "P_low: a question qualifies when its screening pass rate is above it (exclusive)",
        "high": "P_high: ... and below it (exclusive)",
        "screen_batch_size": "new questions screened per request (None: batch_size)",
        "max_num_gen_batches": "cap on requests per training batch; 0: none",
    }
    min_attempts = 2
    per_question_attempts = True
    holds_groups = True
    _state_keys = (*ZeroVarianceFilter._state_keys, "_held", "_continuing", "_continuing_at")

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        screen_attempts: int | None = None,
        group_size: int = 8,
        low: float = 0.0,
        high: float = 1.0,
        screen_batch_size: int | None = None,
        max_num_gen_batches: int = 10,
        batch_size: int = 64,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        super().__init__(
            num_questions,
            seed,
            gen_batch_size=screen_batch_size,
            max_num_gen_batches=max_num_gen_batches,
            batch_size=batch_size,
            solved_threshold=solved_threshold,
        )
        if screen_attempts is None:
            screen_attempts = max(2, int(group_size) // 2) if isinstance(group_size, (int, np.integer)) else 2
        self._require(
            isinstance(screen_attempts, (int, np.integer)) and screen_attempts >= 2,
            f"screen_attempts (N_init) must be an int >= 2 (a pass rate needs two attempts), got {screen_attempts!r}",
        )
        self._require(
            isinstance(group_size, (int, np.integer)) and group_size > screen_attempts,
            f"group_size (N, attempts of a trained group) must be an int above screen_attempts="
            f"{screen_attempts}, got {group_size!r}",
        )
        self._require(0.0 <= low < high <= 1.0, f"need 0 <= low < high <= 1, got low={low!r}, high={high!r}")
        self.screen_attempts, self.group_size = int(screen_attempts), int(group_size)
        self.low, self.high = float(low), float(high)
        self.config.update(
            screen_attempts=self.screen_attempts, group_size=self.group_size, low=self.low, high=self.high
        )
        self._held = (
            EMPTY.copy()
        )  # qualified questions whose screening attempts the driver holds, oldest first
        self._continuing = EMPTY.copy()  # questions whose continuation was requested, not yet reported
        self._continuing_at = EMPTY.copy()  # the iteration each was requested at

    def qualifies(self, solved: np.ndarray, tried: np.ndarray) -> np.ndarray:
        """The screening test: P_low < solved / tried < P_high (both exclusive)."""
        solved, tried = np.asarray(solved), np.asarray(tried)
        return (tried >= 2) & (solved > self.low * tried + 1e-9) & (solved < self.high * tried - 1e-9)

    def _train_request(self, n: int | None = None) -> Request:
        if not self._target:
            self._target = self._n(n)
        # continuations out since this batch began count as on their way (one never reported stops counting
        # at the next batch, so a lost request cannot stall the batches after it)
        need = self._target - self._kept - int((self._continuing_at == self.iteration).sum())
        cont, self._held = self._held[: max(need, 0)], self._held[max(need, 0) :]
        self._continuing = np.concatenate([self._continuing, cont])
        self._continuing_at = np.concatenate([self._continuing_at, np.full(cont.size, self.iteration)])
        fresh = EMPTY
        if need > cont.size or cont.size == 0:  # more must qualify (or nothing else to ask)
            size = math.ceil(self.gen_batch_size * self._target / self.batch_size)
            drawn = self._draw_uniform(size)
            busy = np.concatenate([self._held, self._continuing])
            fresh = drawn[~np.isin(drawn, busy)]
            fresh = fresh[np.sort(np.unique(fresh, return_index=True)[1])]  # an epoch wrap may repeat an id
        ids = np.concatenate([cont, fresh]).astype(np.int64)
        attempts = np.concatenate(
            [
                np.full(cont.size, self.group_size - self.screen_attempts, dtype=np.int64),
                np.full(fresh.size, self.screen_attempts, dtype=np.int64),
            ]
        )
        return Request("train", ids, attempts, np.arange(ids.size) < cont.size)

    def _hold(self, ids, solved, tried, phase):
        hold = np.zeros(len(ids), dtype=bool)
        if phase != "train":
            return hold
        screening = ~np.isin(ids, self._continuing) & ~np.isin(ids, self._held)
        first = np.zeros(len(ids), dtype=bool)
        first[np.unique(ids, return_index=True)[1]] = True  # one held group per question
        hold = screening & first & self.qualifies(solved, tried)
        self._held = np.concatenate([self._held, ids[hold]])
        return hold

    def _keep(self, ids, solved, tried, phase):
        if phase == "probe":
            return np.zeros(len(ids), dtype=bool)
        if not self._target:  # a report without a request fills a batch of batch_size
            self._target = self.batch_size
        continued = np.isin(ids, self._continuing)
        left = ~np.isin(self._continuing, ids[continued])
        self._continuing, self._continuing_at = self._continuing[left], self._continuing_at[left]
        keep = continued & (tried > 0)
        self._kept += int(keep.sum())
        self._gen_batches += 1
        return keep

    def _restart(self):
        super()._restart()
        # continuations drawn but never answered go back to the front of the queue; held attempts stay valid
        self._held = np.concatenate([self._continuing, self._held])
        self._continuing, self._continuing_at = EMPTY.copy(), EMPTY.copy()

    def _sampling_prob(self, question_id: int) -> float:
        return math.nan

    def diagnostics(self) -> dict[str, Any]:
        out = super().diagnostics()
        out["curriculum/held"] = int(self._held.size)
        return out

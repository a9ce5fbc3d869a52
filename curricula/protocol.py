"""The protocol every curriculum follows: its messages, and the hooks a curriculum implements to choose.

A curriculum never runs the policy. Whoever runs it (our trainer, CurriculumWrapper, verl, TRL) asks the
curriculum what to attempt, attempts it, and reports the rewards back; the curriculum answers which groups
of attempts to train on and whether the training batch is complete. The one loop, with one set of names:

    while True:
        req = cur.next_request()                 # Request(phase, question_ids, attempts)
        rewards = attempt(req.question_ids, req.counts(G))   # (n, max attempts) array; NaN = unfinished
        fb = cur.report(req.question_ids, rewards, req.phase)       # Feedback(keep, done, phase)
        batch += groups where fb.keep
        if fb.done:                              # the training batch is complete: learn from it
            break

`next_request` sequences probes (`phase="probe"`, `attempts=L`: learnability's buffer refresh) and training
requests. An *iteration* is one training batch; it ends with the `report` whose feedback says `done`. The
statistics, diagnostics and saved state are curricula/statistics.py's; a driver's helpers beside the loop
(a report from completions, groups held for a continuation) curricula/completions.py's.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from curricula import statistics as S
from curricula.statistics import SOLVED_REWARD, BatchStats, QuestionStats

PHASES = ("train", "probe")
EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Request:
    """What to attempt next, then `report` the rewards with this `phase`.

    `attempts`: how often to attempt each of `question_ids`: None the driver's group size G, an int, or one
    count per id (SPEED screens new questions with a few attempts while it completes earlier groups); report
    (n, max count) rewards, each row's finished attempts first and NaN after them (`padded_rewards`).
    `continues` (None, or a bool per id) marks rows that complete a group held at the curriculum's request
    (`Feedback.hold`): their rewards are the new attempts; the driver trains on both as one group."""

    phase: str  # "probe" (estimates for the curriculum) or "train" (a training batch, or part of one)
    question_ids: np.ndarray
    attempts: int | np.ndarray | None = None
    continues: np.ndarray | None = None

    def counts(self, group_size: int) -> np.ndarray:
        """Attempts to make at each id, an int64 array aligned with `question_ids` (`group_size`, the
        trainer's G, where `attempts` is None)."""
        n = len(self.question_ids)
        if self.attempts is None:
            return np.full(n, int(group_size), dtype=np.int64)
        return np.broadcast_to(np.asarray(self.attempts, dtype=np.int64), (n,)).copy()

    def continuing(self) -> np.ndarray:
        """`continues` as a bool array (all False when None)."""
        n, continues = len(self.question_ids), self.continues
        return np.zeros(n, dtype=bool) if continues is None else np.asarray(continues, dtype=bool)


@dataclass(frozen=True)
class Feedback:
    """The curriculum's answer to a `report`: which reported groups to train on, and whether the training
    batch is complete (learn now) or more requests follow first (probes, or more draws to fill a batch).
    `hold` (None: none) marks groups neither trained on nor dropped yet: a later request continues them."""

    keep: np.ndarray  # bool, one per reported question id
    done: bool
    phase: str
    hold: np.ndarray | None = None

    def held(self) -> np.ndarray:
        """`hold` as a bool array (all False when None)."""
        n, hold = len(self.keep), self.hold
        return np.zeros(n, dtype=bool) if hold is None else np.asarray(hold, dtype=bool)


def padded_rewards(flat: Any, counts: np.ndarray) -> np.ndarray:
    """Rewards of a request attempted `counts[i]` times at row i, concatenated row by row, as the (n, max
    count) float array `report` takes (NaN after each row's attempts)."""
    counts = np.asarray(counts, dtype=np.int64)
    width = int(counts.max()) if counts.size else 0
    out = np.full((counts.size, max(width, 1)), np.nan, dtype=np.float64)
    if width:
        out[np.arange(width)[None, :] < counts[:, None]] = np.asarray(flat, dtype=np.float64)
    return out


class Curriculum:
    """The batch protocol over shared statistics (`stats`: attempts, successes, last seen, latest p).

    Subclasses decide only how to choose: `_sample` (required), and optionally `_probe_ids` with
    `probe_attempts`, `_keep` (which attempted groups to train on), `_observe` (a report's attempts before the
    statistics change), `_after_update` (e.g. rebuild a buffer), `_batch_done` (a batch of several requests),
    and `request_size`. Whatever changes a choice is in `_state_keys`, so that `state_dict` resumes exactly.
    """

    name: ClassVar[str] = "base"
    #: attempts per question a training group needs (filters score a question from its own group: 2).
    min_attempts: ClassVar[int] = 1
    #: its training requests ask a different number of attempts per question (`Request.attempts` an array)
    per_question_attempts: ClassVar[bool] = False
    #: its feedback may hold groups for a later continuation (`Feedback.hold`; drivers join them)
    holds_groups: ClassVar[bool] = False
    #: built from the pool's difficulty labels (`curricula.make(..., questions=)` passes `difficulty=`)
    needs_difficulty: ClassVar[bool] = False
    #: one line of help per option, shown by `python -m agents.train --curriculum NAME --help`
    options_doc: ClassVar[dict[str, str]] = {
        "batch_size": "N_l: question groups per training batch (the trainer sets it from --questions-per-step)",
        "solved_threshold": "an attempt counts as solved when its reward is at least this",
    }
    _state_keys: ClassVar[tuple[str, ...]] = ()
    _base_state: ClassVar[tuple[str, ...]] = ("iteration", "_order", "_order_pos")

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        batch_size: int = 64,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        if not isinstance(num_questions, (int, np.integer)) or num_questions < 1:
            raise ValueError(f"num_questions must be a positive int (the pool size), got {num_questions!r}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(
                f"batch_size (N_l, questions per training batch) must be a positive int, got {batch_size!r}"
            )
        if num_questions < batch_size:
            raise ValueError(
                f"the pool of {num_questions} questions is smaller than a batch of {batch_size}: "
                f"lower batch_size or use a larger pool"
            )
        self.num_questions = int(num_questions)
        self.batch_size = int(batch_size)
        self.solved_threshold = float(solved_threshold)
        self.initial_seed = seed
        self.config: dict[str, Any] = {
            "batch_size": self.batch_size,
            "solved_threshold": self.solved_threshold,
        }
        self.rng = np.random.default_rng(seed)
        self.stats = QuestionStats(self.num_questions)
        self.batch_stats = BatchStats()
        self.iteration = 0
        self.report_lag = 0  # during a report: iterations since its request was drawn (0 outside reports)
        self._order: np.ndarray | None = None  # uniform epoch order, built on first use
        self._order_pos = 0

    # the per-question statistics (QuestionStats), read by the curricula that choose from them
    attempts = property(lambda self: self.stats.attempts, doc="Attempts reported per question.")
    successes = property(lambda self: self.stats.successes, doc="Solved attempts per question.")
    last_seen = property(
        lambda self: self.stats.last_seen, doc="Iteration of the latest attempts (-1: none)."
    )
    p = property(lambda self: self.stats.p, doc="Share solved in the latest group of attempts (nan: none).")

    # ---- the protocol -------------------------------------------------------------------------------

    def next_request(self, n: int | None = None, *, probe: bool = True) -> Request:
        """What to attempt next: a probe when one is due (the same ids until their rewards are reported),
        else the questions for a training batch of `n` (default `batch_size`) groups. `probe=False` asks for
        a training batch even while a probe is out (a data loader that draws ahead of the rewards)."""
        ids = self._probe_ids() if probe else EMPTY
        if ids.size:
            return Request("probe", ids, self.probe_attempts)
        return self._train_request(n)

    def report(
        self, question_ids: Any, rewards: Any, phase: str = "train", *, issued: int | None = None
    ) -> Feedback:
        """Record attempts; say which groups to train on and whether the training batch is complete.

        `rewards` has shape (n,) for one attempt per id or (n, G) for G attempts; NaN marks an attempt that
        never finished (and pads the rows of a request with per-question `attempts`). An attempt counts as
        solved when its reward >= `solved_threshold`. The `"train"` report whose feedback is `done` ends one
        iteration. Asynchronous drivers: `issued` is the curriculum's `iteration` when the request was drawn
        (None: now). Late reports, in any order, are dated by `issued` (`report_lag` = iterations late, for the
        hooks): an older group never overwrites a newer estimate (docs/curricula.md, "Asynchronous rollouts").
        """
        ids, solved, tried = self._rows(question_ids, rewards, phase)
        issued = self.iteration if issued is None else int(issued)
        if not 0 <= issued <= self.iteration:
            raise ValueError(
                f"issued={issued} must be the iteration the request was drawn at (cur.iteration then), "
                f"between 0 and the current iteration {self.iteration}"
            )
        self._check(ids, phase)  # before any statistic changes, so a rejected report leaves no trace
        self.report_lag = self.iteration - issued
        try:
            self._record(ids, solved, tried, phase)
            hold = self._hold(ids, solved, tried, phase)
            keep = self._keep(ids, solved, tried, phase) & ~hold
            self._after_update(ids, solved, tried, phase)
        finally:
            self.report_lag = 0
        done = phase == "train" and self._batch_done()
        if done:
            self._close_batch()
        self.batch_stats.add(phase, solved, tried, keep, hold, done=done)  # the curriculum's hooks first
        self.iteration += done
        return Feedback(keep, done, phase, hold if hold.any() else None)

    @property
    def probe_attempts(self) -> int:
        """Attempts each probe question needs (L); 0 for curricula that never probe."""
        return 0

    @property
    def request_size(self) -> int:
        """Ids in one training request (a framework's prompt batch): more than `batch_size` for filters."""
        return self.batch_size

    def planned_probe_attempts(self, iterations: int) -> int:
        """Probe attempts this curriculum will ask for over the next `iterations` training iterations (0 for
        curricula that never probe): the compute a run spends on scoring rather than training."""
        return 0

    def seed(self, seed: int | None) -> None:
        """Restart the random stream from `seed`, dropping draws made but not yet answered (the epoch order,
        pending probes), so the next choices depend only on `seed` and the statistics recorded so far."""
        self.rng = np.random.default_rng(seed)
        self._order = None
        self._order_pos = 0
        self._restart()

    def state_nbytes(self) -> int:
        """Bytes of the numpy arrays this curriculum holds: what its per-question statistics cost in memory."""
        return S.array_nbytes(self.__dict__)

    def question_info(self, question_id: int) -> dict[str, Any]:
        """The curriculum's view of one question, as CurriculumWrapper puts it in `info`."""
        question_id = int(question_id)
        p = float(self.p[question_id])
        return {
            "curriculum_p": p,
            "curriculum_learnability": p * (1.0 - p),
            "curriculum_attempts": int(self.attempts[question_id]),
            "curriculum_in_buffer": self._in_buffer(question_id),
            "curriculum_sampling_prob": self._sampling_prob(question_id),
            "curriculum_iteration": self.iteration,
        }

    def diagnostics(self) -> dict[str, Any]:
        """Metrics with stable names (curricula.statistics names them), cheap enough to log every iteration:
        no pass over the pool. Batch metrics describe the kept groups of the latest training batch."""
        return S.diagnostics(self.stats, self.batch_stats, self.iteration, self._buffer_stats())

    def state_dict(self) -> dict[str, Any]:
        """Everything that affects future choices (statistics, buffer, RNG), copied (see S.save_state)."""
        return S.save_state(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()` output; the curriculum must have been built with the same options."""
        S.load_state(self, state)
        self._on_load()

    # ---- hooks for subclasses -----------------------------------------------------------------------

    def _probe_ids(self) -> np.ndarray:
        """Question ids to probe `probe_attempts` times each before the next training batch; empty when none
        is due. Returns the same ids until their results are reported with phase "probe"."""
        return EMPTY.copy()

    def _sample(self, n: int | None = None) -> np.ndarray:
        """Question ids to attempt for a training batch of `n` (default `batch_size`) groups."""
        raise NotImplementedError

    def _train_request(self, n: int | None = None) -> Request:
        """The training request: `_sample(n)` attempted G times each, unless a curriculum asks per-question
        attempts (SPEED)."""
        return Request("train", self._sample(n), None)

    def _hold(self, ids: np.ndarray, solved: np.ndarray, tried: np.ndarray, phase: str) -> np.ndarray:
        """Groups whose attempts a later request continues (`Feedback.hold`). Default: none."""
        return np.zeros(len(ids), dtype=bool)

    def _close_batch(self) -> None:
        """The training batch is complete (before `iteration` moves on): end-of-iteration updates."""

    def _batch_done(self) -> bool:
        """After a "train" report: is the training batch complete? (Dynamic sampling draws again until full.)"""
        return True

    def _check(self, ids: np.ndarray, phase: str) -> None:
        """Reject a report that does not answer what was asked (raise ValueError); default: accept all."""

    def _keep(self, ids: np.ndarray, solved: np.ndarray, tried: np.ndarray, phase: str) -> np.ndarray:
        """Which groups to train on. Default: every attempted training group, no probe."""
        if phase == "probe":
            return np.zeros(len(ids), dtype=bool)
        return tried > 0

    def _observe(self, ids: np.ndarray, attempts: np.ndarray, successes: np.ndarray) -> None:
        """Called by every report before the statistics change: `ids` (unique) were attempted `attempts` times
        and solved `successes` times, `self.report_lag` iterations ago (0 in a synchronous loop); `self.p` and
        `self.last_seen` still hold their previous values."""

    def _after_update(self, ids: np.ndarray, solved: np.ndarray, tried: np.ndarray, phase: str) -> None:
        """After the statistics changed and the groups were chosen (e.g. rebuild a buffer)."""

    def _restart(self) -> None:
        """`seed` dropped the draws not yet answered: drop the subclass's too."""

    def _on_load(self) -> None:
        """`load_state_dict` restored the state: rebuild what is derived from it."""

    def _in_buffer(self, question_id: int) -> bool:
        return False

    def _sampling_prob(self, question_id: int) -> float:
        """Probability that one draw of a batch picks this question."""
        return 1.0 / self.num_questions

    def _buffer_stats(self) -> tuple[int, int, float]:
        """(buffer size, iterations since it was built, its mean learnability); (0, 0, nan) without one."""
        return 0, 0, float("nan")

    # ---- shared machinery ---------------------------------------------------------------------------

    def _require(self, ok: bool, message: str) -> None:
        """Fail at construction with a message that says what to change."""
        if not ok:
            raise ValueError(f"{self.name}: {message}")

    def _draw_uniform(self, n: int) -> np.ndarray:
        """Uniform draws without replacement within an epoch: every question once per pass, seeded order."""
        out = []
        while n > 0:
            order = self._epoch()
            take = min(n, self.num_questions - self._order_pos)
            out.append(order[self._order_pos : self._order_pos + take])
            self._order_pos += take
            n -= take
        return np.concatenate(out).astype(np.int64) if out else EMPTY.copy()

    def _epoch(self) -> np.ndarray:
        """The uniform epoch order, a new seeded permutation when the current one is used up."""
        if self._order is None or self._order_pos == self.num_questions:
            dtype = np.int32 if self.num_questions < 2**31 else np.int64
            self._order = self.rng.permutation(self.num_questions).astype(dtype)
            self._order_pos = 0
        return self._order

    def _rows(self, question_ids: Any, rewards: Any, phase: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A report checked (ValueError naming what is wrong) and read: int64 ids, solved and tried per row."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        ids = np.asarray(question_ids)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(f"question_ids must be a 1-D array of ints, got shape {ids.shape}, {ids.dtype}")
        ids = ids.astype(np.int64, copy=False)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_questions):
            raise ValueError(f"question ids must lie in [0, {self.num_questions})")
        r = np.asarray(rewards, dtype=np.float64)
        r = r[:, None] if r.ndim == 1 else r
        if r.ndim != 2 or r.shape[0] != ids.size:
            raise ValueError(
                f"rewards must have shape ({ids.size},) or ({ids.size}, G), got {np.shape(rewards)}"
            )
        need = self.min_attempts if phase == "train" else 1
        if r.shape[1] < need:
            raise ValueError(
                f"{self.name} scores each question from its own group of attempts: pass rewards of "
                f"shape (n, G) with G >= {need}, got {r.shape}"
            )
        return ids, (r >= self.solved_threshold).sum(axis=1), (~np.isnan(r)).sum(axis=1)  # NaN compares False

    def _record(self, ids: np.ndarray, solved: np.ndarray, tried: np.ndarray, phase: str) -> None:
        """Add attempts to the statistics, summed by question (a question can appear in several groups of one
        report; groups with no finished attempt are left out): p becomes the share solved in this report's
        attempts, after `_observe` has seen them."""
        has = tried > 0
        if not has.any():
            return
        uniq, inv = np.unique(ids[has], return_inverse=True)
        a = np.bincount(inv, weights=tried[has]).astype(np.int64)
        s = np.bincount(inv, weights=solved[has]).astype(np.int64)
        self._observe(uniq, a, s)
        self.stats.record(uniq, a, s, self.iteration - self.report_lag)

    def _warn_once(self, key: str, message: str) -> None:
        warned = self.__dict__.setdefault("_warned", set())
        if key not in warned:
            warned.add(key)
            warnings.warn(message, stacklevel=3)

    def _n(self, n: int | None) -> int:
        n = self.batch_size if n is None else n
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"next_request(n) needs a non-negative int, got {n!r}")
        return int(n)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if not isinstance(v, np.ndarray))
        return f"{type(self).__name__}(num_questions={self.num_questions}, {opts})"

"""The curriculum protocol as a stream of fixed-size prompt batches, for trainers that own the loop.

Framework trainers (verl, TRL) draw a batch of B prompts per step from a data loader, attempt each prompt G
times, and train on all of it. `BatchSchedule` sits between such a loader and a curriculum, with the same
two names as the curriculum itself (curricula.protocol):

    schedule = BatchSchedule(curriculum, batch_size=B, group_size=G)
    req = schedule.next_request()                  # Request: B question ids, "train" or "probe"
    ...                                            # the trainer attempts each id G times
    fb = schedule.report(req.question_ids, rewards)  # rewards (B, G): one row per prompt, any row order

A training request fills one trainer batch (`curriculum.request_size` questions). A curriculum whose
training batch takes several requests (zero_variance_filter: DAPO's generation batches until enough groups
are kept) answers reports with `done=False` until it is full; the trainer must then not update, but keep
the kept rows and go on to the next batch (see integrations/verl/ and integrations/trl/trainer.py).

Probe requests (learnability's N candidates x L attempts) are served as ordinary batches marked "probe",
before the next training batch: each candidate fills ceil(L / G) prompt slots, and the last probe batch is
padded by cycling through the candidates again (a few get extra attempts). The probe results are handed to
the curriculum in one `report(..., phase="probe")` once every probe batch has come back, as the protocol
wants. Every issued batch must come back exactly once, in issue order; `report` checks that the question
ids match the batch it answers, so a mapping error (dataset row vs. question id) fails loudly.

A loader that draws ahead (prefetch) asks for batch s+1 before batch s's rewards arrive: the schedule then
serves training batches from the curriculum's current state (for learnability, the previous buffer) and the
probe results land one batch late. Draw-ahead is counted in `lagged_batches`.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from typing import Any

import numpy as np

from curricula.protocol import Curriculum, Feedback, Request

#: the file a framework trainer writes beside its own checkpoint: the schedule's and curriculum's state
CURRICULUM_CHECKPOINT = "curriculum.pt"


class BatchSchedule:
    """Fixed-size batches of question ids from a curriculum, and the way back for their rewards."""

    def __init__(self, curriculum: Curriculum, batch_size: int, group_size: int) -> None:
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(
                f"batch_size (prompts per trainer batch) must be a positive int, got {batch_size!r}"
            )
        if not isinstance(group_size, (int, np.integer)) or group_size < 1:
            raise ValueError(f"group_size (attempts per prompt) must be a positive int, got {group_size!r}")
        need = getattr(curriculum, "min_attempts", 1)
        if group_size < need:
            raise ValueError(
                f"{curriculum.name} scores each question from its own group of attempts and needs "
                f"at least {need} per prompt; the trainer makes {group_size} (raise rollout.n / "
                f"num_generations)"
            )
        if curriculum.per_question_attempts:
            raise ValueError(
                f"{curriculum.name} asks a different number of attempts of each question (its requests' "
                f"attempts are per question), but a trainer fed by BatchSchedule (verl's 0.9.1 sampler) "
                f"attempts every prompt G times; train it with verl's v1 trainer, TRL's "
                f"CurriculumGRPOTrainer, agents.train or CurriculumWrapper"
            )
        self.curriculum = curriculum
        self.batch_size = int(batch_size)
        self.group_size = int(group_size)
        self.lagged_batches = 0
        self._issued: deque[tuple[np.ndarray, str]] = deque()  # issued, rewards not yet back
        self._replay: deque[tuple[np.ndarray, str]] = deque()  # issued before a restart: served again first
        self._probe_ids: np.ndarray | None = None  # the probe request being served
        self._probe_batches: list[np.ndarray] = []  # its batches not yet issued
        self._probe_open = 0  # its batches issued, results not yet back
        self._probe_results: list[tuple[np.ndarray, np.ndarray]] = []  # (ids, rewards) of those back
        self._check_size()

    # ---- the way out --------------------------------------------------------------------------------

    def next_request(self) -> Request:
        """The next batch: `batch_size` question ids, phase "train" or "probe", `group_size` attempts each."""
        if self._replay:
            ids, phase = self._replay.popleft()
        else:
            ids, phase = self._draw()
        self._issued.append((ids, phase))
        return Request(phase, ids.copy(), self.group_size)

    def _draw(self) -> tuple[np.ndarray, str]:
        cur = self.curriculum
        if self._probe_ids is None:
            req = cur.next_request()
            if req.phase == "probe":
                self._probe_ids = np.asarray(req.question_ids, dtype=np.int64)
                self._probe_batches = self._probe_chunks(self._probe_ids)
                self._probe_results = []
                self._probe_open = 0
            else:
                return self._train_ids(req), "train"
        if self._probe_batches:
            self._probe_open += 1
            return self._probe_batches.pop(0), "probe"
        # every probe batch is out, results not all back: drawing ahead from the curriculum's current state
        self.lagged_batches += 1
        return self._train_ids(cur.next_request(probe=False)), "train"

    def _train_ids(self, req: Request) -> np.ndarray:
        ids = np.asarray(req.question_ids, dtype=np.int64)
        if ids.size != self.batch_size:
            raise ValueError(self._size_message(ids.size))
        return ids

    def _probe_chunks(self, request: np.ndarray) -> list[np.ndarray]:
        copies = max(1, math.ceil(self.curriculum.probe_attempts / self.group_size))
        slots = np.tile(request, copies)
        slots = np.resize(slots, math.ceil(slots.size / self.batch_size) * self.batch_size)  # pad cyclically
        return [c.astype(np.int64) for c in np.split(slots, slots.size // self.batch_size)]

    # ---- the way back -------------------------------------------------------------------------------

    def report(self, question_ids: Any, rewards: Any) -> Feedback:
        """Rewards for the oldest issued batch: `question_ids` (m,) one per prompt group, `rewards` (m, G)
        (NaN for a missing attempt). Rows may come in any order. The feedback's `keep` is a bool mask over
        the given rows, the groups the trainer should train on.
        """
        if not self._issued:
            raise ValueError(
                "feedback for a batch this schedule never issued (or one already answered); "
                "every batch must be reported exactly once"
            )
        ids = np.asarray(question_ids, dtype=np.int64).reshape(-1)
        r = np.asarray(rewards, dtype=np.float64)
        if r.ndim == 1:
            r = r[:, None]
        if r.shape[0] != ids.size:
            raise ValueError(f"got {ids.size} question ids but rewards of shape {r.shape}")
        issued, phase = self._issued[0]
        if ids.size != issued.size or not np.array_equal(np.sort(ids), np.sort(issued)):
            raise ValueError(
                f"the rewards are for questions {np.sort(ids)[:8].tolist()}... but the oldest open {phase} batch "
                f"holds {np.sort(issued)[:8].tolist()}...: the ids read from the trainer's batch are not the "
                f"dataset row numbers the sampler drew (a filtered or reordered dataset?), or a batch was "
                f"skipped. Give each row its own row number (integrations.verl.sampler.CurriculumDataset) "
            )
        self._issued.popleft()
        # line the rows up with the issue order (stable for repeated ids), so choices never depend on the
        # order the trainer shuffled its rows into
        perm = np.empty(ids.size, dtype=np.int64)
        perm[np.argsort(issued, kind="stable")] = np.argsort(ids, kind="stable")
        rows = r[perm]
        fb = self._report(issued, rows, phase)
        keep = np.empty(ids.size, dtype=bool)
        keep[perm] = fb.keep
        return Feedback(keep, fb.done, phase)

    def _report(self, ids: np.ndarray, rows: np.ndarray, phase: str) -> Feedback:
        cur = self.curriculum
        if phase == "train":
            return cur.report(ids, rows, phase="train")
        self._probe_results.append((ids, rows))
        self._probe_open -= 1
        if not self._probe_batches and self._probe_open == 0:
            cands, attempts = self._merge_probe_results()
            cur.report(cands, attempts, phase="probe")
            self._probe_ids = None
            self._probe_results = []
        return Feedback(np.full(ids.size, bool(getattr(cur, "train_on_probes", False))), False, phase)

    def _merge_probe_results(self) -> tuple[np.ndarray, np.ndarray]:
        """One row per candidate: all its attempts from every probe batch, NaN-padded to equal length."""
        request = self._probe_ids
        per: dict[int, list[np.ndarray]] = {int(q): [] for q in request}
        for ids, rows in self._probe_results:
            for q, row in zip(ids.tolist(), rows, strict=True):
                per.setdefault(q, []).append(row[~np.isnan(row)])
        cands = np.array(list(per), dtype=np.int64)
        attempts = [np.concatenate(v) if v else np.zeros(0) for v in per.values()]
        width = max(1, max(a.size for a in attempts))
        out = np.full((cands.size, width), np.nan)
        for i, a in enumerate(attempts):
            out[i, : a.size] = a
        return cands, out

    # ---- state --------------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Batches issued whose rewards have not come back."""
        return len(self._issued)

    def state_dict(self) -> dict[str, Any]:
        """The curriculum's state plus the schedule's own: probe batches in flight and batches issued but not
        answered (served again first after `load_state_dict`, so a restart loses no batch)."""
        return copy.deepcopy(
            {
                "curriculum": self.curriculum.state_dict(),
                "batch_size": self.batch_size,
                "group_size": self.group_size,
                "lagged_batches": self.lagged_batches,
                "unanswered": list(self._replay) + list(self._issued),
                "probe_ids": self._probe_ids,
                "probe_batches": self._probe_batches,
                "probe_open": self._probe_open,
                "probe_results": self._probe_results,
            }
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state["batch_size"], state["group_size"]) != (self.batch_size, self.group_size):
            raise ValueError(
                f"state was saved for batches of {state['batch_size']} prompts x "
                f"{state['group_size']} attempts; this schedule makes {self.batch_size} x "
                f"{self.group_size}"
            )
        state = copy.deepcopy(state)
        self.curriculum.load_state_dict(state["curriculum"])
        self.lagged_batches = state["lagged_batches"]
        self._issued = deque()
        self._replay = deque(state["unanswered"])
        self._probe_ids = state["probe_ids"]
        self._probe_batches = state["probe_batches"]
        self._probe_open = state["probe_open"]  # counts unanswered probe batches, replayed ones included
        self._probe_results = state["probe_results"]

    # ---- sizes --------------------------------------------------------------------------------------

    def _check_size(self) -> None:
        """Fail at construction when the curriculum's training request cannot fill the trainer's batch exactly."""
        if self.curriculum.request_size != self.batch_size:
            raise ValueError(self._size_message(self.curriculum.request_size))

    def _size_message(self, got: int) -> str:
        cur = self.curriculum
        hint = {
            "learnability_filter": "batch_size = B / ratio",
            "zero_variance_filter": "gen_batch_size = B (the questions of one generation batch; batch_size "
            "is the groups kept per training batch)",
        }.get(cur.name, "batch_size = B")
        return (
            f"{cur.name}'s training requests hold {got} questions but the trainer's batch holds B="
            f"{self.batch_size} prompts: build the curriculum with {hint}"
        )

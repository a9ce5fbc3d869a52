"""verl v1's prompt stream: `CurriculumFeed`, the curriculum's requests handed out one prompt at a time, and
the ledger of the requests being attempted (their rewards come back late and out of order in async modes).
`integrations.verl.replay_buffer.CurriculumReplayBuffer` owns a feed; `integrations.verl.dataset.CurriculumRLDataset`
draws its prompts from it. Importing this module does not import verl."""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

import numpy as np

from curricula.protocol import Curriculum

QUEUED, OUT, READ, DROPPED = 0, 1, 2, 3  # a slot's state: waiting for the loader, being attempted, rewards
# read, or gone without rewards (evicted as too stale, or failed with no trajectory)


class CurriculumFeed:
    """The curriculum's requests as a stream of prompts, and the ledger of the requests being attempted.

    Each request (`Curriculum.next_request`) becomes one slot per question id, attempted as often as the
    request asks of that id (`Request.counts(rollout.n)`: rollout.n, a probe's L, or per-question counts;
    verl's `__rollout_n__`), handed out one at a time by
    `next_prompt` (verl's data loader asks for them). A slot's rewards come back by `read` when its group
    finishes, in any order and any number of trainer steps later, or never (`drop`: evicted as too stale
    or failed without a trajectory, reported as NaN, the protocol's "never finished"). A request is reported
    to the curriculum once, when none of its slots is still waiting or out (`report_ready`); a slot is read
    or dropped at most once, so no attempt is counted twice and none is lost; its attempts are dated by the
    iteration its request was drawn at (`report(..., issued=)`). While a probe request is out,
    further requests are training requests (`next_request(probe=False)`): the probe is never duplicated.

    `state_dict` holds the curriculum's state and every request in flight, so a resumed run neither
    re-reports a group nor forgets one (verl's data loader saves it in `data.pt`)."""

    def __init__(self, curriculum: Curriculum, rollout_n: int) -> None:
        need = getattr(curriculum, "min_attempts", 1)
        if rollout_n < need:
            raise ValueError(
                f"{curriculum.name} scores each question from its own group of attempts and needs "
                f"at least {need} per prompt; the trainer makes {rollout_n} (raise rollout.n)"
            )
        self.curriculum = curriculum
        self.rollout_n = int(rollout_n)
        self.requests: dict[int, dict[str, Any]] = {}
        self.queue: deque[tuple[int, int]] = deque()
        self.next_no = 0
        self.probe_out: int | None = None  # the probe request being attempted
        self.uid_slot: dict[str, tuple[int, int]] = {}  # verl's group uid -> (request, slot), once known
        #: held groups (`Feedback.hold`, SPEED's screening): question id -> the uid of its held attempts, until
        #: a request continues the question; then, while the continuation is kept, its uid -> the held uid
        #: (the buffer trains both as one group)
        self.held: dict[int, str] = {}
        self.partner: dict[str, str] = {}
        #: groups read / dropped / evicted unkept / trained / evicted kept (stale) / discarded kept (sync surplus),
        #: and the attempts read (what the curriculum has counted)
        self.counts = dict.fromkeys(
            ("read", "dropped", "evicted", "trained", "stale_kept", "surplus", "attempts", "filled"), 0
        )
        self.counts["short_batches"] = 0
        #: the curriculum ended a training batch short (a cap on generation batches): the buffer hands out
        #: the kept groups it has instead of asking for more
        self.short_batch = False

    # -- the way out --

    def draw(self) -> int:
        """Ask the curriculum for its next request and queue its slots; returns how many."""
        req = self.curriculum.next_request(probe=self.probe_out is None)
        ids = np.asarray(req.question_ids, dtype=np.int64)
        counts = req.counts(self.rollout_n)  # per question: rollout.n, a probe's L, or the curriculum's own
        no, self.next_no = self.next_no, self.next_no + 1
        self.requests[no] = {
            "phase": req.phase,
            "ids": ids,
            "issued": self.curriculum.iteration,
            "attempts": counts,
            "continues": req.continuing(),
            "rows": np.full((ids.size, int(counts.max(initial=1))), np.nan),
            "state": np.full(ids.size, QUEUED, dtype=np.int8),
            "uids": [None] * ids.size,
            "keep": None,
            "consumed": np.zeros(ids.size, dtype=bool),
        }
        if req.phase == "probe":
            self.probe_out = no
        self.queue.extend((no, s) for s in range(ids.size))
        return ids.size

    def next_prompt(self) -> tuple[int, int, int, int]:
        """(question id, request, slot, attempts) of the next prompt to attempt."""
        while not self.queue:
            self.draw()
        no, slot = self.queue.popleft()
        r = self.requests[no]
        r["state"][slot] = OUT
        return int(r["ids"][slot]), no, slot, int(self._attempts(r)[slot])

    @property
    def queued(self) -> int:
        """Slots drawn from the curriculum that the loader has not handed out yet."""
        return len(self.queue)

    # -- the way back --

    def slot(self, no: int, slot: int) -> tuple[str, int]:
        """(phase, state) of a slot; ("", DROPPED) for one this feed no longer holds."""
        r = self.requests.get(int(no))
        if r is None or not 0 <= slot < r["ids"].size:
            return "", DROPPED
        return r["phase"], int(r["state"][slot])

    def read(self, no: int, slot: int, uid: str, rewards: np.ndarray) -> bool:
        """A finished group's rewards (one per attempt, NaN for an attempt that never finished); False when
        the slot was already read or dropped (a group seen again after a restart is not counted twice)."""
        r = self.requests.get(int(no))
        if r is None or r["state"][slot] not in (QUEUED, OUT):
            return False
        width = int(self._attempts(r)[slot])  # what was asked of this prompt (__rollout_n__)
        vals = np.asarray(rewards, dtype=np.float64)[:width]
        r["rows"][slot, : vals.size] = vals
        r["state"][slot] = READ
        r["uids"][slot] = uid
        self.uid_slot[uid] = (int(no), int(slot))
        self.counts["read"] += 1
        self.counts["attempts"] += int(np.isfinite(vals).sum())
        return True

    def drop(self, no: int, slot: int) -> bool:
        """The group of this slot will never be read (evicted as too stale, or failed): NaN for the curriculum."""
        r = self.requests.get(int(no))
        if r is None or r["state"][slot] not in (QUEUED, OUT):
            return False
        r["state"][slot] = DROPPED
        self.counts["dropped"] += 1
        return True

    def report_ready(self) -> list[str]:
        """Report every request whose slots are all read or dropped; returns the uids of the groups not kept
        (the caller evicts them: probes, and whatever a filter curriculum drops)."""
        evict: list[str] = []
        for no, r in list(self.requests.items()):
            if r["keep"] is not None or (r["state"] < READ).any():
                continue
            fb = self.curriculum.report(r["ids"], r["rows"], r["phase"], issued=r["issued"])
            if r["phase"] == "probe" and self.probe_out == no:
                self.probe_out = None
            read = r["state"] == READ
            r["keep"] = np.asarray(fb.keep, dtype=bool) & read & (r["phase"] == "train")
            short = getattr(self.curriculum, "last_shortfall", 0) if fb.done and r["phase"] == "train" else 0
            if short:  # the cap ended the batch: train on what was kept, filled with this report's rest
                fill = np.flatnonzero(read & ~r["keep"] & ~fb.held())[:short]
                r["keep"][fill] = True
                self.counts["filled"] += fill.size
                self.counts["short_batches"] += 1
                self.short_batch = True
            evict += self._hold(r, fb.held() & read & (r["phase"] == "train"))
            gone = read & ~r["keep"] & ~r["consumed"]
            evict += [r["uids"][s] for s in np.flatnonzero(gone)]
            self.counts["evicted"] += int(gone.sum())
            r["consumed"] |= ~r["keep"]
            self._forget(no)
        return evict

    def _hold(self, r: dict[str, Any], hold: np.ndarray) -> list[str]:
        """The held side of a reported request: a continued slot takes its question's held uid as its partner
        (or evicts it when the continuation is not kept); a held slot leaves the request for `held`. Returns
        the held uids to evict."""
        evict = []
        for s in np.flatnonzero(r.get("continues", np.zeros(r["ids"].size, dtype=bool))):
            prior = self.held.pop(int(r["ids"][s]), None)
            if prior is not None and r["keep"][s]:
                self.partner[r["uids"][s]] = prior
            elif prior is not None:
                evict.append(prior)
        for s in np.flatnonzero(hold):
            old = self.held.get(int(r["ids"][s]))
            if old is not None:  # a question screened again while held: the newer attempts stand
                evict.append(old)
            self.held[int(r["ids"][s])] = r["uids"][s]
            r["consumed"][s] = True
        self.counts["evicted"] += len(evict)
        return evict

    def holding(self) -> set[str]:
        """uids of held groups (waiting for their continuation, or partnered with a kept one): in
        TransferQueue, not to be read or evicted as groups of their own."""
        return set(self.held.values()) | set(self.partner.values())

    def kept(self) -> list[str]:
        """uids of the groups the curriculum kept that are not trained on yet."""
        return [
            r["uids"][s]
            for r in self.requests.values()
            if r["keep"] is not None
            for s in np.flatnonzero(r["keep"] & ~r["consumed"])
        ]

    def consume(self, uid: str, why: str = "trained") -> str | None:
        """A kept group left the buffer: trained on, or evicted (`stale_kept`, `surplus`). Returns the uid of
        the held attempts it is trained with (its partner), which leave with it, or None."""
        no, slot = self.uid_slot.pop(uid)
        self.requests[no]["consumed"][slot] = True
        self.counts[why] += 1
        self._forget(no)
        return self.partner.pop(uid, None)

    def open_train_slots(self) -> int:
        """Training slots of unreported requests (queued, out or read): groups that may still be kept."""
        return sum(
            int((r["state"] != DROPPED).sum())
            for r in self.requests.values()
            if r["keep"] is None and r["phase"] == "train"
        )

    @staticmethod
    def _attempts(r: dict[str, Any]) -> np.ndarray:
        """Attempts asked of each slot of a request (a state saved before per-question attempts: its width)."""
        return r.get("attempts", np.full(r["ids"].size, r["rows"].shape[1]))

    def _forget(self, no: int) -> None:
        r = self.requests[no]
        if r["keep"] is not None and r["consumed"].all():
            for u in r["uids"]:
                self.uid_slot.pop(u, None)
            del self.requests[no]

    # -- state --

    def state_dict(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "curriculum": self.curriculum.state_dict(),
                "rollout_n": self.rollout_n,
                "requests": self.requests,
                "queue": list(self.queue),
                "next_no": self.next_no,
                "probe_out": self.probe_out,
                "uid_slot": self.uid_slot,
                "counts": self.counts,
                "short_batch": self.short_batch,
                "held": self.held,
                "partner": self.partner,
            }
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["rollout_n"] != self.rollout_n:
            raise ValueError(
                f"state was saved with rollout.n={state['rollout_n']}; this run makes {self.rollout_n}"
            )
        state = copy.deepcopy(state)
        self.curriculum.load_state_dict(state["curriculum"])
        self.requests, self.queue, self.next_no = state["requests"], deque(state["queue"]), state["next_no"]
        self.probe_out, self.uid_slot, self.counts = state["probe_out"], state["uid_slot"], state["counts"]
        self.short_batch = bool(state.get("short_batch", False))
        self.held, self.partner = state.get("held", {}), state.get("partner", {})

    def metrics(self) -> dict[str, float]:
        """The curriculum's scalar diagnostics plus the feed's counts, for verl's logger."""
        out = {
            k: float(v) for k, v in self.curriculum.diagnostics().items() if np.isscalar(v) and np.isfinite(v)
        }
        out.update({f"curriculum/groups_{k}": float(v) for k, v in self.counts.items()})
        out["curriculum/requests_open"] = float(len(self.requests))
        return out


#: replay buffers built and not yet joined by their training dataset (verl builds the buffer in the
#: trainer's constructor, then the train dataset, then the validation dataset, in one process)
UNBOUND: list[Any] = []

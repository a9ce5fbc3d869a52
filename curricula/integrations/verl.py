"""The curriculum's side of verl 0.9.1 (`RayPPOTrainer`, i.e. `trainer.use_v1=False`): a sampler that lets
the curriculum choose each batch's prompts, and the way back for the rewards.

The trainer side (`agents.verl_trainer`: `CurriculumRayPPOTrainer`, the Hydra entry point) and the data
(`mathenv.export.write_verl_parquet`) and reward (`mathenv.rewards.compute_score`) live with their kind; see
docs/verl.md for the commands. The pieces:

- `CurriculumSampler` — a `torch.utils.data.Sampler` of dataset row numbers, passed as RayPPOTrainer's
  `train_sampler`. Each trainer batch of B prompts is one `BatchSchedule` batch: a training batch from
  `curriculum.sample()`, or a batch of learnability probe candidates. The sampler is stateful in the
  torchdata sense, so the curriculum's state rides in verl's own `data.pt` checkpoint.
- `CurriculumSampler.update(batch)` — the way back: reads every row's question id and sequence reward from
  a verl batch and reports them; `agents.verl_trainer.CurriculumRayPPOTrainer` calls it once per step.
- `CurriculumDataset`, `build`, `make_curriculum` — the dataset wrapper and the construction from a config.

How a batch is read (`groups_from_batch`): verl repeats each prompt `rollout.n` times and gives the copies
one `uid`; the question id is `curriculum_index` (the row number, which `CurriculumDataset` writes into each
row's `extra_info`, the per-row field that survives verl's rollout) or else `index` (`extra_info.index`, the
row number for files from `write_verl_parquet` when no rows are filtered), looked up first as a
`non_tensor_batch` column, then in `extra_info`; the sequence reward is the sum over response tokens of
`token_level_scores` (the verifier's reward, before any KL penalty).

Importing this module does not import verl; `LegacyCurriculumSampler` is built on first use.
"""

from __future__ import annotations

import copy
import inspect
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Sampler

import curricula
from curricula.base import Curriculum, Feedback
from curricula.integrations import lazy_attributes
from curricula.schedule import BatchSchedule

INDEX_KEYS = ("curriculum_index", "index")
REWARD_KEYS = ("token_level_scores", "token_level_rewards", "rm_scores")


class CurriculumSampler(Sampler[int]):
    """Dataset row numbers chosen by a curriculum, one trainer batch (`batch_size` prompts) at a time.

    `rollout_n` is verl's `actor_rollout_ref.rollout.n` (attempts per prompt). An epoch is `num_batches`
    batches (default: one pass's worth, pool // batch_size); verl's step count follows from it unless
    `trainer.total_training_steps` is set. Probe batches count as steps.

    `update(batch)` is the way back (the name of verl's `AbstractCurriculumSampler.update(batch)` interface):
    it reads the batch's question ids and rewards and returns the curriculum's Feedback, `keep` over rows.
    """

    def __init__(
        self,
        curriculum: Curriculum,
        batch_size: int,
        rollout_n: int,
        *,
        num_batches: int | None = None,
        index_key: str | None = None,
        reward_key: str | None = None,
    ) -> None:
        self.schedule = BatchSchedule(curriculum, batch_size, rollout_n)
        self.num_batches = int(num_batches) if num_batches else max(1, curriculum.num_questions // batch_size)
        self.index_key = index_key
        self.reward_key = reward_key
        self._position = 0  # batches begun in the current epoch
        self._resume_at: int | None = None

    @property
    def curriculum(self) -> Curriculum:
        return self.schedule.curriculum

    @property
    def batch_size(self) -> int:
        return self.schedule.batch_size

    @property
    def group_size(self) -> int:
        return self.schedule.group_size

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def __iter__(self) -> Iterator[int]:
        start, self._resume_at = self._resume_at or 0, None
        for b in range(start, self.num_batches):
            self._position = b + 1
            req = self.schedule.next_request()  # drawn when the loader asks for the batch's first row
            yield from req.question_ids.tolist()
        self._position = 0

    def update(self, batch: Any) -> Feedback:
        """Report a trainer batch (a `DataProto` after reward computation): the feedback's keep is per row."""
        qids, rewards, group_of_row = groups_from_batch(batch, self.index_key, self.reward_key)
        fb = self.schedule.report(qids, rewards)
        return Feedback(fb.keep[group_of_row], fb.done, fb.phase)

    # torchdata's StatefulDataLoader saves these inside verl's data.pt
    def state_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule.state_dict(), "position": self._position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.schedule.load_state_dict(state["schedule"])
        self._position = int(state["position"])
        self._resume_at = self._position if self._position < self.num_batches else 0


class CurriculumDataset(Dataset):
    """A verl dataset whose rows also carry their own row number as `curriculum_index`, so feedback finds
    the question whatever `extra_info.index` says (e.g. after `filter_overlong_prompts` dropped rows)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        row = dict(self.dataset[i])
        # extra_info is the one per-row field verl 0.9.1 carries from the dataset to the trained batch
        row["extra_info"] = {**(row.get("extra_info") or {}), "curriculum_index": int(i)}
        return row

    def __getattr__(self, name: str) -> Any:  # everything else (dataframe, ...) from the wrapped dataset
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def groups_from_batch(
    batch: Any, index_key: str | None = None, reward_key: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(question id per group, rewards (groups, max group size) NaN-padded, group of each row) of a verl
    `DataProto`; a group is the rows sharing a `uid` (one prompt's `rollout.n` responses)."""
    nt = batch.non_tensor_batch
    key, ids = _question_ids(nt, index_key)
    rkey = reward_key or next((k for k in REWARD_KEYS if k in batch.batch.keys()), None)
    if rkey is None or rkey not in batch.batch.keys():
        raise KeyError(
            f"the batch has no rewards yet: expected one of {REWARD_KEYS} in batch.batch, "
            f"found {sorted(batch.batch.keys())}"
        )
    scores = batch.batch[rkey]
    seq = (scores.sum(dim=-1) if scores.dim() > 1 else scores).float().cpu().numpy().astype(np.float64)
    uids = np.asarray(nt["uid"]) if "uid" in nt else ids
    _, group_of_row = np.unique(uids, return_inverse=True)
    group_of_row = group_of_row.reshape(-1)
    n_groups = int(group_of_row.max()) + 1 if group_of_row.size else 0
    qids = np.full(n_groups, -1, dtype=np.int64)
    qids[group_of_row] = ids
    if not np.array_equal(qids[group_of_row], ids):
        raise ValueError(f"rows sharing a uid carry different {key!r} values; each uid must be one prompt")
    order = np.argsort(group_of_row, kind="stable")
    sizes = np.bincount(group_of_row, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(ids.size, dtype=np.int64)
    rank[order] = np.arange(ids.size) - np.repeat(starts, sizes)
    rewards = np.full((n_groups, int(sizes.max()) if n_groups else 0), np.nan)
    rewards[group_of_row, rank] = seq
    return qids, rewards, group_of_row


def _question_ids(nt: dict[str, np.ndarray], index_key: str | None) -> tuple[str, np.ndarray]:
    """Each row's question id: `key` from non_tensor_batch or from each row's `extra_info` dict (verl 0.9.1
    keeps only data_source, reward_model, extra_info and uid of the dataset's fields once rewards are
    computed by its reward workers)."""
    keys = (index_key,) if index_key else INDEX_KEYS
    info = nt.get("extra_info")
    for key in keys:
        if key in nt:
            return key, np.asarray(nt[key]).astype(np.int64)
        if info is not None and len(info) and all(isinstance(x, dict) and key in x for x in info):
            return f"extra_info.{key}", np.array([x[key] for x in info], dtype=np.int64)
    raise KeyError(
        f"the batch has no question ids: expected one of {keys} in non_tensor_batch or in each "
        f"row's extra_info; non_tensor_batch has {sorted(nt)}"
    )


# ---- metrics and older verl releases ------------------------------------------------------------------


def curriculum_metrics(sampler: CurriculumSampler, phase: str) -> dict[str, float]:
    """The curriculum's scalar diagnostics for verl's logger, plus the phase of this step's batch."""
    out = {
        k: float(v) for k, v in sampler.curriculum.diagnostics().items() if np.isscalar(v) and np.isfinite(v)
    }
    out["curriculum/probe_step"] = float(phase == "probe")
    out["curriculum/lagged_batches"] = float(sampler.schedule.lagged_batches)
    return out


def _build_legacy_class() -> type:
    """For verl releases with `data.sampler.class_path` (e.g. 0.5-0.7): `(data_source, data_config)`
    constructor, options under `data.curriculum`, `update(batch)` called by their trainer each step."""
    try:
        from verl.experimental.dataset.sampler import AbstractCurriculumSampler as base
    except ImportError:  # not in verl 0.9.1
        base = Sampler

    class LegacyCurriculumSampler(CurriculumSampler, base):
        def __init__(self, data_source: Sequence, data_config: Any) -> None:
            opts = dict(data_config.get("curriculum") or {})
            if "rollout_n" not in opts:
                raise ValueError("set data.curriculum.rollout_n (= actor_rollout_ref.rollout.n)")
            rollout_n = int(opts.pop("rollout_n"))
            batch = data_config.get("gen_batch_size", None) or data_config.train_batch_size
            cur = make_curriculum(opts, len(data_source), data_config.train_batch_size, batch)
            CurriculumSampler.__init__(self, cur, batch, rollout_n, num_batches=opts.get("num_batches"))

    return LegacyCurriculumSampler


# ---- configuration ------------------------------------------------------------------------------------

RESERVED = ("name", "seed", "num_batches", "rollout_n")


def make_curriculum(
    options: dict[str, Any], num_questions: int, train_batch_size: int, gen_batch_size: int | None = None
) -> Curriculum:
    """`curricula.make` from a config section: `name`, `seed`, and the curriculum's own options (the
    paper's symbols too). `batch_size` defaults to verl's `data.train_batch_size` (the groups trained per
    step) and, for a curriculum that draws generation batches (zero_variance_filter), `gen_batch_size` to
    the loader's batch (`data.gen_batch_size`)."""
    opts = curricula.canonical_options(options)
    if "name" not in opts:
        raise ValueError(f"name the curriculum: +curriculum.name=<one of {sorted(curricula.CURRICULA)}>")
    name, seed = opts.pop("name"), int(opts.pop("seed", 0))
    for k in RESERVED:
        opts.pop(k, None)
    opts.setdefault("batch_size", int(train_batch_size))
    cls = curricula.CURRICULA.get(name)
    if gen_batch_size and cls is not None and "gen_batch_size" in inspect.signature(cls.__init__).parameters:
        opts.setdefault("gen_batch_size", int(gen_batch_size))
    return curricula.make(name, num_questions, seed=seed, **opts)


def build(config: Any, train_dataset: Dataset) -> tuple[CurriculumDataset, CurriculumSampler]:
    """The dataset wrapper and sampler for a verl config with a `curriculum` section."""
    from omegaconf import OmegaConf

    section = config.get("curriculum")
    if section is None:
        raise ValueError(
            "add a curriculum section to the config, e.g. +curriculum.name=learnability "
            "+curriculum.preset=fast"
        )
    opts = OmegaConf.to_container(section, resolve=True)
    data = config.data
    loader_batch = data.get("gen_batch_size", None) or data.train_batch_size
    cur = make_curriculum(opts, len(train_dataset), data.train_batch_size, loader_batch)
    sampler = CurriculumSampler(
        cur, loader_batch, config.actor_rollout_ref.rollout.n, num_batches=opts.get("num_batches")
    )
    return CurriculumDataset(train_dataset), sampler


# ---- verl's v1 trainer: the prompt stream and the replay buffer ----------------------------------------

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
        if curriculum.holds_groups:
            raise ValueError(
                f"{curriculum.name} holds groups to join them to a later continuation, but verl's v1 buffer "
                f"trains each group under its own uid, so the held attempts could not join: train "
                f"{curriculum.name} with agents.train or CurriculumWrapper"
            )
        self.curriculum = curriculum
        self.rollout_n = int(rollout_n)
        self.requests: dict[int, dict[str, Any]] = {}
        self.queue: deque[tuple[int, int]] = deque()
        self.next_no = 0
        self.probe_out: int | None = None  # the probe request being attempted
        self.uid_slot: dict[str, tuple[int, int]] = {}  # verl's group uid -> (request, slot), once known
        #: groups read / dropped / evicted unkept / trained / evicted kept (stale) / discarded kept (sync surplus),
        #: and the attempts read (what the curriculum has counted)
        self.counts = dict.fromkeys(
            ("read", "dropped", "evicted", "trained", "stale_kept", "surplus", "attempts"), 0
        )

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
            gone = read & ~r["keep"]
            evict += [r["uids"][s] for s in np.flatnonzero(gone)]
            self.counts["evicted"] += int(gone.sum())
            r["consumed"] |= ~r["keep"]
            self._forget(no)
        return evict

    def kept(self) -> list[str]:
        """uids of the groups the curriculum kept that are not trained on yet."""
        return [
            r["uids"][s]
            for r in self.requests.values()
            if r["keep"] is not None
            for s in np.flatnonzero(r["keep"] & ~r["consumed"])
        ]

    def consume(self, uid: str, why: str = "trained") -> None:
        """A kept group left the buffer: trained on, or evicted (`stale_kept`, `surplus`)."""
        no, slot = self.uid_slot.pop(uid)
        self.requests[no]["consumed"][slot] = True
        self.counts[why] += 1
        self._forget(no)

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
_UNBOUND: list[Any] = []


def _build_replay_buffer_class() -> type:
    import time

    import transfer_queue as tq
    from omegaconf import DictConfig, OmegaConf
    from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync

    class CurriculumReplayBuffer(ReplayBufferAsync):
        """verl v1's replay buffer (`trainer.v1.sampler.custom_sampler`) with a curriculum deciding which
        questions are attempted and which finished groups are trained on.

        `sampler_kwargs` (`trainer.v1.sampler.sampler_kwargs`) is the curriculum's section: `name`, `seed`
        and its options, plus `rollout_n` (default: the trainer's `actor_rollout_ref.rollout.n`). The
        prompts come from `CurriculumRLDataset` (`data.custom_cls`), which joins this buffer.

        Each `sample(step, "train", B)`: reads the rewards of every group that finished since the last
        call (a group finished more than `max_off_policy_threshold` versions after it was submitted is
        evicted unread in async modes with `drop`), reports every request whose groups are all back, evicts
        the groups not kept (probes, filtered groups), asks the trainer for more prompts (`refill_fn`) while
        the kept groups plus those that may still be kept fall short of B, and returns the B oldest kept
        groups. Sync mode drains every prompt in flight before it returns (its batch is on-policy) and
        discards kept groups beyond B; async modes keep them for later steps, within the threshold.
        """

        def __init__(
            self,
            trainer_mode: str,
            trainer_config: DictConfig,
            max_off_policy_threshold: int | None,
            max_off_policy_strategy: str,
            sampler_kwargs: Any,
            poll_interval: float = 2.0,
            refill_fn: Any = None,
            **kwargs: Any,
        ) -> None:
            if refill_fn is None:
                raise ValueError("CurriculumReplayBuffer needs refill_fn (verl's v1 trainer passes it)")
            opts = (
                OmegaConf.to_container(sampler_kwargs, resolve=True)
                if isinstance(sampler_kwargs, DictConfig)
                else dict(sampler_kwargs or {})
            )
            poll_interval = float(opts.pop("poll_interval", poll_interval))
            super().__init__(
                trainer_mode,
                trainer_config,
                max_off_policy_threshold,
                max_off_policy_strategy,
                sampler_kwargs,
                poll_interval=poll_interval,
                refill_fn=refill_fn,
            )
            if (
                "rollout_n" not in opts
            ):  # verl hands a custom sampler only its own section; the trainer is refill_fn's
                trainer_cfg = getattr(getattr(refill_fn, "__self__", None), "config", None)
                if trainer_cfg is None:
                    raise ValueError(
                        "set trainer.v1.sampler.sampler_kwargs.rollout_n (= actor_rollout_ref.rollout.n)"
                    )
                opts["rollout_n"] = int(trainer_cfg.actor_rollout_ref.rollout.n)
            if "name" not in opts:
                raise ValueError(
                    f"name the curriculum: +trainer.v1.sampler.sampler_kwargs.name=<one of "
                    f"{sorted(curricula.CURRICULA)}>"
                )
            self.options = opts
            self.feed: CurriculumFeed | None = None
            _UNBOUND.append(self)

        def bind(self, num_questions: int, train_batch_size: int) -> CurriculumFeed:
            """Build the curriculum over the training dataset's rows (called by CurriculumRLDataset)."""
            opts = dict(self.options)
            rollout_n = int(opts.pop("rollout_n"))
            cur = make_curriculum(opts, num_questions, train_batch_size, opts.get("gen_batch_size"))
            if getattr(cur, "train_on_probes", False):
                raise ValueError(
                    "train_on_probes is not supported on verl's v1 trainer (probe groups have L "
                    "attempts, not rollout.n): drop it, or use trainer.use_v1=False"
                )
            self.feed = CurriculumFeed(cur, rollout_n)
            return self.feed

        # -- staleness: async modes only (a sync batch is on-policy) --

        def _stale_terminal_keys(self, global_steps: int, partition_id: str) -> set[str]:
            if self.trainer_mode == "sync":
                return set()
            return super()._stale_terminal_keys(global_steps, partition_id)

        def _stale(self, global_steps: int, uid: str) -> bool:
            """Spans more than max_off_policy_threshold policy versions (async modes with `drop` only)."""
            return (
                self.trainer_mode != "sync"
                and self.max_off_policy_threshold is not None
                and self.max_off_policy_strategy == "drop"
                and global_steps - self.prompt_global_steps["train"].get(uid, global_steps) + 1
                > self.max_off_policy_threshold
            )

        # -- sampling --

        def sample(self, global_steps: int, partition_id: str, batch_size: int):
            if partition_id != "train":
                return ReplayBuffer.sample(self, global_steps, partition_id, batch_size)
            if self.feed is None:
                raise RuntimeError(
                    "CurriculumReplayBuffer was never joined by its training dataset: set "
                    "data.custom_cls.path=pkg://curricula.integrations.verl and "
                    "data.custom_cls.name=CurriculumRLDataset"
                )
            feed = self.feed
            metrics: dict[str, float] = {}
            while True:
                self._sync_metadata_from_transfer_queue()
                self._harvest(global_steps)
                evict = feed.report_ready()
                self._clear_groups("train", set(evict))
                for uid in [u for u in feed.kept() if self._stale(global_steps, u)]:
                    feed.consume(uid, "stale_kept")
                    self._clear_groups("train", {uid})
                finished = self.finished_keys["train"]
                sampleable = {u for u in feed.kept() if u in finished}
                refill = self._refill_count(len(sampleable), batch_size)
                if refill:
                    self.refill_fn(refill)
                    continue
                inflight = len(self.pending_keys["train"]) + len(self.running_keys["train"])
                enough = self._has_enough_samples(global_steps, "train", batch_size, sampleable)
                if enough and (self.trainer_mode != "sync" or inflight == 0):
                    break
                if self.trainer_mode == "sync" and inflight == 0 and not feed.queued:
                    self._drop_lost()  # nothing will come back: slots still out lost their groups
                time.sleep(self.poll_interval)
            chosen, snapshot, _ = self._select_prompt_uids("train", sampleable, batch_size)
            for uid in chosen:
                feed.consume(uid, "trained")
            if self.trainer_mode == "sync":  # bufferless: kept groups beyond the batch are discarded
                surplus = sampleable - set(chosen)
                for uid in surplus:
                    feed.consume(uid, "surplus")
                self._clear_groups("train", surplus)
            metrics.update(feed.metrics())
            return self._materialize_batch("train", chosen, snapshot), metrics

        def _refill_count(self, sampleable: int, batch_size: int) -> int:
            """Prompts to submit now: the rest of a request the loader has begun (a request goes out whole),
            else a new request while the groups that are or may be kept fall short of the batch (in sync
            mode, not while a probe is out: the next batch waits for the refreshed buffer)."""
            feed = self.feed
            if feed.queued:
                return feed.queued
            if sampleable + feed.open_train_slots() >= batch_size:
                return 0
            if self.trainer_mode == "sync" and feed.probe_out is not None:
                return 0
            return feed.draw()

        def _harvest(self, global_steps: int) -> None:
            """Read the rewards of every group that finished since the last poll (once per group)."""
            feed = self.feed
            terminal = (self.finished_keys["train"] | self.failure_keys["train"]) - feed.uid_slot.keys()
            if not terminal:
                return
            by_uid: dict[str, list[str]] = {}
            for key in self.partitions["train"]:
                uid = key.split("_")[0]
                if uid in terminal:
                    by_uid.setdefault(uid, []).append(key)
            keys = [k for v in by_uid.values() for k in v]
            rows: dict[str, dict[int, float]] = {}
            where: dict[str, tuple[int, int]] = {}
            if keys:
                try:
                    data = tq.kv_batch_get(
                        keys=keys, partition_id="train", select_fields=["rm_scores", "extra_info"]
                    )
                except Exception as e:  # noqa: BLE001 - TransferQueue raises its own types
                    raise RuntimeError(
                        "the curriculum reads each group's reward when it finishes, but the finished "
                        "trajectories carry no rm_scores: use a rule-based reward "
                        "(reward.custom_reward_function) or reward.reward_model.enable_resource_pool=True"
                    ) from e
                scores = data["rm_scores"]
                sums = (
                    [float(x.sum()) for x in scores.unbind()]
                    if getattr(scores, "is_nested", False)
                    else scores.sum(dim=-1).tolist()
                )
                best: dict[tuple[str, int], int] = {}
                for key, info, score in zip(keys, list(data["extra_info"]), sums, strict=True):
                    uid, session, index = key.split("_")
                    where[uid] = (int(info["curriculum_request"]), int(info["curriculum_slot"]))
                    if int(index) >= best.get((uid, int(session)), -1):  # a multi-turn session's last output
                        best[(uid, int(session))] = int(index)
                        rows.setdefault(uid, {})[int(session)] = score
            for uid in terminal:
                if uid not in where:
                    where_uid = self._prompt_slot(uid)
                    if where_uid is None:
                        continue  # a failed group with no trajectory and no stored prompt: dropped at drain
                    where[uid] = where_uid
                no, slot = where[uid]
                phase, state = feed.slot(no, slot)
                if state >= READ:
                    continue
                failed = uid in self.failure_keys["train"]
                if uid not in rows or (phase == "train" and (failed or self._stale(global_steps, uid))):
                    feed.drop(no, slot)
                    self._clear_groups("train", {uid})
                    continue
                sessions = rows[uid]
                r = np.full(max(sessions) + 1, np.nan)
                r[list(sessions)] = list(sessions.values())
                feed.read(no, slot, uid, r)

        def _prompt_slot(self, uid: str) -> tuple[int, int] | None:
            """(request, slot) of a group with no trajectory, from the prompt fields async modes store."""
            try:
                info = tq.kv_batch_get(keys=[uid], partition_id="train", select_fields=["extra_info"])[
                    "extra_info"
                ]
                info = list(info)[0]
                return int(info["curriculum_request"]), int(info["curriculum_slot"])
            except Exception:  # noqa: BLE001 - sync mode stores tags only for prompts
                return None

        def _drop_lost(self) -> None:
            feed = self.feed
            for no, r in feed.requests.items():
                for slot in np.flatnonzero(r["state"] == OUT):
                    feed.drop(no, int(slot))
            for uid in self.failure_keys["train"] - feed.uid_slot.keys():
                self._clear_groups("train", {uid})

    return CurriculumReplayBuffer


def _build_dataset_class() -> type:
    from verl.utils.dataset.rl_dataset import RLHFDataset

    class CurriculumRLDataset(RLHFDataset):
        """verl's RLHFDataset (`data.custom_cls`) whose rows, for training, are the curriculum's choices.

        verl v1 builds the train and the validation dataset from this class. The first one built after a
        `CurriculumReplayBuffer` joins it and becomes its prompt stream: item i is the next slot of the
        curriculum's requests (whatever i is), with `extra_info.curriculum_index` / `curriculum_request` /
        `curriculum_slot` and `__rollout_n__` (verl's per-prompt attempt count: L for a probe). Any other
        (validation) behaves as RLHFDataset. It needs `data.gen_batch_size=1` (the buffer asks for exact
        numbers of prompts) and `data.dataloader_num_workers=0` (workers would draw ahead of the rewards).
        Its `state_dict` is the feed's, which verl's StatefulDataLoader saves in `data.pt`.
        """

        def __init__(
            self, data_files: Any, tokenizer: Any, config: Any, processor: Any = None, max_samples: int = -1
        ) -> None:
            super().__init__(data_files, tokenizer, config, processor=processor, max_samples=max_samples)
            self.feed: CurriculumFeed | None = None
            if _UNBOUND:
                if config.get("gen_batch_size", None) != 1:
                    raise ValueError(
                        f"the curriculum's buffer asks verl for exact numbers of prompts: set "
                        f"data.gen_batch_size=1 (got {config.get('gen_batch_size', None)})"
                    )
                if config.get("dataloader_num_workers", 0):
                    raise ValueError(
                        "set data.dataloader_num_workers=0: loader workers would draw prompts "
                        "before the rewards they depend on arrive"
                    )
                self.feed = _UNBOUND.pop().bind(super().__len__(), int(config.train_batch_size))
                _UNBOUND.clear()

        def __getitem__(self, item: int) -> dict:
            if self.feed is None:
                return super().__getitem__(item)
            q, no, slot, attempts = self.feed.next_prompt()
            row = super().__getitem__(q)
            row["extra_info"] = {
                **(row.get("extra_info") or {}),
                "curriculum_index": q,
                "curriculum_request": no,
                "curriculum_slot": slot,
            }
            row["__rollout_n__"] = attempts
            return row

        def state_dict(self) -> dict[str, Any]:
            return {} if self.feed is None else self.feed.state_dict()

        def load_state_dict(self, state: dict[str, Any]) -> None:
            if self.feed is not None and state:
                self.feed.load_state_dict(state)

    return CurriculumRLDataset


__getattr__ = lazy_attributes(
    __name__,
    {
        "LegacyCurriculumSampler": _build_legacy_class,
        "CurriculumReplayBuffer": _build_replay_buffer_class,
        "CurriculumRLDataset": _build_dataset_class,
    },
)


# LegacyCurriculumSampler, CurriculumReplayBuffer and CurriculumRLDataset are built by __getattr__ on first
# use (they import verl)
__all__ = [
    "CurriculumDataset",
    "CurriculumFeed",
    "CurriculumSampler",
    "build",
    "curriculum_metrics",
    "groups_from_batch",
    "make_curriculum",
]

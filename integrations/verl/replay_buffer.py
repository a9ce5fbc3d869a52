"""verl v1's replay buffer with a curriculum deciding which questions are attempted and which finished
groups are trained on (`trainer.v1.sampler.custom_sampler`: `pkg://integrations.verl.replay_buffer`, name
`CurriculumReplayBuffer`). Its prompts come from `integrations.verl.dataset.CurriculumRLDataset`; the requests
in flight are an `integrations.verl.feed.CurriculumFeed`. Importing this module imports verl."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import transfer_queue as tq
from omegaconf import DictConfig, OmegaConf
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer, ReplayBufferAsync

import curricula
from integrations.verl.feed import OUT, READ, UNBOUND, CurriculumFeed
from integrations.verl.sampler import make_curriculum


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
        UNBOUND.append(self)

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
                "data.custom_cls.path=pkg://integrations.verl.dataset and "
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

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
from tensordict import NonTensorStack, TensorDict
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
    discards kept groups beyond B; async modes keep them for later steps, within the threshold. When the
    curriculum ends a batch short (`zero_variance_filter` at `max_num_gen_batches`), it stops asking and
    returns the groups it has (verl pads a short batch). A group the curriculum holds (`Feedback.hold`,
    SPEED's screening) stays in TransferQueue, neither trained nor evicted, until the report that keeps its
    continuation; the two are sampled as one group (`_join`: the held trajectories take the continuation's
    uid, which verl's GRPO advantage groups by). `separate_async`'s hybrid switch asks
    `get_sampleable_count` and `wait_for_sampleable`; both take the same path (`_poll`), so nothing is
    counted or evicted behind the curriculum's back. `algorithm.filter_groups.enable` is refused: verl
    does not apply it to a custom buffer, and `zero_variance_filter` is that filter.
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
        # verl hands a custom sampler only its own section; the trainer's config is refill_fn's
        trainer_cfg = getattr(getattr(refill_fn, "__self__", None), "config", None)
        filter_groups = trainer_cfg.algorithm.get("filter_groups", None) if trainer_cfg is not None else None
        if filter_groups is not None and filter_groups.get("enable", False):
            raise ValueError(
                "algorithm.filter_groups.enable=True is verl's DAPO filter for its own buffer, which the "
                "curriculum's replaces: set it to False and use +curriculum.name=zero_variance_filter "
                "(+curriculum.max_num_gen_batches=N caps the regeneration)"
            )
        if "rollout_n" not in opts:
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
        opts = curricula.registry.with_group_size(opts.get("name", ""), opts, rollout_n)  # SPEED's N
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

    def _poll(self, global_steps: int) -> set[str]:
        """One look at TransferQueue through the feed: read the groups that finished, report the requests
        that are complete, evict what the curriculum does not keep and kept groups gone stale; returns the
        kept, finished groups (what the trainer may sample)."""
        if self.feed is None:
            raise RuntimeError(
                "CurriculumReplayBuffer was never joined by its training dataset: set "
                "data.custom_cls.path=pkg://integrations.verl.dataset and "
                "data.custom_cls.name=CurriculumRLDataset"
            )
        feed = self.feed
        self._sync_metadata_from_transfer_queue()
        self._harvest(global_steps)
        self._clear_groups("train", set(feed.report_ready()))
        for uid in [u for u in feed.kept() if self._stale(global_steps, u)]:
            self._clear_groups("train", {uid, feed.consume(uid, "stale_kept")} - {None})
        finished = self.finished_keys["train"]
        return {u for u in feed.kept() if u in finished}

    def get_sampleable_count(self, global_steps: int, partition_id: str) -> int:
        """Kept groups ready to train on (separate_async's switch asks before and after each step): the
        curriculum's count, so a finished probe counts 0 and is reported, not left open."""
        if partition_id != "train":
            return super().get_sampleable_count(global_steps, partition_id)
        return len(self._poll(global_steps))

    def wait_for_sampleable(
        self, global_steps: int, partition_id: str, target_count: int
    ) -> tuple[set[str], dict]:
        """Poll until `target_count` kept groups are ready (or the curriculum ended a batch short),
        asking for prompts as `sample` does: stale or filtered groups go through the feed (a stale group
        is the curriculum's missing report, a probe's groups are reported and refresh it)."""
        if partition_id != "train":
            return super().wait_for_sampleable(global_steps, partition_id, target_count)
        while True:
            sampleable = self._poll(global_steps)
            want = self._want(sampleable, target_count)
            refill = self._refill_count(len(sampleable), want)
            if refill:
                self.refill_fn(refill)
                continue
            if self._has_enough_samples(global_steps, "train", want, sampleable):
                return sampleable, self.feed.metrics()
            time.sleep(self.poll_interval)

    def _want(self, sampleable: set[str], batch_size: int) -> int:
        """Groups to hand out: batch_size, or fewer once the curriculum ended its batch short."""
        feed = self.feed
        if feed.short_batch and sampleable and not feed.queued and not feed.open_train_slots():
            return min(batch_size, len(sampleable))
        return batch_size

    def sample(self, global_steps: int, partition_id: str, batch_size: int):
        if partition_id != "train":
            return ReplayBuffer.sample(self, global_steps, partition_id, batch_size)
        feed = self.feed
        while True:
            sampleable = self._poll(global_steps)
            want = self._want(sampleable, batch_size)
            refill = self._refill_count(len(sampleable), want)
            if refill:
                self.refill_fn(refill)
                continue
            inflight = len(self.pending_keys["train"]) + len(self.running_keys["train"])
            enough = self._has_enough_samples(global_steps, "train", want, sampleable)
            if enough and (self.trainer_mode != "sync" or inflight == 0):
                break
            if self.trainer_mode == "sync" and inflight == 0 and not feed.queued:
                self._drop_lost()  # nothing will come back: slots still out lost their groups
            time.sleep(self.poll_interval)
        chosen, snapshot, _ = self._select_prompt_uids("train", sampleable, want)
        partners = {uid: feed.consume(uid, "trained") for uid in chosen}
        partners = {uid: held for uid, held in partners.items() if held is not None}
        if feed.short_batch and not feed.queued and not feed.open_train_slots():
            feed.short_batch = False  # the short batch is out (verl pads it to its mini-batch multiple)
        if self.trainer_mode == "sync":  # bufferless: kept groups beyond the batch are discarded
            surplus = sampleable - set(chosen)
            held = {feed.consume(uid, "surplus") for uid in surplus} - {None}
            self._clear_groups("train", surplus | held)
        batch = self._materialize_batch("train", [*chosen, *partners.values()], snapshot)
        self._join(partners, batch)
        return batch, feed.metrics()

    def _join(self, partners: dict[str, str], batch: Any) -> None:
        """Train each held group with its continuation as one group: the held trajectories take the
        continuation's uid, the field verl's GRPO advantage groups by (their keys keep their own)."""
        if not partners:
            return
        uid_of = {held: uid for uid, held in partners.items()}
        keys = [k for k in batch.keys if k.split("_")[0] in uid_of]
        uids = [uid_of[k.split("_")[0]] for k in keys]
        tq.kv_batch_put(
            keys=keys,
            partition_id="train",
            fields=TensorDict({"uid": NonTensorStack(*uids)}, batch_size=len(keys)),
        )

    def _refill_count(self, sampleable: int, batch_size: int) -> int:
        """Prompts to submit now: the rest of a request the loader has begun (a request goes out whole),
        else a new request while the groups that are or may be kept fall short of the batch (in sync
        mode, not while a probe is out: the next batch waits for the refreshed buffer)."""
        feed = self.feed
        if feed.queued:
            return feed.queued
        if feed.short_batch or sampleable + feed.open_train_slots() >= batch_size:
            return 0
        if self.trainer_mode == "sync" and feed.probe_out is not None:
            return 0
        return feed.draw()

    def _harvest(self, global_steps: int) -> None:
        """Read the rewards of every group that finished since the last poll (once per group)."""
        feed = self.feed
        terminal = (
            (self.finished_keys["train"] | self.failure_keys["train"]) - feed.uid_slot.keys() - feed.holding()
        )
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

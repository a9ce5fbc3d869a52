"""verl 0.9.1's legacy trainer (`trainer.use_v1=False`, deprecated by verl) on our curricula:
`CurriculumRayPPOTrainer`, a RayPPOTrainer whose `train_sampler` is a
`integrations.verl.sampler.CurriculumSampler`, plus the way back: just before the critic/actor update of
each step (rewards, advantages and the final row order are known then) it hands every row's question id
and sequence reward to the curriculum, and trains only on what the curriculum keeps: probe batches are not
trained on (unless `train_on_probes`), filter curricula drop their groups. A step whose feedback is not
`done` (a probe batch; a DAPO generation batch that left the batch short) does not update: its kept rows,
with their advantages and log-probs, wait, and the step whose feedback is `done` updates once on all of
them, as verl's DAPO trainer does (recipe/dapo: it concatenates generation batches until
`train_batch_size` groups are kept). It also writes `curriculum.pt` (and the waiting rows,
`curriculum_rows.pt`) beside verl's checkpoint and restores them on resume.

`run_task` and `CurriculumTaskRunner` run it from `integrations.verl.main` (the entry point). Importing this
module imports verl.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import ray
import torch
from omegaconf import OmegaConf, open_dict
from verl import DataProto
from verl.trainer.main_ppo_v0 import BaseTaskRunner
from verl.trainer.ppo.ray_trainer import RayPPOTrainer
from verl.trainer.ppo.utils import create_rl_dataset, need_critic, need_reference_policy
from verl.utils.config import omega_conf_to_dataclass, validate_config
from verl.utils.dataset.rl_dataset import collate_fn
from verl.workers.config import HFModelConfig

from curricula.protocol import Feedback
from curricula.schedule import CURRICULUM_CHECKPOINT
from integrations.verl.sampler import CurriculumSampler, build, curriculum_metrics

#: beside curriculum.pt: the kept rows of steps whose feedback was not done, waiting for the update
WAITING_ROWS = "curriculum_rows.pt"


class CurriculumRayPPOTrainer(RayPPOTrainer):
    """RayPPOTrainer whose `train_sampler` is a `CurriculumSampler`, fed each step's rewards.

    Sets `data.dataloader_num_workers=0` (worker processes would draw batches ahead of the rewards
    they depend on). Checks that the loader batch (`data.gen_batch_size` or `data.train_batch_size`)
    and `rollout.n` match the sampler.
    """

    def __init__(self, config, *args: Any, train_sampler: CurriculumSampler | None = None, **kwargs: Any):
        if not isinstance(train_sampler, CurriculumSampler):
            raise TypeError("CurriculumRayPPOTrainer needs train_sampler=CurriculumSampler(curriculum, ...)")
        data = config.data
        if data.get("dataloader_num_workers", 0):
            warnings.warn(
                f"data.dataloader_num_workers={data.dataloader_num_workers} would draw batches "
                f"before the rewards they depend on arrive; using 0",
                stacklevel=2,
            )
            with open_dict(config):
                config.data.dataloader_num_workers = 0
        loader_batch = data.get("gen_batch_size", None) or data.train_batch_size
        if loader_batch != train_sampler.batch_size:
            raise ValueError(
                f"the data loader draws {loader_batch} prompts per step (data.gen_batch_size or "
                f"data.train_batch_size) but the sampler makes batches of "
                f"{train_sampler.batch_size}"
            )
        n = config.actor_rollout_ref.rollout.n
        if n != train_sampler.group_size:
            raise ValueError(
                f"actor_rollout_ref.rollout.n={n} but the sampler was built with rollout_n="
                f"{train_sampler.group_size}"
            )
        super().__init__(config, *args, train_sampler=train_sampler, **kwargs)
        self.curriculum_sampler = train_sampler
        self._curriculum_step: int | None = None
        self._curriculum_train: tuple[Feedback, DataProto | None] | None = None
        self._curriculum_waiting: list[DataProto] = []  # kept rows of steps that were not done

    # -- the way back: once per step, before the first update that uses the batch --

    def _curriculum_batch(self, batch: DataProto) -> tuple[Feedback, DataProto | None]:
        """This step's feedback and the batch to train on (None: no update this step)."""
        if self._curriculum_step != self.global_steps or self._curriculum_train is None:
            fb = self.curriculum_sampler.update(batch)
            if fb.keep.any() and not (fb.done and fb.keep.all() and not self._curriculum_waiting):
                self._curriculum_waiting.append(self._rows(batch, fb.keep))
            train = None
            if fb.done and self._curriculum_waiting:
                train = self._assemble(batch, fb.keep)
            elif fb.done and fb.keep.all():
                train = batch
            if fb.done:
                self._curriculum_waiting = []
            self._curriculum_train = (fb, train)
            self._curriculum_step = self.global_steps
        return self._curriculum_train

    @staticmethod
    def _rows(batch: DataProto, mask: np.ndarray) -> DataProto:
        out = batch.select_idxs(mask)
        out.meta_info = {}  # rebuilt for the training batch (per-row entries would not match)
        return out

    def _assemble(self, batch: DataProto, keep: np.ndarray) -> DataProto:
        """The waiting kept rows as one training batch. When the curriculum ended a batch short (DAPO's
        cap on generation batches), it is filled up to `train_batch_size` groups with this step's dropped
        rows at advantage 0 (they count in loss normalisation only), so verl's mini-batches still divide it."""
        rows = self._curriculum_waiting
        full = self.config.data.train_batch_size * self.config.actor_rollout_ref.rollout.n
        short = full - sum(len(r) for r in rows)
        if short > 0:
            dropped = np.flatnonzero(~keep)[:short]
            pad = self._rows(batch, dropped)
            pad.batch["advantages"] = torch.zeros_like(pad.batch["advantages"])
            rows = [*rows, pad]
            if dropped.size < short:
                warnings.warn(
                    f"the curriculum's batch holds {full - short + dropped.size} of {full} rows "
                    f"even with this step's dropped rows: training on a short batch",
                    stacklevel=2,
                )
        out = DataProto.concat(rows)
        out.meta_info = {k: v for k, v in batch.meta_info.items() if k != "global_token_num"}
        out.meta_info["global_token_num"] = torch.sum(out.batch["attention_mask"], dim=-1).tolist()
        return out

    @staticmethod
    def _skipped(role: str) -> DataProto:
        return DataProto.from_single_dict(data={}, meta_info={"metrics": {f"{role}/curriculum_skipped": 1.0}})

    def _update_critic(self, batch: DataProto) -> DataProto:
        _, train = self._curriculum_batch(batch)
        return self._skipped("critic") if train is None else super()._update_critic(train)

    def _update_actor(self, batch: DataProto) -> DataProto:
        fb, train = self._curriculum_batch(batch)
        output = self._skipped("actor") if train is None else super()._update_actor(train)
        metrics = output.meta_info.setdefault("metrics", {})
        metrics.update(curriculum_metrics(self.curriculum_sampler, fb.phase))
        metrics["curriculum/waiting_rows"] = float(sum(len(r) for r in self._curriculum_waiting))
        return output

    # -- checkpoints: curriculum.pt (and the waiting rows) beside verl's own files (data.pt holds a copy) --

    def _save_checkpoint(self) -> None:
        super()._save_checkpoint()
        folder = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
        os.makedirs(folder, exist_ok=True)
        torch.save(self.curriculum_sampler.state_dict(), os.path.join(folder, CURRICULUM_CHECKPOINT))
        torch.save(self._curriculum_waiting, os.path.join(folder, WAITING_ROWS))

    def _load_checkpoint(self):
        out = super()._load_checkpoint()
        if self.global_steps > 0:
            folder = self._curriculum_folder()
            path = os.path.join(folder, CURRICULUM_CHECKPOINT)
            if os.path.exists(path):
                self.curriculum_sampler.load_state_dict(torch.load(path, weights_only=False))
                print(f"curriculum state restored from {path}")
            else:
                warnings.warn(f"no curriculum state at {path}: the curriculum starts afresh", stacklevel=2)
            rows = os.path.join(folder, WAITING_ROWS)
            self._curriculum_waiting = torch.load(rows, weights_only=False) if os.path.exists(rows) else []
        return out

    def _curriculum_folder(self) -> str:
        t = self.config.trainer
        if t.resume_mode == "resume_path" and t.get("resume_from_path"):
            folder = t.resume_from_path
        else:
            folder = os.path.join(t.default_local_dir, f"global_step_{self.global_steps}")
        return os.path.abspath(folder)


def run_task(runner: Any, config: Any) -> None:
    """The body of verl 0.9.1's legacy TaskRunner.run, with our dataset wrapper, sampler and trainer."""
    OmegaConf.resolve(config)
    actor_rollout_cls, ray_worker_group_cls = runner.add_actor_rollout_worker(config)
    runner.add_critic_worker(config)
    runner.add_reward_model_resource_pool(config)
    runner.add_teacher_model_resource_pool(config)
    runner.add_ref_policy_worker(config, actor_rollout_cls)
    validate_config(
        config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config)
    )
    model_config: HFModelConfig = omega_conf_to_dataclass(config.actor_rollout_ref.model)
    resource_pool_manager = runner.init_resource_pool_mgr(config)
    train = create_rl_dataset(
        config.data.train_files,
        config.data,
        model_config.tokenizer,
        model_config.processor,
        is_train=True,
        max_samples=config.data.get("train_max_samples", -1),
    )
    val = create_rl_dataset(
        config.data.val_files,
        config.data,
        model_config.tokenizer,
        model_config.processor,
        is_train=False,
        max_samples=config.data.get("val_max_samples", -1),
    )
    train, sampler = build(config, train)
    trainer = CurriculumRayPPOTrainer(
        config,
        tokenizer=model_config.tokenizer,
        processor=model_config.processor,
        role_worker_mapping=runner.role_worker_mapping,
        resource_pool_manager=resource_pool_manager,
        ray_worker_group_cls=ray_worker_group_cls,
        train_dataset=train,
        val_dataset=val,
        collate_fn=collate_fn,
        train_sampler=sampler,
    )
    trainer.init_workers()
    trainer.fit()


@ray.remote
class CurriculumTaskRunner(BaseTaskRunner):
    def run(self, config):
        run_task(self, config)

"""Our curricula inside verl 0.9.1's PPO/GRPO trainer (`RayPPOTrainer`, i.e. `trainer.use_v1=False`).

Three pieces, all in this module (see docs/verl.md for the commands):

- `CurriculumSampler` — a `torch.utils.data.Sampler` of dataset row numbers, passed as RayPPOTrainer's
  `train_sampler`. Each trainer batch of B prompts is one `BatchSchedule` batch: a training batch from
  `curriculum.sample()`, or a batch of learnability probe candidates. The sampler is stateful in the
  torchdata sense, so the curriculum's state rides in verl's own `data.pt` checkpoint.
- `CurriculumRayPPOTrainer` — RayPPOTrainer plus the way back: just before the critic/actor update of each
  step (rewards, advantages and the final row order are known then) it reads every row's question id and
  sequence reward from the batch, hands them to the curriculum, and trains only on what the curriculum keeps:
  probe batches are not trained on (unless `train_on_probes`), filter curricula drop their groups. It also
  writes `curriculum.pt` beside verl's checkpoint and restores it on resume.
- `python -m curricula.integrations.verl ...` — verl's `main_ppo` with the two above wired in
  (`+curriculum.name=learnability +curriculum.preset=fast ...`); `... prepare` writes the parquet files.

How a batch is read (`groups_from_batch`): verl repeats each prompt `rollout.n` times and gives the copies
one `uid`; the question id is `curriculum_index` (the row number, which `CurriculumDataset` writes into each
row's `extra_info`, the per-row field that survives verl's rollout) or else `index` (`extra_info.index`, the
row number for files from `write_verl_parquet` when no rows are filtered), looked up first as a
`non_tensor_batch` column, then in `extra_info`; the sequence reward is the sum over response tokens of
`token_level_scores` (the verifier's reward, before any KL penalty).

Importing this module does not import verl; `CurriculumRayPPOTrainer` and `LegacyCurriculumSampler` are built
on first use.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Sampler

import curricula
from curricula.base import Curriculum
from curricula.integrations.schedule import BatchSchedule

INDEX_KEYS = ("curriculum_index", "index")
REWARD_KEYS = ("token_level_scores", "token_level_rewards", "rm_scores")
CHECKPOINT_FILE = "curriculum.pt"
DATA_SOURCE = "mathenv"


class CurriculumSampler(Sampler[int]):
    """Dataset row numbers chosen by a curriculum, one trainer batch (`batch_size` prompts) at a time.

    `rollout_n` is verl's `actor_rollout_ref.rollout.n` (attempts per prompt). An epoch is `num_batches`
    batches (default: one pass's worth, pool // batch_size); verl's step count follows from it unless
    `trainer.total_training_steps` is set. Probe batches count as steps.

    `update(batch)` is the way back (the older verl `AbstractCurriculumSampler.update(batch)` interface):
    it reads the batch's question ids and rewards and returns (keep, phase), keep a bool mask over the rows.
    """

    def __init__(self, curriculum: Curriculum, batch_size: int, rollout_n: int, *, num_batches: int | None = None,
                 index_key: str | None = None, reward_key: str | None = None) -> None:
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
            ids, _ = self.schedule.next_batch()  # drawn when the loader asks for the batch's first row
            yield from ids.tolist()
        self._position = 0

    def update(self, batch: Any) -> tuple[np.ndarray, str]:
        """Report a trainer batch (a `DataProto` after reward computation): returns (keep rows, phase)."""
        qids, rewards, group_of_row = groups_from_batch(batch, self.index_key, self.reward_key)
        keep, phase = self.schedule.feedback(qids, rewards)
        return keep[group_of_row], phase

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


def groups_from_batch(batch: Any, index_key: str | None = None,
                      reward_key: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(question id per group, rewards (groups, max group size) NaN-padded, group of each row) of a verl
    `DataProto`; a group is the rows sharing a `uid` (one prompt's `rollout.n` responses)."""
    nt = batch.non_tensor_batch
    key, ids = _question_ids(nt, index_key)
    rkey = reward_key or next((k for k in REWARD_KEYS if k in batch.batch.keys()), None)
    if rkey is None or rkey not in batch.batch.keys():
        raise KeyError(f"the batch has no rewards yet: expected one of {REWARD_KEYS} in batch.batch, "
                       f"found {sorted(batch.batch.keys())}")
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
    raise KeyError(f"the batch has no question ids: expected one of {keys} in non_tensor_batch or in each "
                   f"row's extra_info; non_tensor_batch has {sorted(nt)}")


# ---- the trainer ------------------------------------------------------------------------------------

def _build_trainer_class() -> type:
    import torch
    from omegaconf import open_dict
    from verl import DataProto
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer

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
                warnings.warn(f"data.dataloader_num_workers={data.dataloader_num_workers} would draw batches "
                              f"before the rewards they depend on arrive; using 0", stacklevel=2)
                with open_dict(config):
                    config.data.dataloader_num_workers = 0
            loader_batch = data.get("gen_batch_size", None) or data.train_batch_size
            if loader_batch != train_sampler.batch_size:
                raise ValueError(f"the data loader draws {loader_batch} prompts per step (data.gen_batch_size or "
                                 f"data.train_batch_size) but the sampler makes batches of "
                                 f"{train_sampler.batch_size}")
            n = config.actor_rollout_ref.rollout.n
            if n != train_sampler.group_size:
                raise ValueError(f"actor_rollout_ref.rollout.n={n} but the sampler was built with rollout_n="
                                 f"{train_sampler.group_size}")
            super().__init__(config, *args, train_sampler=train_sampler, **kwargs)
            self.curriculum_sampler = train_sampler
            self._curriculum_step: int | None = None
            self._curriculum_keep: tuple[np.ndarray, str] | None = None
            self._curriculum_warned = False

        # -- the way back: once per step, before the first update that uses the batch --

        def _curriculum_feedback(self, batch: DataProto) -> tuple[np.ndarray, str]:
            if self._curriculum_step != self.global_steps or self._curriculum_keep is None:
                self._curriculum_keep = self.curriculum_sampler.update(batch)
                self._curriculum_step = self.global_steps
            return self._curriculum_keep

        def _curriculum_rows(self, batch: DataProto, keep: np.ndarray) -> DataProto:
            """The batch to train on: all rows, the kept rows when they make a full training batch, or
            else all rows with the dropped rows' advantages zeroed (they still count in loss normalisation)."""
            if keep.all():
                return batch
            full = self.config.data.train_batch_size * self.config.actor_rollout_ref.rollout.n
            if int(keep.sum()) == full:
                out = batch.select_idxs(keep)
                out.meta_info = dict(batch.meta_info)
                if "global_token_num" in out.meta_info:
                    out.meta_info["global_token_num"] = [t for t, k in zip(batch.meta_info["global_token_num"],
                                                                           keep.tolist(), strict=True) if k]
                return out
            if not self._curriculum_warned:
                warnings.warn(f"the curriculum kept {int(keep.sum())} of {len(keep)} rows, not a full training "
                              f"batch of {full}: training on all rows with the dropped rows' advantages zeroed",
                              stacklevel=2)
                self._curriculum_warned = True
            out = batch.select_idxs(np.ones(len(keep), dtype=bool))
            out.meta_info = batch.meta_info
            adv = out.batch["advantages"].clone()
            adv[torch.from_numpy(~keep)] = 0.0
            out.batch["advantages"] = adv
            return out

        @staticmethod
        def _skipped(role: str) -> DataProto:
            return DataProto.from_single_dict(data={}, meta_info={"metrics": {f"{role}/curriculum_skipped": 1.0}})

        def _update_critic(self, batch: DataProto) -> DataProto:
            keep, _ = self._curriculum_feedback(batch)
            if not keep.any():
                return self._skipped("critic")
            return super()._update_critic(self._curriculum_rows(batch, keep))

        def _update_actor(self, batch: DataProto) -> DataProto:
            keep, phase = self._curriculum_feedback(batch)
            output = self._skipped("actor") if not keep.any() else super()._update_actor(
                self._curriculum_rows(batch, keep))
            metrics = output.meta_info.setdefault("metrics", {})
            metrics.update(curriculum_metrics(self.curriculum_sampler, phase))
            return output

        # -- checkpoints: curriculum.pt beside verl's own files (data.pt holds a copy too) --

        def _save_checkpoint(self) -> None:
            super()._save_checkpoint()
            folder = os.path.join(self.config.trainer.default_local_dir, f"global_step_{self.global_steps}")
            os.makedirs(folder, exist_ok=True)
            torch.save(self.curriculum_sampler.state_dict(), os.path.join(folder, CHECKPOINT_FILE))

        def _load_checkpoint(self):
            out = super()._load_checkpoint()
            if self.global_steps > 0:
                path = os.path.join(self._curriculum_folder(), CHECKPOINT_FILE)
                if os.path.exists(path):
                    self.curriculum_sampler.load_state_dict(torch.load(path, weights_only=False))
                    print(f"curriculum state restored from {path}")
                else:
                    warnings.warn(f"no curriculum state at {path}: the curriculum starts afresh", stacklevel=2)
            return out

        def _curriculum_folder(self) -> str:
            t = self.config.trainer
            if t.resume_mode == "resume_path" and t.get("resume_from_path"):
                folder = t.resume_from_path
            else:
                folder = os.path.join(t.default_local_dir, f"global_step_{self.global_steps}")
            return os.path.abspath(folder)

    return CurriculumRayPPOTrainer


def curriculum_metrics(sampler: CurriculumSampler, phase: str) -> dict[str, float]:
    """The curriculum's scalar diagnostics for verl's logger, plus the phase of this step's batch."""
    out = {k: float(v) for k, v in sampler.curriculum.diagnostics().items() if np.isscalar(v) and np.isfinite(v)}
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
            cur = make_curriculum(opts, len(data_source), data_config.train_batch_size)
            CurriculumSampler.__init__(self, cur, batch, rollout_n, num_batches=opts.get("num_batches"))

    return LegacyCurriculumSampler


_LAZY = {"CurriculumRayPPOTrainer": _build_trainer_class, "LegacyCurriculumSampler": _build_legacy_class}
_built: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        if name not in _built:
            _built[name] = _LAZY[name]()
        return _built[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- configuration ------------------------------------------------------------------------------------

RESERVED = ("name", "seed", "num_batches", "rollout_n")


def make_curriculum(options: dict[str, Any], num_questions: int, train_batch_size: int) -> Curriculum:
    """`curricula.make` from a config section: `name`, `seed`, and the curriculum's own options
    (`batch_size` defaults to verl's `data.train_batch_size`, the groups trained per step)."""
    opts = dict(options)
    if "name" not in opts:
        raise ValueError(f"name the curriculum: +curriculum.name=<one of {sorted(curricula.CURRICULA)}>")
    name, seed = opts.pop("name"), int(opts.pop("seed", 0))
    for k in RESERVED:
        opts.pop(k, None)
    opts.setdefault("batch_size", int(train_batch_size))
    return curricula.make(name, num_questions, seed=seed, **opts)


def build(config: Any, train_dataset: Dataset) -> tuple[CurriculumDataset, CurriculumSampler]:
    """The dataset wrapper and sampler for a verl config with a `curriculum` section."""
    from omegaconf import OmegaConf

    section = config.get("curriculum")
    if section is None:
        raise ValueError("add a curriculum section to the config, e.g. +curriculum.name=learnability "
                         "+curriculum.preset=fast")
    opts = OmegaConf.to_container(section, resolve=True)
    data = config.data
    cur = make_curriculum(opts, len(train_dataset), data.train_batch_size)
    loader_batch = data.get("gen_batch_size", None) or data.train_batch_size
    sampler = CurriculumSampler(cur, loader_batch, config.actor_rollout_ref.rollout.n,
                                num_batches=opts.get("num_batches"))
    return CurriculumDataset(train_dataset), sampler


# ---- data ---------------------------------------------------------------------------------------------

def verl_rows(questions: Sequence[Any], *, instruction: str | None = None, data_source: str = DATA_SOURCE,
              split: str = "train") -> list[dict[str, Any]]:
    """verl's RL parquet layout for our questions: chat `prompt`, `reward_model.ground_truth`, and
    `extra_info.index` = row number (= question id, what the feedback reads)."""
    from mathenv.env import DEFAULT_INSTRUCTION

    instr = DEFAULT_INSTRUCTION if instruction is None else instruction
    rows = []
    for i, q in enumerate(questions):
        text = f"{q.question}\n{instr}" if instr else q.question
        rows.append({"data_source": data_source, "prompt": [{"role": "user", "content": text}], "ability": "math",
                     "reward_model": {"style": "rule", "ground_truth": str(q.answer)},
                     "extra_info": {"index": i, "uid": str(q.uid), "split": split,
                                    "difficulty": -1 if q.difficulty is None else int(q.difficulty)}})
    return rows


def write_verl_parquet(questions: Sequence[Any], path: str | os.PathLike, **kwargs: Any) -> str:
    """Write `verl_rows(questions, **kwargs)` to a parquet file verl's RLHFDataset reads."""
    import datasets

    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    datasets.Dataset.from_list(verl_rows(questions, **kwargs)).to_parquet(path)
    return path


def prepare_main(argv: Sequence[str]) -> int:
    import argparse

    from mathenv import load_questions

    p = argparse.ArgumentParser(prog="python -m curricula.integrations.verl prepare",
                                description="Write verl parquet files (train and test) for a mathenv dataset.")
    p.add_argument("dataset", help="gsm8k, math, math500, arithmetic, or a .jsonl path")
    p.add_argument("--out", required=True, help="folder for train.parquet and test.parquet")
    p.add_argument("--train-path", help="local JSONL for the train split (default: the hub)")
    p.add_argument("--test-path", help="local JSONL for the test split (default: the hub)")
    p.add_argument("--num-questions", type=int, default=None)
    a = p.parse_args(list(argv))
    for split, path in (("train", a.train_path), ("test", a.test_path)):
        qs = load_questions(a.dataset, split, data_path=path, num_questions=a.num_questions)
        out = write_verl_parquet(qs, os.path.join(a.out, f"{split}.parquet"), split=split,
                                 data_source=f"{DATA_SOURCE}/{a.dataset}")
        print(f"{len(qs)} {split} questions -> {out}")
    return 0


# ---- entry point: verl's main_ppo with our sampler and trainer ------------------------------------------

def verl_config_dir() -> str:
    import verl.trainer

    return os.path.join(os.path.dirname(verl.trainer.__file__), "config")


def run_task(runner: Any, config: Any) -> None:
    """The body of verl 0.9.1's legacy TaskRunner.run, with our dataset wrapper, sampler and trainer."""
    from omegaconf import OmegaConf
    from verl.trainer.ppo.utils import create_rl_dataset, need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config
    from verl.utils.dataset.rl_dataset import collate_fn
    from verl.workers.config import HFModelConfig

    OmegaConf.resolve(config)
    actor_rollout_cls, ray_worker_group_cls = runner.add_actor_rollout_worker(config)
    runner.add_critic_worker(config)
    runner.add_reward_model_resource_pool(config)
    runner.add_teacher_model_resource_pool(config)
    runner.add_ref_policy_worker(config, actor_rollout_cls)
    validate_config(config=config, use_reference_policy=need_reference_policy(config),
                    use_critic=need_critic(config))
    model_config: HFModelConfig = omega_conf_to_dataclass(config.actor_rollout_ref.model)
    resource_pool_manager = runner.init_resource_pool_mgr(config)
    train = create_rl_dataset(config.data.train_files, config.data, model_config.tokenizer, model_config.processor,
                              is_train=True, max_samples=config.data.get("train_max_samples", -1))
    val = create_rl_dataset(config.data.val_files, config.data, model_config.tokenizer, model_config.processor,
                            is_train=False, max_samples=config.data.get("val_max_samples", -1))
    train, sampler = build(config, train)
    trainer_cls = __getattr__("CurriculumRayPPOTrainer")
    trainer = trainer_cls(config, tokenizer=model_config.tokenizer, processor=model_config.processor,
                          role_worker_mapping=runner.role_worker_mapping,
                          resource_pool_manager=resource_pool_manager, ray_worker_group_cls=ray_worker_group_cls,
                          train_dataset=train, val_dataset=val, collate_fn=collate_fn, train_sampler=sampler)
    trainer.init_workers()
    trainer.fit()


def _task_runner_class() -> Any:
    import ray
    from verl.trainer.main_ppo_v0 import BaseTaskRunner

    @ray.remote
    class CurriculumTaskRunner(BaseTaskRunner):
        def run(self, config):
            run_task(self, config)

    return CurriculumTaskRunner


def _hydra_main(config: Any) -> None:
    from verl.trainer.main_ppo import run_ppo
    from verl.utils.device import auto_set_device

    if config.trainer.get("use_v1", False):
        raise SystemExit("the curriculum integration drives verl's RayPPOTrainer: add trainer.use_v1=False")
    if config.get("curriculum") is None:
        raise SystemExit("name a curriculum: +curriculum.name=learnability (+curriculum.preset=fast, ...)")
    auto_set_device(config)
    run_ppo(config, task_runner_class=_task_runner_class())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["prepare"]:
        return prepare_main(argv[1:])
    import hydra

    sys.argv = [sys.argv[0], *argv]
    hydra.main(config_path=verl_config_dir(), config_name="ppo_trainer", version_base=None)(_hydra_main)()
    return 0


# CurriculumRayPPOTrainer and LegacyCurriculumSampler are built by __getattr__ on first use (they import verl)
__all__ = ["CHECKPOINT_FILE", "CurriculumDataset", "CurriculumSampler",
           "build", "curriculum_metrics", "groups_from_batch", "main",
           "make_curriculum", "verl_rows", "write_verl_parquet"]

if __name__ == "__main__":
    sys.exit(main())

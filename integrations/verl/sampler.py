"""The curriculum's side of verl 0.9.1 (`RayPPOTrainer`, i.e. `trainer.use_v1=False`): a sampler that lets
the curriculum choose each batch's prompts, and the way back for the rewards.

The trainer side (`integrations.verl.trainer`: `CurriculumRayPPOTrainer`, the Hydra entry point) and the data
(`mathenv.export.write_verl_parquet`) and reward (`mathenv.rewards.compute_score`) live with their kind; see
docs/verl.md for the commands. The pieces:

- `CurriculumSampler` — a `torch.utils.data.Sampler` of dataset row numbers, passed as RayPPOTrainer's
  `train_sampler`. Each trainer batch of B prompts is one `BatchSchedule` batch: a training batch from
  `curriculum.sample()`, or a batch of learnability probe candidates. The sampler is stateful in the
  torchdata sense, so the curriculum's state rides in verl's own `data.pt` checkpoint.
- `CurriculumSampler.update(batch)` — the way back: reads every row's question id and sequence reward from
  a verl batch and reports them; `integrations.verl.trainer.CurriculumRayPPOTrainer` calls it once per step.
- `CurriculumDataset`, `build`, `make_curriculum` — the dataset wrapper and the construction from a config.

How a batch is read (`groups_from_batch`): verl repeats each prompt `rollout.n` times and gives the copies
one `uid`; the question id is `curriculum_index` (the row number, which `CurriculumDataset` writes into each
row's `extra_info`, the per-row field that survives verl's rollout) or else `index` (`extra_info.index`, the
row number for files from `write_verl_parquet` when no rows are filtered), looked up first as a
`non_tensor_batch` column, then in `extra_info`; the sequence reward is the sum over response tokens of
`token_level_scores` (the verifier's reward, before any KL penalty).

Importing this module does not import verl. verl v1's pieces: `integrations.verl.feed`,
`integrations.verl.replay_buffer`, `integrations.verl.dataset`.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Sampler

import curricula
from curricula.protocol import Curriculum, Feedback
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


# ---- metrics ----------------------------- ------------------------------------------------------------------


def curriculum_metrics(sampler: CurriculumSampler, phase: str) -> dict[str, float]:
    """The curriculum's scalar diagnostics for verl's logger, plus the phase of this step's batch."""
    out = {
        k: float(v) for k, v in sampler.curriculum.diagnostics().items() if np.isscalar(v) and np.isfinite(v)
    }
    out["curriculum/probe_step"] = float(phase == "probe")
    out["curriculum/lagged_batches"] = float(sampler.schedule.lagged_batches)
    return out


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


__all__ = [
    "CurriculumDataset",
    "CurriculumSampler",
    "build",
    "curriculum_metrics",
    "groups_from_batch",
    "make_curriculum",
]

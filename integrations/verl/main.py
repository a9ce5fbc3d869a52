"""Train with verl 0.9.1 on our curricula: `python -m integrations.verl.main ...` (or its old name
`python -m integrations.verl.main`) is verl's `main_ppo` with the curriculum wired in
(`+curriculum.name=learnability +curriculum.preset=fast ...`); `... prepare` writes the parquet files
(`mathenv.export.write_verl_parquet`). The reward is `mathenv.rewards.compute_score`.

- **v1** (`trainer.use_v1=True`, verl's default): nothing here subclasses verl's trainer; the curriculum
  plugs into verl's own extension points (`configure_v1` sets them): the replay buffer
  (`trainer.v1.sampler.custom_sampler` = `integrations.verl.replay_buffer.CurriculumReplayBuffer`, options
  in `trainer.v1.sampler.sampler_kwargs`) and the prompt stream (`data.custom_cls` =
  `integrations.verl.dataset.CurriculumRLDataset`). Sync and async trainer modes (`trainer.v1.trainer_mode`)
  both work.
- **legacy** (`trainer.use_v1=False`, deprecated by verl): `integrations.verl.trainer.CurriculumRayPPOTrainer`.

See docs/verl.md for the commands. Importing this module does not import verl.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any


def prepare_main(argv: Sequence[str]) -> int:
    import argparse

    from mathenv import load_questions
    from mathenv.export import DATA_SOURCE, write_verl_parquet

    p = argparse.ArgumentParser(
        prog="python -m integrations.verl.main prepare",
        description="Write verl parquet files (train and test) for a mathenv dataset.",
    )
    p.add_argument("dataset", help="gsm8k, math, math500, arithmetic, or a .jsonl path")
    p.add_argument("--out", required=True, help="folder for train.parquet and test.parquet")
    p.add_argument("--train-path", help="local JSONL for the train split (default: the hub)")
    p.add_argument("--test-path", help="local JSONL for the test split (default: the hub)")
    p.add_argument("--num-questions", type=int, default=None)
    a = p.parse_args(list(argv))
    for split, path in (("train", a.train_path), ("test", a.test_path)):
        qs = load_questions(a.dataset, split, data_path=path, num_questions=a.num_questions)
        out = write_verl_parquet(
            qs, os.path.join(a.out, f"{split}.parquet"), split=split, data_source=f"{DATA_SOURCE}/{a.dataset}"
        )
        print(f"{len(qs)} {split} questions -> {out}")
    return 0


# ---- entry point: verl's main_ppo with our sampler and trainer ------------------------------------------


def verl_config_dir() -> str:
    import verl.trainer

    return os.path.join(os.path.dirname(verl.trainer.__file__), "config")


#: the modules verl v1 loads our replay buffer and dataset from
REPLAY_BUFFER_MODULE = "pkg://integrations.verl.replay_buffer"
DATASET_MODULE = "pkg://integrations.verl.dataset"


def configure_v1(config: Any) -> Any:
    """Point verl's v1 trainer at the curriculum (in place; returns `config`): the replay buffer
    (`trainer.v1.sampler.custom_sampler`, the `curriculum` section as its `sampler_kwargs`) and the prompt
    stream (`data.custom_cls`), with `data.gen_batch_size=1` (the buffer asks for exact numbers of prompts)
    and `data.dataloader_num_workers=0` (loader workers would draw ahead of the rewards). A
    `zero_variance_filter` without its own `gen_batch_size` takes the `data.gen_batch_size` given. A
    `data.custom_cls` of the user's is kept as `data.curriculum_base_cls`, which the curriculum's dataset wraps."""
    from omegaconf import OmegaConf, open_dict

    section = OmegaConf.to_container(config.curriculum, resolve=True)
    data = config.data
    given = data.get("gen_batch_size", None)
    if section.get("name") == "zero_variance_filter" and given and given != 1:
        section.setdefault("gen_batch_size", int(given))
    with open_dict(config):
        sampler = config.trainer.v1.sampler
        sampler.custom_sampler.path = REPLAY_BUFFER_MODULE
        sampler.custom_sampler.name = "CurriculumReplayBuffer"
        sampler.sampler_kwargs = section
        own = data.get("custom_cls", None)
        if own is not None and own.get("path") and own.get("name") != "CurriculumRLDataset":
            # the user's dataset class: the curriculum's wraps it (CurriculumRLDataset builds it)
            config.data.curriculum_base_cls = {"path": own.path, "name": own.name}
        config.data.custom_cls.path = DATASET_MODULE
        config.data.custom_cls.name = "CurriculumRLDataset"
        config.data.gen_batch_size = 1
        config.data.dataloader_num_workers = 0
    return config


def _hydra_main(config: Any) -> None:
    from verl.trainer.main_ppo import TaskRunnerV1, run_ppo
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config
    from verl.utils.device import auto_set_device

    if config.get("curriculum") is None:
        raise SystemExit("name a curriculum: +curriculum.name=learnability (+curriculum.preset=fast, ...)")
    auto_set_device(config)
    if config.trainer.get("use_v1", True):
        configure_v1(config)
        validate_config(
            config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config)
        )
        run_ppo(config, task_runner_class=TaskRunnerV1)
    else:
        from integrations.verl.trainer import CurriculumTaskRunner

        run_ppo(config, task_runner_class=CurriculumTaskRunner)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["prepare"]:  # a user's mistake (no data offline, a wrong file) is one line, status 2
        from agents.cli.args import exit_on_user_error

        return exit_on_user_error(lambda: prepare_main(argv[1:]))
    import hydra

    sys.argv = [sys.argv[0], *argv]
    hydra.main(config_path=verl_config_dir(), config_name="ppo_trainer", version_base=None)(_hydra_main)()
    return 0


__all__ = ["configure_v1", "main", "prepare_main", "verl_config_dir"]

if __name__ == "__main__":
    sys.exit(main())

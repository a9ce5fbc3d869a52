"""GRPO under TRL with a curriculum choosing the questions: a script to copy, edit and run.

One process (a GPU, or `--use_cpu`):

    python recipes/trl_grpo.py --output_dir runs/grpo --model_name_or_path Qwen/Qwen2.5-0.5B-Instruct \\
        --dataset gsm8k --per_device_train_batch_size 16 --steps_per_generation 32 --num_generations 8 \\
        --gradient_accumulation_steps 4 --max_completion_length 512 --bf16 --save_steps 48 \\
        --curriculum learnability --curriculum_options '{"preset": "fast"}'

Several processes, the same script (on GPUs; or CPU processes with `--use_cpu`: accelerate's `--multi_gpu`
starts them with torchrun and they talk over gloo, whereas its `--cpu` starts one process unless MPI is set up):

    accelerate launch --multi_gpu --num_processes 2 recipes/trl_grpo.py --output_dir runs/grpo ...

Resume: add `--resume_from_checkpoint runs/grpo/checkpoint-48` (or `True` for the latest). Every option of
`RecipeArguments` below and of TRL's `GRPOConfig` is a flag (`--help` lists them). A generation batch is
`per_device_train_batch_size x steps_per_generation x processes` completions, i.e. that / `num_generations`
questions: the curriculum's `batch_size`. Keep `steps_per_generation x num_iterations >= 2` (the loader draws
one batch ahead) and `save_steps` a multiple of `steps_per_generation x num_iterations /
gradient_accumulation_steps` (checkpoints on generation-batch boundaries resume exactly).

At the end each process prints `curriculum state <process> <sha256>`: every process holds the same
curriculum (the trainer also checks it at every checkpoint).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser
from trl import GRPOConfig

import curricula
from agents.cli.args import exit_on_user_error
from integrations.trl.trainer import CurriculumGRPOTrainer
from mathenv import load_questions
from mathenv.errors import UserError
from mathenv.export import grpo_dataset


@dataclass
class RecipeArguments:
    model_name_or_path: str = field(
        default="Qwen/Qwen2.5-0.5B-Instruct", metadata={"help": "hub name or local folder of the policy"}
    )
    dataset: str = field(
        default="gsm8k", metadata={"help": "mathenv dataset (load_questions): gsm8k, math, arithmetic, ..."}
    )
    split: str = field(default="train", metadata={"help": "dataset split to train on"})
    data_path: str | None = field(default=None, metadata={"help": "local file of the dataset (offline)"})
    num_questions: int | None = field(default=None, metadata={"help": "use only this many questions"})
    conversational: bool = field(
        default=True, metadata={"help": "chat-formatted prompts (False: plain text)"}
    )
    curriculum: str = field(
        default="learnability", metadata={"help": f"one of {sorted(curricula.CURRICULA)}"}
    )
    curriculum_options: str = field(
        default="{}",
        metadata={
            "help": 'the curriculum\'s options as JSON (docs/curricula.md), e.g. \'{"preset": "fast"}\'; '
            "batch_size defaults to the questions per generation batch (for the filters, set it so that "
            "the request, ratio x batch_size or gen_batch_size, is that number)"
        },
    )
    curriculum_seed: int = field(default=0, metadata={"help": "the curriculum's seed"})
    reward: str = field(
        default=str(Path(__file__).with_name("math_reward.py")) + ":trl_reward",
        metadata={"help": "reward function as file.py:name or module:name; the curriculum learns from it"},
    )


def load_function(spec: str):
    """`path/to/file.py:name` or `package.module:name`."""
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise UserError(f"--reward must be file.py:name or module:name, got {spec!r}")
    if where.endswith(".py"):
        module_spec = importlib.util.spec_from_file_location(Path(where).stem, where)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    return getattr(module, name)


def main() -> None:
    sys.exit(exit_on_user_error(run))


def run() -> None:
    recipe, config = HfArgumentParser((RecipeArguments, GRPOConfig)).parse_args_into_dataclasses()
    questions = load_questions(
        recipe.dataset, recipe.split, data_path=recipe.data_path, num_questions=recipe.num_questions
    )
    train = grpo_dataset(questions, conversational=recipe.conversational)
    batch_size = config.generation_batch_size // config.num_generations  # questions per generation batch
    try:
        options = {"batch_size": batch_size, **json.loads(recipe.curriculum_options)}
    except json.JSONDecodeError as e:
        raise UserError(f"--curriculum_options is not JSON ({e}): {recipe.curriculum_options!r}") from e
    try:
        cur = curricula.make(recipe.curriculum, len(train), seed=recipe.curriculum_seed, **options)
    except ValueError as e:
        raise UserError(f"--curriculum {recipe.curriculum} --curriculum_options: {e}") from e
    trainer = CurriculumGRPOTrainer(
        model=recipe.model_name_or_path,
        args=config,
        train_dataset=train,
        reward_funcs=[load_function(recipe.reward)],
        curriculum=cur,
    )
    resume = config.resume_from_checkpoint
    trainer.train(resume_from_checkpoint=True if resume == "True" else resume)
    rank = trainer.accelerator.process_index
    print(f"curriculum state {rank} {trainer.curriculum_state_digest()}", flush=True)


if __name__ == "__main__":
    main()

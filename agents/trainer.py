"""The training loop every algorithm shares. One iteration, as `Trainer.step` reads:

    batch = []
    while True:
        req = curriculum.next_request(N_l)               # which questions, how often (probes first when due)
        rollouts = generate(req.question_ids x req.attempts or G)
        rewards = env.score(rollouts)                    # the verifier, through the env's batch path
        fb = curriculum.report(req.question_ids, rewards, req.phase)
        batch += rollouts of the groups fb.keep
        if fb.done: break                                # the training batch is complete
    algorithm.advantages(batch)                          # GAE with a critic, Monte-Carlo values, or groups
    for epoch, minibatch: loss = algorithm.loss(...); step the optimiser
    log metrics; evaluate every `eval_every`; checkpoint every `checkpoint_every` (exact resume)

The algorithms (agents/ppo.py, vineppo.py, grpo.py) differ only in advantages and loss; they reach the
trainer only through `RolloutTools` (generate, score, decode, token_texts), implemented here.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import random
import time
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

import curricula
import mathenv  # noqa: F401  (registers MathReasoning-v0)
from agents import checkpoint
from agents import metrics as M
from agents.algorithms import get as get_algorithm
from agents.config import RUN_ONLY_FIELDS, ConfigError, TrainConfig
from agents.evaluation import evaluate_policy
from agents.generation import SamplingConfig, eos_ids, make_generator
from agents.hf import prompt_ids
from agents.policy import load_policy, parameter_count, resolve
from agents.rollout import Rollouts, batched_logprobs, first_response_position, pack, token_logprobs
from agents.summary import SUMMARY, format_summary, summarize

#: what may change when a run is resumed: bookkeeping, and more steps to extend it
RESUMABLE_CHANGES = RUN_ONLY_FIELDS | {"steps"}

#: warn when a run's probes would take more than this many times its training attempts
PROBE_WARNING = 3


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


def env_kwargs(config: TrainConfig, split: str) -> dict[str, Any]:
    """gym.make keywords of the training (split "train") or held-out pool a config asks for."""
    c = config
    kwargs: dict[str, Any] = {"dataset": c.dataset, "split": split,
                              "data_path": c.data_path if split == "train" else c.eval_data_path,
                              "question_field": c.question_field, "answer_field": c.answer_field}
    if c.levels is not None and c.dataset in ("arithmetic", "math"):
        kwargs["levels"] = c.levels
    if c.instruction is not None:
        kwargs["instruction"] = c.instruction
    if c.num_questions is not None and split == "train":
        kwargs["num_questions"] = c.num_questions
    return kwargs


class Trainer:
    """One training run: `Trainer(config).train()`; see the module docstring for the loop."""

    def __init__(self, config: TrainConfig) -> None:
        config.validate()
        algorithm_class = get_algorithm(config.algo)  # an unknown name fails here, before anything loads
        self.config = c = config
        self.out = Path(c.out)
        checkpoint.check_run_folder(self.out, dataclasses.asdict(c), resume=c.resume, overwrite=c.overwrite,
                                    may_differ=RESUMABLE_CHANGES)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(c.seed)
        np.random.seed(c.seed)
        random.seed(c.seed)
        self.device = c.device or ("cuda" if torch.cuda.is_available() else "cpu")
        # the question pools and the curriculum that chooses from the training pool
        self.train_env = gym.make("MathReasoning-v0", **env_kwargs(c, "train")).unwrapped
        try:
            self.curriculum = curricula.make(c.curriculum, seed=c.seed, questions=self.train_env.questions,
                                             batch_size=c.questions_per_step, **c.curriculum_options)
        except (TypeError, ValueError) as e:  # an option the curriculum does not take, or a value it cannot use
            raise ConfigError(f"--curriculum {c.curriculum} with --curriculum-options "
                              f"{json.dumps(c.curriculum_options)}: {e}") from e
        if c.attempts_per_question < self.curriculum.min_attempts:
            raise ConfigError(f"{c.curriculum} scores each question from its own group of attempts: set "
                             f"attempts_per_question >= {self.curriculum.min_attempts}, got {c.attempts_per_question}")
        self.eval_env = gym.make("MathReasoning-v0", **env_kwargs(c, c.eval_split)).unwrapped
        subset = np.random.default_rng(c.seed + 1).permutation(self.eval_env.num_questions)[: c.eval_questions]
        self.eval_ids = np.sort(subset)
        # policy, reference, generation
        # fp32 weights and optimiser states always; bf16-mixed runs the forward passes under autocast
        self.autocast_dtype = (torch.bfloat16 if c.precision == "bf16-mixed"
                               or (c.precision == "auto" and self.device.startswith("cuda")) else None)
        self.policy, self.tokenizer = load_policy(c.model, device=self.device, seed=c.seed, dtype=torch.float32,
                                                  gradient_checkpointing=c.gradient_checkpointing)
        self.reference = None
        if c.kl_coef > 0:  # frozen: under bf16-mixed it is only ever read in bf16, so it is stored so
            self.reference = copy.deepcopy(self.policy).eval().requires_grad_(False)
            if self.autocast_dtype is not None:
                self.reference.to(self.autocast_dtype)
        sampling = SamplingConfig(c.max_new_tokens, c.temperature, c.top_p, c.generation_batch_size)
        try:
            self.generator = make_generator(c.generation_backend, self.policy, self.tokenizer, sampling,
                                            source=resolve(c.model) if c.model != "tiny" else "", seed=c.seed,
                                            gpu_memory_utilization=c.vllm_gpu_memory, sleep=c.vllm_sleep,
                                            dtype=self.autocast_dtype)
        except (ImportError, ValueError) as e:  # the optional extra is missing, or the model cannot be served
            raise ConfigError(f"--generation-backend {c.generation_backend}: {e}") from e
        self.eos_ids = eos_ids(self.policy, self.tokenizer)
        self._prompts: dict[tuple[str, int], list[int]] = {}
        self.algorithm = algorithm_class(c, self.policy, self)
        params = [{"params": [p for p in self.policy.parameters() if p.requires_grad], "lr": c.learning_rate}]
        for module in self.algorithm.modules().values():
            params.append({"params": list(module.parameters()),
                           "lr": getattr(c, "critic_learning_rate", None) or c.learning_rate})
        self.optimizer = torch.optim.AdamW(params, lr=c.learning_rate, weight_decay=c.weight_decay)
        for group in self.optimizer.param_groups:
            group["base_lr"] = group["lr"]
        self.step = 0
        self.counters = dict.fromkeys(M.COMPUTE, 0)
        self.shuffle_rng = np.random.default_rng(c.seed + 2)
        self.timers = dict.fromkeys(M.TIMERS, 0.0)
        self.summary: dict[str, Any] | None = None  # agents.summary's, once `train` has finished

    # ---- RolloutTools: what algorithms may use --------------------------------------------------------

    def prompt(self, question_id: int, split: str = "train") -> list[int]:
        """Token ids of a question's prompt from the training or the held-out ("eval") pool, cached."""
        key = (split, int(question_id))
        if key not in self._prompts:
            env = self.train_env if split == "train" else self.eval_env
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

    def score(self, question_ids: list[int], responses: list[list[int]], prefixes: list[str] | None = None,
              texts: list[str] | None = None) -> np.ndarray:
        """Rewards for generated responses through the env's batch path (prefix + completion when VinePPO
        continues a partial solution; `texts`: the responses already decoded); a truncated response gets
        `truncated_reward` unless that is None."""
        start = time.perf_counter()
        texts = [self.decode(r) for r in responses] if texts is None else texts
        rewards, _ = self.train_env.batch_rewards(question_ids, texts, prefixes=prefixes)
        if self.config.truncated_reward is not None:
            cut = np.fromiter((self.truncated(r) for r in responses), dtype=bool, count=len(responses))
            rewards[cut] = self.config.truncated_reward
        self.timers["scoring"] += time.perf_counter() - start
        return rewards

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def token_texts(self, ids: list[int]) -> list[str]:
        return self.tokenizer.batch_decode([[x] for x in ids])

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast around forward passes under `precision` bf16-mixed; nothing under fp32."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=self.autocast_dtype)

    # ---- one iteration ----------------------------------------------------------------------------------

    def rollout(self, question_ids: np.ndarray, attempts: int, phase: str) -> Rollouts:
        """Attempt each question `attempts` times and score the attempts."""
        queries = [self.prompt(q) for q in question_ids.tolist() for _ in range(attempts)]
        responses = self.generate(queries, "probe" if phase == "probe" else "train")
        texts = [self.decode(r) for r in responses]
        rewards = self.score(np.repeat(question_ids, attempts).tolist(), responses, texts=texts)
        return Rollouts(question_ids=np.repeat(question_ids, attempts),
                        group=np.repeat(np.arange(len(question_ids)), attempts), queries=queries,
                        responses=responses, texts=texts, rewards=rewards.astype(np.float32))

    def collect(self) -> tuple[Rollouts | None, dict[str, float]]:
        """One training batch: the curriculum's requests attempted, scored and reported until its feedback
        says the batch is done; the rollouts of the kept groups, and metrics of the training attempts."""
        c = self.config
        kept: list[Rollouts] = []
        attempted: list[np.ndarray] = []  # (n, G) rewards of every training request of this iteration
        responses: list[list[int]] = []
        groups_kept = 0
        while True:
            req = self.curriculum.next_request(c.questions_per_step)
            G = req.attempts or c.attempts_per_question
            rollouts = self.rollout(np.asarray(req.question_ids), G, req.phase)
            rewards = rollouts.rewards.reshape(len(req.question_ids), G)
            fb = self.curriculum.report(req.question_ids, rewards, req.phase)
            if fb.keep.any():
                kept.append(rollouts.select(fb.keep, sum(int(p.group.max()) + 1 for p in kept)))
            if req.phase == "train":
                attempted.append(rewards)
                responses += rollouts.responses
                groups_kept += int(fb.keep.sum())
            if fb.done:
                break
        rewards = np.concatenate(attempted)
        share = rewards.mean(axis=1)
        stats = {M.TRAIN_REWARD: float(rewards.mean()),
                 M.TRAIN_ACCURACY: float((rewards >= 0.5).mean()),
                 M.TRAIN_ALL_SOLVED: float(np.mean(share == 1.0)),
                 M.TRAIN_NONE_SOLVED: float(np.mean(share == 0.0)),
                 M.TRAIN_ZERO_ADVANTAGE: float(np.mean(rewards.std(axis=1) == 0)),
                 M.TRAIN_LEARNABILITY: float(np.mean(share * (1 - share))),
                 M.TRAIN_RESPONSE_TOKENS: float(np.mean([len(r) for r in responses])),
                 M.TRAIN_TRUNCATED: float(np.mean([self.truncated(r) for r in responses])),
                 M.TRAIN_QUESTIONS: len(rewards),
                 M.TRAIN_GROUPS_KEPT: groups_kept}
        return (Rollouts.concat(kept) if kept else None), stats

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
                                                       c.temperature, with_entropy=True,
                                                       first=first_response_position(mb["response_mask"]))
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
        stats[M.LR] = self.optimizer.param_groups[0]["lr"]
        self.generator.sync(self.policy)
        updates = max(len(grad_norms), 1)
        stats.update({k: v / (updates if k.startswith("loss/") else max(count, 1)) for k, v in sums.items()})
        stats[M.GRAD_NORM] = float(np.mean(grad_norms)) if grad_norms else math.nan
        self.counters["trained_sequences"] += B
        return stats

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Greedy pass@1 on the fixed held-out subset, and the accuracy of `eval_samples` answers per question
        sampled at the training temperature (what RL optimises), from a forked RNG so that evaluating never
        changes the training run."""
        c = self.config
        ids = self.eval_ids.tolist()
        with self.autocast():
            result = evaluate_policy(lambda p, greedy: self.generate(p, "eval", greedy=greedy), self.decode,
                                     self.eval_env, ids, [self.prompt(q, "eval") for q in ids],
                                     samples=c.eval_samples, seed=c.seed * 100_003 + self.step, device=self.device)
        out = {M.EVAL_PASS1: result["pass@1"], M.EVAL_QUESTIONS: len(ids)}
        if c.eval_samples:
            out[M.EVAL_SAMPLED] = result["mean@k"]
        return out

    # ---- checkpoints ------------------------------------------------------------------------------------

    def save_checkpoint(self) -> Path:
        """Model, optimiser, curriculum, RNG states and counters (see agents.checkpoint)."""
        state = {"step": self.step, "optimizer": self.optimizer.state_dict(),
                 "modules": {k: m.state_dict() for k, m in self.algorithm.modules().items()},
                 "curriculum": self.curriculum.state_dict(), "rng": checkpoint.rng_state(),
                 "shuffle_rng": self.shuffle_rng.bit_generator.state, "counters": dict(self.counters),
                 "config": dataclasses.asdict(self.config)}
        return checkpoint.save(self.out, self.step, self.policy, self.tokenizer, state,
                               self.config.keep_checkpoints)

    def load_checkpoint(self, path: Path, state: dict[str, Any], weights: dict[str, torch.Tensor]) -> None:
        """Restore a checkpoint written with this run's settings (RunFolderError naming those that differ)."""
        checkpoint.check_resume(path, state.get("config", {}), dataclasses.asdict(self.config), RESUMABLE_CHANGES)
        missing, unexpected = self.policy.load_state_dict(weights, strict=False)
        tied = set(getattr(self.policy, "_tied_weights_keys", None) or [])
        if unexpected or [k for k in missing if k not in tied and "lm_head" not in k]:
            raise RuntimeError(f"checkpoint {path} does not fit the model {self.config.model!r}: missing {missing}, "
                               f"unexpected {unexpected}")
        self.optimizer.load_state_dict(state["optimizer"])
        for k, m in self.algorithm.modules().items():
            m.load_state_dict(state["modules"][k])
        self.curriculum.load_state_dict(state["curriculum"])
        checkpoint.set_rng_state(state["rng"])
        self.shuffle_rng.bit_generator.state = state["shuffle_rng"]
        self.counters = state["counters"]
        self.step = state["step"]
        self.generator.sync(self.policy)

    def _resume(self) -> bool:
        """Load the newest readable checkpoint; False when there is none (the run starts afresh)."""
        found = checkpoint.load_latest(self.out, report=self.say)
        if found is None:
            self.say(f"resume: no checkpoint in {self.out / 'checkpoints'}; starting from step 0")
            return False
        path, state, weights = found
        self.load_checkpoint(path, state, weights)
        self.say(f"resumed from {path} at step {self.step}")
        return True

    # ---- the run ---------------------------------------------------------------------------------------------

    def step_once(self) -> dict[str, Any]:
        """One iteration (collect, learn) and its metric record."""
        self.timers = dict.fromkeys(M.TIMERS, 0.0)
        start = time.perf_counter()
        with self.autocast():
            rollouts, stats = self.collect()
            if rollouts is not None:
                stats.update(self.learn(rollouts))
        elapsed = time.perf_counter() - start
        self.timers["learning"] = elapsed - self.timers["generation"] - self.timers["scoring"]
        self.step += 1
        record = {M.STEP: self.step, **stats}
        record.update({f"time/{k}": v for k, v in self.timers.items()})
        record[M.TIME_STEP] = elapsed
        record.update({f"compute/{k}": v for k, v in self.counters.items()})
        record[M.ATTEMPTS_TOTAL] = (self.counters["attempts_train"] + self.counters["attempts_probe"]
                                    + self.counters["attempts_vine"])
        record.update(self.curriculum.diagnostics())
        return record

    def probe_cost(self) -> str:
        """One line on what the curriculum's probes will cost over the rest of the run against the training
        attempts; warns when probes would take several times the training attempts (e.g. a large buffer on a
        short run), the trap of a paper-sized probe in front of a few small steps."""
        c = self.config
        steps = c.steps - self.step
        probes = self.curriculum.planned_probe_attempts(steps)
        train = steps * c.questions_per_step * c.attempts_per_question
        line = (f"{c.curriculum}: probes {probes:,} attempts over the {steps} steps left ({probes / max(1, steps):,.0f} "
                f"per step) against {c.questions_per_step} x {c.attempts_per_question} = "
                f"{c.questions_per_step * c.attempts_per_question} training attempts per step")
        if probes > PROBE_WARNING * train:
            warnings.warn(f"{line}: probes take {probes / max(1, train):.0f}x the training attempts. Use a smaller "
                          f"buffer (curriculum_options {{\"preset\": \"very_fast\"}}, or num_candidates / "
                          f"refresh_every), more steps, or a curriculum without probes (posterior)", stacklevel=2)
        return line

    def say(self, line: str) -> None:
        """A line for the user, above the progress bar when there is one."""
        if self.config.progress:
            tqdm.write(line)
        else:
            print(line, flush=True)

    def train(self) -> list[dict[str, Any]]:
        """Run to `config.steps`, then print the summary (also out/summary.json) and draw out/curves.png;
        returns this call's metric records (also in out/metrics.jsonl)."""
        c = self.config
        start = time.perf_counter()
        resumed = c.resume and self._resume()
        if not resumed:  # a fresh start: nothing of an earlier run may stay (the folder check allowed this)
            checkpoint.clear_run(self.out)
            checkpoint.write_json(self.out / checkpoint.CONFIG, dataclasses.asdict(c))
        if self.curriculum.probe_attempts:
            line = self.probe_cost()
            if c.progress:
                self.say(line)
        logger = M.MetricsLogger(self.out, c.loggers(), resume_step=self.step if resumed else None,
                                 config=dataclasses.asdict(c))
        records = []
        if self.step == 0:
            record = {M.STEP: 0, **self.evaluate()} if c.eval_questions else {M.STEP: 0}
            record[M.PARAMETERS] = parameter_count(self.policy)
            logger.log(record)
            records.append(record)
        # no tqdm at all without a progress bar: its lock is shared with forked processes, and one killed
        # while holding it would block this process's next bar
        bar = tqdm(total=c.steps, initial=self.step, desc=f"{c.algo}/{c.curriculum}") if c.progress else None
        while self.step < c.steps:
            record = self.step_once()
            last = self.step == c.steps
            if c.eval_questions and (last or (c.eval_every and self.step % c.eval_every == 0)):
                record.update(self.evaluate())
            logger.log(record)
            records.append(record)
            if last or (c.checkpoint_every and self.step % c.checkpoint_every == 0):
                self.save_checkpoint()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(reward=f"{record[M.TRAIN_REWARD]:.2f}",
                                zero_adv=f"{record[M.TRAIN_ZERO_ADVANTAGE]:.2f}")
        if bar is not None:
            bar.close()
        logger.close()
        self.summary = self.summarize(time.perf_counter() - start, logger.tensorboard_dir)
        return records

    def summarize(self, wall_seconds: float, tensorboard_dir: Path | None = None) -> dict[str, Any]:
        """Draw the curves, write summary.json and print the summary (see agents.summary)."""
        c = self.config
        ckpts = checkpoint.checkpoint_dirs(self.out)
        files: dict[str, str | None] = {
            "metrics": str(self.out / "metrics.jsonl"), "summary": str(self.out / SUMMARY),
            "tensorboard": str(tensorboard_dir) if tensorboard_dir else None,
            "checkpoint": str(ckpts[-1]) if ckpts else None}
        if c.plot:
            try:
                from agents.plots import plot

                files["curves"] = str(plot([self.out], self.out / "curves.png",
                                           title=f"{c.algo} / {c.curriculum}, {Path(c.model).name}"))
            except ImportError:
                files["curves_missing"] = f"not drawn: pip install matplotlib, then python -m agents.plots {self.out}"
        summary = summarize(M.read_records(self.out / "metrics.jsonl"), dataclasses.asdict(c), files, wall_seconds)
        checkpoint.write_json(self.out / SUMMARY, summary)
        print(format_summary(summary), flush=True)
        return summary


def train(config: TrainConfig) -> list[dict[str, Any]]:
    """Build a Trainer for `config` and run it."""
    return Trainer(config).train()

"""The training loop every algorithm shares, and only the loop. One iteration (`Trainer.step_once`) reads:

    batch = []
    while True:                                          # collect
        req = curriculum.next_request(N_l)               # which questions, how often (probes first when due)
        rollouts = rollout.attempt(req.question_ids, req.counts(G))   # generate (per-question counts), reward
        fb = curriculum.report(req.question_ids, padded_rewards(rollouts.rewards), req.phase)
        batch += rollouts of the groups fb.keep          # (a held group joined to its continuation: SPEED)
        if fb.done: break                                # the training batch is complete
    algorithm.more_rollouts(batch)                       # rollouts the advantages need (VinePPO's values)
    algorithm.advantages(batch)                          # learn: GAE with a critic, Monte-Carlo values, or groups
    for epoch, minibatch: loss = algorithm.loss(...); step the optimiser
    generator.sync(policy)                               # the next attempts sample from the updated policy
    record(train_metrics(attempts), learn stats, curriculum.diagnostics())   # the step's metric record

and `Trainer.train` runs iterations, evaluating every `eval_every` and checkpointing every `checkpoint_every`
(exact resume). The rooms around it: the rollout services (prompts, generation, rewards, decoding, counted and
timed) are `agents.rollout.RolloutWorker`, which the algorithms (agents/algos/) see as
`agents.core.algorithm.RolloutTools`; the metric records and the end-of-run summary are
`agents.record.RunRecord`; the pieces of the losses are agents/core/losses.py.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import random
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import curricula
import mathenv  # noqa: F401  (registers MathReasoning-v0)
from agents import checkpoint
from agents.algos.registry import get as get_algorithm
from agents.core import metrics as M
from agents.core.algorithm import Rollouts, pack
from agents.core.config import RUN_ONLY_FIELDS, TrainConfig
from agents.core.losses import batched_logprobs, first_response_position, token_logprobs
from agents.eval_policy import evaluate_policy, heldout_ids
from agents.models.policy import load_policy, parameter_count
from agents.record import RunRecord, train_metrics
from agents.rollout import HeldRollouts, RolloutWorker, env_kwargs
from agents.run_checks import check_run, curriculum_for, probe_cost, probes_dwarf_training

#: what may change when a run is resumed: bookkeeping, and more steps to extend it
RESUMABLE_CHANGES = RUN_ONLY_FIELDS | {"steps"}


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


class Trainer:
    """One training run: `Trainer(config).train()`; see the module docstring for the loop."""

    def __init__(self, config: TrainConfig) -> None:
        check_run(config)
        algorithm_class = get_algorithm(config.algo)  # an unknown name fails here, before anything loads
        self.config = c = config
        self.out = Path(c.out)
        self.lock = checkpoint.claim_run_folder(  # one process at a time; a failed start leaves nothing
            self.out,
            dataclasses.asdict(c),
            resume=c.resume,
            overwrite=c.overwrite,
            may_differ=RESUMABLE_CHANGES,
        )
        torch.manual_seed(c.seed)
        np.random.seed(c.seed)
        random.seed(c.seed)
        self.device = c.device or ("cuda" if torch.cuda.is_available() else "cpu")
        # the question pools and the curriculum that chooses from the training pool
        self.train_env = gym.make("MathReasoning-v0", **env_kwargs(c, "train")).unwrapped
        self.curriculum = curriculum_for(c, self.train_env)
        self.held = HeldRollouts()  # SPEED's screening groups until their continuation (checkpointed)
        self.eval_env = gym.make("MathReasoning-v0", **env_kwargs(c, c.eval_split)).unwrapped
        self.eval_ids = heldout_ids(self.eval_env.num_questions, c.eval_questions, c.seed)
        # policy, reference, rollout services, algorithm, optimiser
        # fp32 weights and optimiser states always; bf16-mixed runs the forward passes under autocast
        self.autocast_dtype = (
            torch.bfloat16
            if c.precision == "bf16-mixed" or (c.precision == "auto" and self.device.startswith("cuda"))
            else None
        )
        self.policy, self.tokenizer = load_policy(
            c.model,
            device=self.device,
            seed=c.seed,
            dtype=torch.float32,
            gradient_checkpointing=c.gradient_checkpointing,
        )
        self.reference = None
        if c.kl_coef > 0:  # frozen: under bf16-mixed it is only ever read in bf16, so it is stored so
            self.reference = copy.deepcopy(self.policy).eval().requires_grad_(False)
            if self.autocast_dtype is not None:
                self.reference.to(self.autocast_dtype)
        self.record = RunRecord(c, self.out)
        self.rollout = RolloutWorker(
            c,
            self.policy,
            self.tokenizer,
            self.train_env,
            self.eval_env,
            self.record,
            autocast_dtype=self.autocast_dtype,
        )
        self.algorithm = algorithm_class(c, self.policy, self.rollout)
        params = [{"params": [p for p in self.policy.parameters() if p.requires_grad], "lr": c.learning_rate}]
        for module in self.algorithm.modules().values():
            params.append(
                {
                    "params": list(module.parameters()),
                    "lr": getattr(c, "critic_learning_rate", None) or c.learning_rate,
                }
            )
        self.optimizer = torch.optim.AdamW(params, lr=c.learning_rate, weight_decay=c.weight_decay)
        for group in self.optimizer.param_groups:
            group["base_lr"] = group["lr"]
        self.step = 0
        self.shuffle_rng = np.random.default_rng(c.seed + 2)
        self.summary: dict[str, Any] | None = None  # agents.summary's, once `train` has finished

    # ---- the run: iterations, evaluation on schedule, checkpoints ----------------------------------------

    def train(self) -> list[dict[str, Any]]:
        """Run to `config.steps`, then print the summary (also out/summary.json) and draw out/curves.png;
        returns this call's metric records (also in out/metrics.jsonl)."""
        c = self.config
        start = time.perf_counter()
        self.lock.acquire()  # again, when train() is called a second time
        resumed = c.resume and self._resume()
        if not resumed:  # a fresh start: nothing of an earlier run may stay (the folder check allowed this)
            checkpoint.clear_run(self.out)
            checkpoint.write_json(self.out / checkpoint.CONFIG, dataclasses.asdict(c))
        if self.curriculum.probe_attempts:
            line = probe_cost(c, self.curriculum, self.step)
            if c.progress and not probes_dwarf_training(
                c, self.curriculum, self.step
            ):  # else the warning has said it: once
                self.record.say(line)
        self.record.open(self.step, resumed)
        records = []
        if self.step == 0:
            record = {M.STEP: 0, **self.record.first_evaluation(self.evaluate, len(self.eval_ids))}
            record[M.PARAMETERS] = parameter_count(self.policy)
            self.record.log(record)
            records.append(record)
        while self.step < c.steps:
            record = self.step_once()
            last = self.step == c.steps
            if c.eval_questions and (last or (c.eval_every and self.step % c.eval_every == 0)):
                record.update(self.evaluate())
            self.record.log(record)
            records.append(record)
            if last or (c.checkpoint_every and self.step % c.checkpoint_every == 0):
                self.save_checkpoint()
        self.summary = self.record.finish(time.perf_counter() - start)
        self.lock.release()
        return records

    def step_once(self) -> dict[str, Any]:
        """One iteration in its phases, collect, learn, sync, then its metric record (returned)."""
        start = time.perf_counter()
        learned: dict[str, float] = {}
        with self.autocast():
            batch, more, attempted = self.collect()
            if batch is not None:
                learned = self.learn(batch)
                self.rollout.generator.sync(self.policy)  # the next attempts sample from the updated policy
        seconds = time.perf_counter() - start
        self.step += 1
        curriculum = self.curriculum.diagnostics()
        stats = {**more, **train_metrics(*attempted), **learned}
        return {**self.record.step_record(self.step, seconds, stats), **curriculum}

    # ---- the phases of an iteration --------------------------------------------------------------------

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast around forward passes under `precision` bf16-mixed; nothing under fp32."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=self.autocast_dtype)

    def collect(self) -> tuple[Rollouts | None, dict[str, float], tuple]:
        """One training batch: the curriculum's requests attempted, rewarded and reported until its feedback
        says the batch is done. Returns the rollouts of the kept groups (packed, with what the advantages
        need beyond them), the metrics of that extra work, and the training attempts (`train_metrics`')."""
        c = self.config
        kept: list[Rollouts] = []
        attempted: list[np.ndarray] = []  # (n, G) rewards of every training request of this iteration
        responses: list[list[int]] = []
        groups_kept = 0
        while True:
            req = self.curriculum.next_request(c.questions_per_step)
            counts = req.counts(c.attempts_per_question)
            rollouts = self.rollout.attempt(np.asarray(req.question_ids), counts, req.phase)
            rewards = curricula.protocol.padded_rewards(rollouts.rewards, counts)
            fb = self.curriculum.report(req.question_ids, rewards, req.phase)
            offset = sum(int(p.group.max()) + 1 for p in kept)  # group numbers stay apart across requests
            if self.curriculum.holds_groups:  # a held group is joined to its continuation (SPEED)
                kept += self.held.kept(rollouts, req, fb, offset)
            elif fb.keep.any():
                kept.append(rollouts.select(fb.keep, offset))
            if req.phase == "train":
                attempted.append(rewards)
                responses += rollouts.responses
                groups_kept += int(fb.keep.sum())
            if fb.done:
                break
        batch = None
        more: dict[str, float] = {}
        if kept:
            batch = Rollouts.concat(kept)
            batch.tensors.update(pack(batch.queries, batch.responses, self.tokenizer.pad_token_id))
            more = self.algorithm.more_rollouts(batch)  # e.g. VinePPO's Monte-Carlo values
        truncated = [self.rollout.truncated(r) for r in responses]
        return batch, more, (attempted, responses, truncated, groups_kept)

    def learn(self, batch: Rollouts) -> dict[str, float]:
        """Advantages, then clipped-ratio optimisation over epochs x minibatches of micro-batches; the same for
        every algorithm but for its advantages and loss (the loss metrics: of the rows that learn)."""
        c = self.config
        t = batch.tensors
        per_step = c.epochs * c.minibatches  # this iteration's learning rates, one per optimiser update
        factors = [lr_factor(c, self.step * per_step + i, c.steps * per_step) for i in range(per_step)]
        # with one optimiser step per iteration pi_old is the policy itself: its log-probs come free from
        # the training forward (detached), unless the algorithm needs them before the update
        single_step = c.epochs == 1 and c.minibatches == 1 and not self.algorithm.needs_old_logprobs
        if not single_step:
            t["old_logprobs"] = batched_logprobs(self.policy, t, c.micro_batch_size, c.temperature)
        if self.reference is not None:
            t["ref_logprobs"] = batched_logprobs(self.reference, t, c.micro_batch_size, c.temperature)
        stats = self.algorithm.advantages(batch)
        B = t["input_ids"].shape[0]
        sums: dict[str, float] = {}
        count = 0
        grad_norms = []
        self.policy.train()
        for epoch in range(c.epochs):
            order = self.shuffle_rng.permutation(B)
            for k, mb_rows in enumerate(np.array_split(order, c.minibatches)):
                if mb_rows.size == 0:
                    continue
                for group in self.optimizer.param_groups:  # from the step count: nothing extra to checkpoint
                    group["lr"] = group["base_lr"] * factors[epoch * c.minibatches + k]
                # each micro-batch's loss is its share of the minibatch's: sums over its tokens (sequences)
                # divided by the minibatch's token (sequence) count, so accumulation gives the minibatch loss
                norm = {"tokens": float(t["response_mask"][mb_rows].sum()), "sequences": float(mb_rows.size)}
                learning = self.algorithm.rows_to_learn(t, mb_rows)  # not the rows that give no gradient
                self.optimizer.zero_grad(set_to_none=True)
                for s in range(0, learning.size, c.micro_batch_size):
                    rows = torch.as_tensor(learning[s : s + c.micro_batch_size])
                    mb = {k: v[rows].to(self.device) for k, v in t.items()}
                    width = int(mb["attention_mask"].sum(1).max())  # drop all-padding columns
                    mb = {k: v[:, :width] if v.dim() == 2 else v for k, v in mb.items()}
                    logprobs, entropy = token_logprobs(
                        self.policy,
                        mb["input_ids"],
                        mb["attention_mask"],
                        c.temperature,
                        with_entropy=True,
                        first=first_response_position(mb["response_mask"]),
                    )
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
        updates = max(len(grad_norms), 1)
        stats.update({k: v / (updates if k.startswith("loss/") else max(count, 1)) for k, v in sums.items()})
        stats[M.GRAD_NORM] = float(np.mean(grad_norms)) if grad_norms else math.nan
        self.record.counters["trained_sequences"] += B
        return stats

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Greedy pass@1 on the fixed held-out subset, and the accuracy of `eval_samples` answers per question
        sampled at `eval_temperature` / `eval_top_p` (default: the training settings, what RL optimises), from a
        forked RNG so that evaluating never changes the training run."""
        c, r = self.config, self.rollout
        ids = self.eval_ids.tolist()
        sampling = None
        if c.eval_temperature is not None or c.eval_top_p is not None:
            sampling = dataclasses.replace(
                r.generator.sampling,
                temperature=c.eval_temperature or c.temperature,
                top_p=c.eval_top_p or c.top_p,
            )
        with self.autocast():
            result = evaluate_policy(
                lambda p, greedy: r.generate(p, "eval", greedy=greedy, sampling=sampling),
                r.decode,
                self.eval_env,
                ids,
                [r.prompt(q, "eval") for q in ids],
                samples=c.eval_samples,
                seed=c.seed * 100_003 + self.step,
                device=self.device,
            )
        out = {M.EVAL_PASS1: result["pass@1"], M.EVAL_QUESTIONS: len(ids)}
        if c.eval_samples:
            out[M.EVAL_SAMPLED] = result["mean@k"]
        return out

    # ---- checkpoints ------------------------------------------------------------------------------------

    def save_checkpoint(self) -> Path:
        """Model, optimiser, curriculum, RNG states and counters (see agents.checkpoint)."""
        state = {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "modules": {k: m.state_dict() for k, m in self.algorithm.modules().items()},
            "curriculum": self.curriculum.state_dict(),
            "rng": checkpoint.rng_state(),
            "shuffle_rng": self.shuffle_rng.bit_generator.state,
            "counters": dict(self.record.counters),
            "config": dataclasses.asdict(self.config),
            "held": self.held.groups,  # SPEED's screening rollouts waiting for their continuation
        }
        return checkpoint.save(
            self.out, self.step, self.policy, self.tokenizer, state, self.config.keep_checkpoints
        )

    def load_checkpoint(self, path: Path, state: dict[str, Any], weights: dict[str, torch.Tensor]) -> None:
        """Restore a checkpoint written with this run's settings (RunFolderError naming those that differ)."""
        checkpoint.check_resume(
            path, state.get("config", {}), dataclasses.asdict(self.config), RESUMABLE_CHANGES
        )
        missing, unexpected = self.policy.load_state_dict(weights, strict=False)
        tied = set(getattr(self.policy, "_tied_weights_keys", None) or [])
        if unexpected or [k for k in missing if k not in tied and "lm_head" not in k]:
            raise RuntimeError(
                f"checkpoint {path} does not fit the model {self.config.model!r}: missing {missing}, "
                f"unexpected {unexpected}"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        for k, m in self.algorithm.modules().items():
            m.load_state_dict(state["modules"][k])
        self.curriculum.load_state_dict(state["curriculum"])
        checkpoint.set_rng_state(state["rng"])
        self.shuffle_rng.bit_generator.state = state["shuffle_rng"]
        self.record.counters, self.held.groups = state["counters"], state.get("held", {})
        self.step = state["step"]
        self.rollout.generator.sync(self.policy)

    def _resume(self) -> bool:
        """Load the newest readable checkpoint; False when there is none (the run starts afresh)."""
        found = checkpoint.load_latest(self.out, report=self.record.say)
        if found is None:
            self.record.say(f"resume: no checkpoint in {self.out / 'checkpoints'}; starting from step 0")
            return False
        path, state, weights = found
        self.load_checkpoint(path, state, weights)
        self.record.say(f"resumed from {path} at step {self.step}")
        return True


def train(config: TrainConfig) -> list[dict[str, Any]]:
    """Build a Trainer for `config` and run it."""
    return Trainer(config).train()

"""The rollout side of training: attempts at questions (`Rollouts`), and `RolloutWorker`, the services that
make them: prompts, generation (counted and timed), rewards through the env's batch path, decoding. The
trainer attempts its curriculum's requests through it; an algorithm that needs more attempts (VinePPO's
Monte-Carlo values) gets it as `agents.base.RolloutTools`, which promises a part of it.

A packed batch holds B sequences `query + response`, right-padded to width W. Position t of `response_mask`
is 1 when token t belongs to the response, so every per-token quantity (log-probs, values, rewards,
advantages; agents/losses.py) lives on the same (B, W) grid and is read under the mask.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from agents.config import ConfigError, TrainConfig
from agents.generation import SamplingConfig, eos_ids, make_generator
from agents.hf import prompt_ids
from agents.policy import resolve
from agents.record import RunRecord


@dataclass
class Rollouts:
    """Attempts at questions: B sequences, grouped G per question (`group[i]` = index of its question)."""

    question_ids: np.ndarray  # (B,) pool ids
    group: np.ndarray  # (B,) which question group each sequence belongs to
    queries: list[list[int]]
    responses: list[list[int]]
    texts: list[str]  # decoded responses
    rewards: np.ndarray  # (B,) float32 from the verifier
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # filled by `pack` and the algorithms

    def __len__(self) -> int:
        return len(self.responses)

    def select(self, keep_groups: np.ndarray, group_offset: int = 0) -> Rollouts:
        """The sequences of the kept groups (`keep_groups[g]` for group g), groups renumbered from
        `group_offset` so that parts from several requests stay apart when concatenated."""
        rows = np.flatnonzero(keep_groups[self.group])
        return Rollouts(
            question_ids=self.question_ids[rows],
            group=self.group[rows] + group_offset,
            queries=[self.queries[i] for i in rows],
            responses=[self.responses[i] for i in rows],
            texts=[self.texts[i] for i in rows],
            rewards=self.rewards[rows],
        )

    @staticmethod
    def concat(parts: list[Rollouts]) -> Rollouts:
        return Rollouts(
            question_ids=np.concatenate([p.question_ids for p in parts]),
            group=np.concatenate([p.group for p in parts]),
            queries=[q for p in parts for q in p.queries],
            responses=[x for p in parts for x in p.responses],
            texts=[t for p in parts for t in p.texts],
            rewards=np.concatenate([p.rewards for p in parts]),
        )


def pack(queries: list[list[int]], responses: list[list[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """input_ids, attention_mask and response_mask on the (B, W) grid (right padding, so positions are
    the natural 0..len-1 of each sequence)."""
    width = max(len(q) + len(r) for q, r in zip(queries, responses, strict=True))
    B = len(queries)
    input_ids = torch.full((B, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((B, width), dtype=torch.long)
    response_mask = torch.zeros((B, width), dtype=torch.float32)
    for i, (q, r) in enumerate(zip(queries, responses, strict=True)):
        n = len(q) + len(r)
        input_ids[i, :n] = torch.tensor(q + r, dtype=torch.long)
        attention_mask[i, :n] = 1
        response_mask[i, len(q) : n] = 1.0
    return {"input_ids": input_ids, "attention_mask": attention_mask, "response_mask": response_mask}


class RolloutWorker:
    """Prompts, generation, rewards and decoding for one run, every generated attempt counted and timed in
    the run's record (`RunRecord`). What algorithms may use of it is `agents.base.RolloutTools`."""

    def __init__(
        self,
        config: TrainConfig,
        policy: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        train_env: Any,
        eval_env: Any,
        record: RunRecord,
        *,
        device: str,
        autocast_dtype: torch.dtype | None,
    ) -> None:
        c = config
        self.config, self.tokenizer, self.record = config, tokenizer, record
        self.train_env, self.eval_env = train_env, eval_env
        self.device, self.autocast_dtype = device, autocast_dtype
        sampling = SamplingConfig(c.max_new_tokens, c.temperature, c.top_p, c.generation_batch_size)
        try:
            self.generator = make_generator(
                c.generation_backend,
                policy,
                tokenizer,
                sampling,
                source=resolve(c.model) if c.model != "tiny" else "",
                seed=c.seed,
                gpu_memory_utilization=c.vllm_gpu_memory,
                sleep=c.vllm_sleep,
                dtype=autocast_dtype,
            )
        except (ImportError, ValueError) as e:  # the optional extra is missing, or the model cannot be served
            raise ConfigError(f"--generation-backend {c.generation_backend}: {e}") from e
        self.eos_ids = eos_ids(policy, tokenizer)
        self._prompts: dict[tuple[str, int], list[int]] = {}

    def attempt(self, question_ids: np.ndarray, attempts: int | np.ndarray, phase: str) -> Rollouts:
        """Attempt each question `attempts` times (an int, or one count per question) and reward the
        attempts (a "probe" request counts as probe compute)."""
        counts = np.broadcast_to(np.asarray(attempts, dtype=np.int64), (len(question_ids),))
        queries = [
            self.prompt(q)
            for q, k in zip(question_ids.tolist(), counts.tolist(), strict=True)
            for _ in range(k)
        ]
        responses = self.generate(queries, "probe" if phase == "probe" else "train")
        texts = [self.decode(r) for r in responses]
        rewards = self.reward_responses(np.repeat(question_ids, counts).tolist(), responses, texts=texts)
        return Rollouts(
            question_ids=np.repeat(question_ids, counts),
            group=np.repeat(np.arange(len(question_ids)), counts),
            queries=queries,
            responses=responses,
            texts=texts,
            rewards=rewards.astype(np.float32),
        )

    def prompt(self, question_id: int, split: str = "train") -> list[int]:
        """Token ids of a question's prompt from the training or the held-out ("eval") pool, cached."""
        key = (split, int(question_id))
        if key not in self._prompts:
            env = self.train_env if split == "train" else self.eval_env
            self._prompts[key] = prompt_ids(self.tokenizer, env.prompt(int(question_id)))
        return self._prompts[key]

    def generate(
        self,
        prompts: list[list[int]],
        kind: str,
        greedy: bool = False,
        sampling: SamplingConfig | None = None,
    ) -> list[list[int]]:
        """Generate and count: every attempt of every kind lands in the compute counters (`sampling`: other
        settings for this call, e.g. the evaluation temperature)."""
        with self.record.timed("generation"):
            responses = self.generator.generate(prompts, greedy=greedy, sampling=sampling)
            eos = self.tokenizer.eos_token_id
            responses = [r if r else [eos] for r in responses]  # an empty response still ends the episode
        self.record.count_attempts(kind, responses)
        return responses

    def truncated(self, response: list[int]) -> bool:
        """The response hit max_new_tokens before the model ended it (no EOS at its end)."""
        return not response or response[-1] not in self.eos_ids

    def reward_responses(
        self,
        question_ids: list[int],
        responses: list[list[int]],
        prefixes: list[str] | None = None,
        texts: list[str] | None = None,
    ) -> np.ndarray:
        """Rewards of generated responses through the env's batch path (`batch_rewards`; prefix + completion
        when VinePPO continues a partial solution; `texts`: the responses already decoded); a truncated
        response gets `truncated_reward` unless that is None."""
        with self.record.timed("scoring"):
            texts = [self.decode(r) for r in responses] if texts is None else texts
            rewards, _ = self.train_env.batch_rewards(question_ids, texts, prefixes=prefixes)
            if self.config.truncated_reward is not None:
                cut = np.fromiter((self.truncated(r) for r in responses), dtype=bool, count=len(responses))
                rewards[cut] = self.config.truncated_reward
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

    def sync(self, policy: PreTrainedModel) -> None:
        """The policy was updated: the next generation samples from its current weights."""
        self.generator.sync(policy)

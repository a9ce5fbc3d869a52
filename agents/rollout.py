"""The rollout side of training: `RolloutWorker`, the services that make attempts at questions
(`agents.core.algorithm.Rollouts`): prompts, generation (counted and timed), rewards through the env's batch
path, decoding. The trainer attempts its curriculum's requests through it; an algorithm that needs more
attempts (VinePPO's Monte-Carlo values) gets it as `agents.core.algorithm.RolloutTools`, which promises a
part of it.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from agents.core.algorithm import Rollouts
from agents.core.config import ConfigError, TrainConfig
from agents.generation import SamplingConfig, eos_ids, make_generator
from agents.models.hf import prompt_ids
from agents.models.policy import resolve
from agents.record import RunRecord
from agents.run_checks import DATASET_LEVELS
from curricula.protocol import Feedback, HeldGroups, Request


def env_kwargs(config: TrainConfig, split: str) -> dict[str, Any]:
    """gym.make keywords of the training (split "train") or held-out pool a config asks for."""
    c = config
    kwargs: dict[str, Any] = {
        "dataset": c.dataset,
        "split": split,
        "data_path": c.data_path if split == "train" else c.eval_data_path,
        "question_field": c.question_field,
        "answer_field": c.answer_field,
    }
    if c.levels is not None and c.dataset in DATASET_LEVELS:
        kwargs["levels"] = c.levels
    if c.instruction is not None:
        kwargs["instruction"] = c.instruction
    if c.num_questions is not None and split == "train":
        kwargs["num_questions"] = c.num_questions
    return kwargs


class HeldRollouts(HeldGroups[Rollouts]):
    """The trainer's side of `Feedback.hold` (SPEED's screening groups): each held question's rollouts until a
    later request continues it, then trained on with the continuation's as one group."""

    def __init__(self) -> None:
        super().__init__(lambda a, b: Rollouts.concat([a, b]))

    def kept(self, rollouts: Rollouts, request: Request, feedback: Feedback, offset: int) -> list[Rollouts]:
        """The groups a report keeps, numbered from `offset`; a continued group joined to its held attempts."""
        if request.continues is None and feedback.hold is None:  # nothing held or continued: the usual path
            return [rollouts.select(feedback.keep, offset)] if feedback.keep.any() else []
        n = len(request.question_ids)
        rows = [rollouts.select(np.arange(n) == i, -i) for i in range(n)]  # each row alone, as group 0
        joined = self.absorb(request, feedback, rows)
        return [group.select(np.ones(1, dtype=bool), offset + k) for k, (_, group) in enumerate(joined)]


class RolloutWorker:
    """Prompts, generation, rewards and decoding for one run, every generated attempt counted and timed in
    the run's record (`RunRecord`). What algorithms may use of it is `agents.core.algorithm.RolloutTools`."""

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

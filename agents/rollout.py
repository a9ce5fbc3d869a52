"""The rollout side of training: `RolloutWorker`, the services that make attempts at questions
(`agents.core.algorithm.Rollouts`): prompts (the training pool's tokenized once, at set-up), generation and
rewards through the env's batch path, both counted and timed here into the run's record, and decoding. The
trainer attempts its curriculum's requests through it; an algorithm that needs more attempts (VinePPO's
Monte-Carlo values) gets it as `agents.core.algorithm.RolloutTools`, which promises a part of it.
"""

from __future__ import annotations

import time
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
from curricula.completions import HeldGroups
from curricula.protocol import Feedback, Request


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
    """Prompts, generation, rewards and decoding for one run. Every generated attempt is counted in the run's
    compute counters (`RunRecord.counters`), and the seconds of training generation and scoring in the step's
    timers (`RunRecord.timers`; evaluation is no step's). What algorithms may use of it is
    `agents.core.algorithm.RolloutTools`."""

    def __init__(
        self,
        config: TrainConfig,
        policy: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        train_env: Any,
        eval_env: Any,
        record: RunRecord,
        *,
        autocast_dtype: torch.dtype | None,
    ) -> None:
        c = config
        self.config, self.tokenizer, self.record = config, tokenizer, record
        self.train_env, self.eval_env = train_env, eval_env
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
        for q in range(
            train_env.num_questions
        ):  # the training pool's prompts, once: a step only looks them up
            self.prompt(q)

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
        texts = [self.decode(r) for r in responses]  # decoded once: the verifier's input and the rollouts'
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
        """Generate, counted as `kind` ("train", "probe", "vine", "eval") and timed unless "eval" (`sampling`:
        other settings for this call, e.g. the evaluation temperature)."""
        start = time.perf_counter()
        responses = self.generator.generate(prompts, greedy=greedy, sampling=sampling)
        eos = self.tokenizer.eos_token_id
        responses = [r if r else [eos] for r in responses]  # an empty response still ends the episode
        counters = self.record.counters
        counters[f"attempts_{kind}"] += len(responses)
        if kind != "eval":  # training compute: its tokens counted, its seconds the step's
            counters["generated_tokens"] += sum(len(r) for r in responses)
            self.record.timers["generation"] += time.perf_counter() - start
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
        start = time.perf_counter()
        texts = [self.decode(r) for r in responses] if texts is None else texts
        cut = None  # the truncated responses, read before the verifier runs
        if self.config.truncated_reward is not None:
            cut = np.fromiter((self.truncated(r) for r in responses), dtype=bool, count=len(responses))
        rewards, _ = self.train_env.batch_rewards(question_ids, texts, prefixes=prefixes)
        if cut is not None:
            rewards[cut] = self.config.truncated_reward
        self.record.timers["scoring"] += time.perf_counter() - start
        return rewards

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def token_texts(self, ids: list[int]) -> list[str]:
        return self.tokenizer.batch_decode([[x] for x in ids])

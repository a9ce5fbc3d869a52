"""What an algorithm is: the batch it learns from (`Rollouts`, packed on the (B, W) grid by `pack`), the
narrow view of the rollout services it works through (`RolloutTools`), and the `Algorithm` interface.

A packed batch holds B sequences `query + response`, right-padded to width W. Position t of `response_mask`
is 1 when token t belongs to the response, so every per-token quantity (log-probs, values, rewards,
advantages; agents/core/losses.py) lives on the same (B, W) grid and is read under the mask.

The trainer owns the loop (agents/trainer.py); an algorithm differs only in its extra trainable modules, its
advantages and its loss. Algorithms that need more attempts to compute advantages (VinePPO's Monte-Carlo
value estimates) get them in `Algorithm.more_rollouts`, which the trainer calls where it collects, through
`RolloutTools` (generate, reward, decode), a part of the run's `agents.rollout.RolloutWorker`: the update
itself generates nothing. Nothing of the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np
import torch

from agents.core.config import TrainConfig


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


class RolloutTools(Protocol):
    """The rollout services an algorithm may use (agents.rollout.RolloutWorker): every call is counted and
    timed in the run's record."""

    def generate(self, prompts: list[list[int]], kind: str, greedy: bool = False) -> list[list[int]]:
        """Response token ids per prompt; `kind` names the compute counter ("train", "probe", "vine", "eval")."""
        ...

    def reward_responses(
        self, question_ids: list[int], responses: list[list[int]], prefixes: list[str] | None = None
    ) -> np.ndarray:
        """Rewards of responses (after `prefixes`, for continuations) through the env's batch path."""
        ...

    def decode(self, ids: list[int]) -> str: ...

    def token_texts(self, ids: list[int]) -> list[str]:
        """The text of each token on its own (where a response's line breaks fall)."""
        ...


class Algorithm:
    """What differs between PPO, VinePPO and GRPO: extra trainable modules, advantages, and the loss."""

    name: ClassVar[str] = "base"
    config_class: ClassVar[type[TrainConfig]] = TrainConfig
    #: the advantages need log pi_old before any update (PPO's KL reward)
    needs_old_logprobs: bool = False

    def __init__(self, config: TrainConfig, policy: torch.nn.Module, tools: RolloutTools) -> None:
        self.config, self.policy, self.tools = config, policy, tools

    def modules(self) -> dict[str, torch.nn.Module]:
        """Trainable modules besides the policy (a critic); optimised and checkpointed with it."""
        return {}

    def more_rollouts(self, rollouts: Rollouts) -> dict[str, float]:
        """Rollout work the advantages need beyond the batch (VinePPO's Monte-Carlo values), done while the
        step collects so that the update only learns; writes into `rollouts.tensors`, returns metrics."""
        return {}

    def advantages(self, rollouts: Rollouts) -> dict[str, float]:
        """Fill rollouts.tensors["advantages"] (and what the loss needs); return metrics."""
        raise NotImplementedError

    def rows_to_learn(self, tensors: dict[str, torch.Tensor], rows: np.ndarray) -> np.ndarray:
        """The rows of a minibatch whose loss the update computes: all, unless some give exactly no gradient
        whatever the policy (GRPO's groups that all agree, without a KL term); those still count in the
        loss's normaliser, so leaving them out changes the compute, not the gradient."""
        return rows

    def loss(
        self,
        mb: dict[str, torch.Tensor],
        logprobs: torch.Tensor,
        entropy: torch.Tensor | None,
        norm: dict[str, float],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """This micro-batch's share of its minibatch's loss (`norm`: the minibatch's token and sequence
        counts; see agents.core.losses), and metrics."""
        raise NotImplementedError

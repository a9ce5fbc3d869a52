"""What an algorithm is, and the narrow view of the rollout services it works through.

The trainer owns the loop (agents/trainer.py); an algorithm differs only in its extra trainable modules, its
advantages and its loss. Algorithms that need more attempts to compute advantages (VinePPO's Monte-Carlo
value estimates) get them through `RolloutTools` (generate, reward, decode), a part of the run's
`agents.rollout.RolloutWorker`. Nothing of the trainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np
import torch

from agents.config import TrainConfig

if TYPE_CHECKING:  # annotations only: the algorithms load without transformers (fast --help)
    from agents.rollout import Rollouts


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

    def advantages(self, rollouts: Rollouts) -> dict[str, float]:
        """Fill rollouts.tensors["advantages"] (and what the loss needs); return metrics."""
        raise NotImplementedError

    def loss(
        self,
        mb: dict[str, torch.Tensor],
        logprobs: torch.Tensor,
        entropy: torch.Tensor | None,
        norm: dict[str, float],
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """This micro-batch's share of its minibatch's loss (`norm`: the minibatch's token and sequence
        counts; see agents.losses), and metrics."""
        raise NotImplementedError

"""GRPO (Shao et al. 2024, DeepSeekMath): no critic; each question's G attempts are their own baseline.

For the attempts i = 1..G of one question with rewards R_i, every token of attempt i gets

    A_i = (R_i - mean_j R_j) / (std_j R_j + eps)      (scale_rewards=False: A_i = R_i - mean_j R_j),

so a group whose attempts all agree (p = 0 or p = 1) has A = 0 and teaches nothing: the waste that sampling
for learnability avoids. The loss is PPO's clipped surrogate plus a KL penalty to the reference policy
inside the loss, kl_coef * k3(pi, pi_ref) per token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agents.base import Algorithm
from agents.config import TrainConfig, option
from agents.losses import critic_free_loss
from agents.rollout import Rollouts


@dataclass
class GRPOConfig(TrainConfig):
    """GRPO options on top of the shared ones."""

    algo: str = option("grpo", "the algorithm")
    scale_rewards: bool = option(True, "divide by the group's reward std (Dr. GRPO argues for False)")
    eps: float = option(1e-6, "added to the group's std before dividing")


def group_advantages(rewards: np.ndarray, group: np.ndarray, scale: bool = True, eps: float = 1e-6) -> np.ndarray:
    """(R_i - mean of its group) / (std of its group + eps), one value per sequence."""
    _, inv = np.unique(group, return_inverse=True)
    counts = np.bincount(inv)
    mean = np.bincount(inv, weights=rewards) / counts
    centred = rewards - mean[inv]
    if not scale:
        return centred
    std = np.sqrt(np.bincount(inv, weights=centred**2) / counts)  # population std, as in the paper
    denom = std[inv] + eps
    return np.divide(centred, denom, out=np.zeros_like(centred), where=denom > 0)  # a group that agrees: 0


class GRPO(Algorithm):
    name = "grpo"
    config_class = GRPOConfig

    def advantages(self, rollouts: Rollouts) -> dict[str, float]:
        c, t = self.config, rollouts.tensors
        a = group_advantages(rollouts.rewards.astype(np.float64), rollouts.group, c.scale_rewards, c.eps)
        t["advantages"] = torch.as_tensor(a, dtype=torch.float32)[:, None] * t["response_mask"]
        return {}

    def loss(self, mb, logprobs, entropy, norm=None):
        return critic_free_loss(self.config, mb, logprobs, entropy, norm)

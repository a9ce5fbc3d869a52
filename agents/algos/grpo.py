"""GRPO (Shao et al. 2024, DeepSeekMath): no critic; each question's G attempts are their own baseline.

For the attempts i = 1..G of one question with rewards R_i, every token of attempt i gets

    A_i = (R_i - mean_j R_j) / (std_j R_j + eps)      (scale_rewards=False: A_i = R_i - mean_j R_j),

so a group whose attempts all agree (p = 0 or p = 1) has A = 0 and teaches nothing: the waste that sampling
for learnability avoids. The loss is PPO's clipped surrogate plus a KL penalty to the reference policy
inside the loss (not in the reward), over the response tokens t of every attempt,

    L = mean_t max(-A_t * ratio_t, -A_t * clip(ratio_t, 1 - clip_coef, 1 + clip_coef)) + kl_coef * KL(pi || pi_ref),

with ratio_t = pi(a_t|s_t) / pi_old(a_t|s_t) and the KL from per-token k3 estimates (see agents.core.losses.kl_penalty).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agents.core.algorithm import Algorithm, Rollouts
from agents.core.config import TrainConfig, option
from agents.core.losses import loss_stats, policy_loss, reference_kl


@dataclass
class GRPOConfig(TrainConfig):
    """GRPO options on top of the shared ones."""

    algo: str = option("grpo", "the algorithm")
    scale_rewards: bool = option(True, "divide by the group's reward std (Dr. GRPO argues for False)")
    eps: float = option(1e-6, "added to the group's std before dividing")


def group_advantages(
    rewards: np.ndarray, group: np.ndarray, scale: bool = True, eps: float = 1e-6
) -> np.ndarray:
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

    def rows_to_learn(self, tensors, rows):
        if self.config.kl_coef != 0:
            return rows
        # A = 0 on every token and no KL term: the clipped surrogate is 0 for any ratio
        learning = rows[(tensors["advantages"][rows] != 0).any(dim=1).numpy()]
        return learning if learning.size else rows[:1]  # the optimiser still steps on a zero gradient

    def loss(self, mb, logprobs, entropy, norm):
        c, mask = self.config, mb["response_mask"]
        pg_loss, stats = policy_loss(
            logprobs, mb["old_logprobs"], mb["advantages"], mask, c.clip_coef, norm["tokens"]
        )
        kl = reference_kl(
            logprobs, mb, c.kl_aggregation, norm, stats
        )  # KL(pi || pi_ref); None when kl_coef = 0
        loss = pg_loss if kl is None else pg_loss + c.kl_coef * kl
        return loss, loss_stats(stats, pg_loss, loss, entropy, mask)

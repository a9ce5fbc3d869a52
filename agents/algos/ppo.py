"""PPO for language models (Schulman et al. 2017; the RLHF form of Ouyang et al. 2022, as in VinePPO's baseline).

Each response token is an action. Per-token reward: the verifier's reward on the final token, minus a KL
penalty to the frozen reference policy on every token,

    r_t = -kl_coef * (log pi_old(a_t|s_t) - log pi_ref(a_t|s_t)) + [t = T] * R.

A critic V (the policy's backbone, copied, with a scalar head) gives token-level GAE,

    delta_t = r_t + gamma * V(s_{t+1}) - V(s_t),   A_t = sum_k (gamma * lam)^k delta_{t+k},   returns_t = A_t + V(s_t),

with gamma = lam = 1 by default (VinePPO's PPO baseline): A_t is then the Monte-Carlo return minus V(s_t).
Advantages are whitened over the batch. The policy minimises the clipped surrogate

    L_pg = mean_t max(-A_t * ratio_t, -A_t * clip(ratio_t, 1 - clip_coef, 1 + clip_coef)),  ratio_t = pi/pi_old,

and the critic the clipped value loss 0.5 * max((V - returns)^2, (V_clipped - returns)^2).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from agents.core import metrics as M
from agents.core.algorithm import Algorithm, Rollouts
from agents.core.config import TrainConfig, option
from agents.core.losses import last_response_index, masked_mean, masked_whiten, policy_loss


@dataclass
class PPOConfig(TrainConfig):
    """PPO options on top of the shared ones."""

    algo: str = option("ppo", "the algorithm")
    gamma: float = option(1.0, "discount over tokens")
    lam: float = option(1.0, "GAE lambda (1: Monte-Carlo return minus the value)")
    vf_coef: float = option(0.5, "weight of the value loss")
    value_clip: float = option(0.2, "the critic's prediction moves at most this far from its old value")
    whiten_advantages: bool = option(True, "zero mean, unit variance over the batch's response tokens")
    critic_learning_rate: float | None = option(
        None, "the critic's learning rate (None: the policy's, as the reference trains both)"
    )


class ValueModel(nn.Module):
    """The policy's transformer body, copied, with a scalar head: V(s_t) for every position t."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.body = copy.deepcopy(policy.base_model)  # LlamaModel, Qwen2Model, ...: hidden states, no LM head
        self.head = nn.Linear(policy.config.hidden_size, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.head.to(next(self.body.parameters()).dtype)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, W) value of the state before token t, i.e. read from the hidden state at t - 1 (0 at t = 0)."""
        hidden = self.body(
            input_ids=input_ids, attention_mask=attention_mask, use_cache=False
        ).last_hidden_state
        values = self.head(hidden).squeeze(-1).float()
        return nn.functional.pad(values[:, :-1], (1, 0))


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns) on the (B, W) grid; the response is a contiguous run of mask = 1, and the value
    after its last token is 0 (the episode ends there)."""
    W = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0])
    for t in reversed(range(W)):
        next_mask = mask[:, t + 1] if t + 1 < W else torch.zeros_like(last)
        next_value = values[:, t + 1] * next_mask if t + 1 < W else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * next_mask * last
        advantages[:, t] = last * mask[:, t]
    returns = (advantages + values) * mask
    return advantages, returns


class PPO(Algorithm):
    name = "ppo"
    config_class = PPOConfig

    def __init__(self, config: PPOConfig, policy: nn.Module, tools) -> None:
        super().__init__(config, policy, tools)
        self.critic = ValueModel(policy).to(next(policy.parameters()).device)
        self.needs_old_logprobs = config.kl_coef > 0

    def modules(self) -> dict[str, nn.Module]:
        return {"critic": self.critic}

    @torch.no_grad()
    def advantages(self, rollouts: Rollouts) -> dict[str, float]:
        c, t = self.config, rollouts.tensors
        mask = t["response_mask"]
        device = next(self.critic.parameters()).device
        values = []
        for s in range(0, mask.shape[0], c.micro_batch_size):
            ids = t["input_ids"][s : s + c.micro_batch_size].to(device)
            am = t["attention_mask"][s : s + c.micro_batch_size].to(device)
            values.append(self.critic(ids, am).cpu())
        values = torch.cat(values) * mask
        # per-token rewards: KL penalty on every response token, the verifier's reward on the last one
        kl = (t["old_logprobs"] - t["ref_logprobs"]) * mask if "ref_logprobs" in t else torch.zeros_like(mask)
        rewards = -c.kl_coef * kl
        rewards[torch.arange(mask.shape[0]), last_response_index(mask)] += torch.as_tensor(rollouts.rewards)
        advantages, returns = gae(rewards, values, mask, c.gamma, c.lam)
        if c.whiten_advantages:
            advantages = masked_whiten(advantages, mask)
        t.update(advantages=advantages, returns=returns, old_values=values)
        return {
            M.KL_REF_K1: float(masked_mean(kl, mask)),
            M.VALUE_MEAN: float(masked_mean(values, mask)),
            M.VALUE_RETURNS: float(masked_mean(returns, mask)),
        }

    def loss(self, mb, logprobs, entropy, norm=None):
        c = self.config
        norm = norm or {}
        mask = mb["response_mask"]
        pg_loss, stats = policy_loss(
            logprobs, mb["old_logprobs"], mb["advantages"], mask, c.clip_coef, norm.get("tokens")
        )
        values = self.critic(mb["input_ids"], mb["attention_mask"])
        values_clipped = mb["old_values"] + torch.clamp(
            values - mb["old_values"], -c.value_clip, c.value_clip
        )
        vf_losses = torch.max((values - mb["returns"]) ** 2, (values_clipped - mb["returns"]) ** 2)
        tokens = norm.get("tokens") or float(mask.sum().clamp(min=1.0))
        vf_loss = 0.5 * (vf_losses * mask).sum() / max(tokens, 1.0)
        loss = pg_loss + c.vf_coef * vf_loss
        stats.update(
            {
                M.LOSS_POLICY: pg_loss.item(),
                M.LOSS_VALUE: vf_loss.item(),
                M.LOSS_TOTAL: loss.item(),
                M.ENTROPY: float(masked_mean(entropy, mask)) if entropy is not None else 0.0,
            }
        )
        return loss, stats

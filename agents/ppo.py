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

from agents.rollout import Rollouts, masked_mean, masked_whiten
from agents.trainer import Algorithm, TrainConfig


@dataclass
class PPOConfig(TrainConfig):
    """PPO options on top of the shared ones."""

    algo: str = "ppo"
    gamma: float = 1.0  # discount over tokens
    lam: float = 1.0  # GAE lambda
    vf_coef: float = 0.5  # weight of the value loss
    value_clip: float = 0.2  # the critic's prediction moves at most this far from its old value
    whiten_advantages: bool = True
    critic_learning_rate: float | None = None  # None: the policy's learning_rate (as the reference trains both)


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
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        values = self.head(hidden).squeeze(-1).float()
        return nn.functional.pad(values[:, :-1], (1, 0))


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
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


def policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, clip_coef: float, tokens: float | None = None
                ) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped surrogate summed over response tokens and divided by `tokens` (default: this mask's count,
    i.e. the token mean; the trainer passes its minibatch's count so micro-batches add up to the minibatch's
    token mean). Shared by all three algorithms."""
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    pg_losses = -advantages * ratio
    pg_losses_clipped = -advantages * torch.clamp(ratio, 1.0 - clip_coef, 1.0 + clip_coef)
    n = float(mask.sum().clamp(min=1.0)) if tokens is None else max(float(tokens), 1.0)
    loss = (torch.max(pg_losses, pg_losses_clipped) * mask).sum() / n
    with torch.no_grad():
        clip_frac = masked_mean(((ratio - 1.0).abs() > clip_coef).float(), mask)
        approx_kl = masked_mean((ratio - 1.0) - log_ratio, mask)  # k3 estimate of KL(pi_old || pi)
    return loss, {"policy/clip_frac": float(clip_frac), "policy/approx_kl": float(approx_kl)}


#: per-token KL estimates above this are clipped in the loss (the VinePPO reference's kl_penalty_loss_clip_max)
KL_CLIP = 10.0


def kl_to_reference(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi || pi_ref): exp(ref - logp) - (ref - logp) - 1 >= 0."""
    d = ref_logprobs - logprobs
    return torch.exp(d) - d - 1.0


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor, aggregation: str,
               tokens: float | None = None, sequences: float | None = None) -> torch.Tensor:
    """The KL term of the loss, from per-token k3 clipped at KL_CLIP:

        sequence_sum:  sum_i sum_t k3_it / (number of sequences)   (the VinePPO reference: KL of whole responses)
        token_mean:    sum_i sum_t k3_it / (number of tokens)      (TRL's GRPO; about length times weaker)

    `tokens` / `sequences` default to this batch's counts; the trainer passes its minibatch's."""
    k3 = torch.clamp(kl_to_reference(logprobs, ref_logprobs), max=KL_CLIP) * mask
    if aggregation == "sequence_sum":
        n = float((mask.sum(1) > 0).sum().clamp(min=1)) if sequences is None else max(float(sequences), 1.0)
    elif aggregation == "token_mean":
        n = float(mask.sum().clamp(min=1.0)) if tokens is None else max(float(tokens), 1.0)
    else:
        raise ValueError(f"kl_aggregation must be sequence_sum or token_mean, got {aggregation!r}")
    return k3.sum() / n


def critic_free_loss(config: TrainConfig, mb: dict[str, torch.Tensor], logprobs: torch.Tensor,
                     entropy: torch.Tensor | None, norm: dict[str, float] | None = None
                     ) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of GRPO and VinePPO: the clipped surrogate plus kl_coef * KL(pi || pi_ref) (see kl_penalty),
    each normalised by the minibatch's token or sequence count in `norm`."""
    norm = norm or {}
    mask = mb["response_mask"]
    pg_loss, stats = policy_loss(logprobs, mb["old_logprobs"], mb["advantages"], mask, config.clip_coef,
                                 norm.get("tokens"))
    loss = pg_loss
    if "ref_logprobs" in mb:
        kl = kl_penalty(logprobs, mb["ref_logprobs"], mask, config.kl_aggregation, norm.get("tokens"),
                        norm.get("sequences"))
        loss = loss + config.kl_coef * kl
        with torch.no_grad():
            stats["policy/kl"] = float(masked_mean(kl_to_reference(logprobs, mb["ref_logprobs"]), mask))
    stats.update({"loss/policy": pg_loss.item(), "loss/total": loss.item(),
                  "policy/entropy": float(masked_mean(entropy, mask)) if entropy is not None else 0.0})
    return loss, stats


class PPO(Algorithm):
    def __init__(self, config: PPOConfig, trainer) -> None:
        super().__init__(config, trainer)
        self.critic = ValueModel(trainer.policy).to(trainer.device)
        self.needs_old_logprobs = config.kl_coef > 0

    def modules(self) -> dict[str, nn.Module]:
        return {"critic": self.critic}

    @torch.no_grad()
    def advantages(self, rollouts: Rollouts) -> dict[str, float]:
        c, t = self.config, rollouts.tensors
        mask = t["response_mask"]
        values = []
        for s in range(0, mask.shape[0], c.micro_batch_size):
            ids = t["input_ids"][s:s + c.micro_batch_size].to(self.trainer.device)
            am = t["attention_mask"][s:s + c.micro_batch_size].to(self.trainer.device)
            values.append(self.critic(ids, am).cpu())
        values = torch.cat(values) * mask
        # per-token rewards: KL penalty on every response token, the verifier's reward on the last one
        kl = (t["old_logprobs"] - t["ref_logprobs"]) * mask if "ref_logprobs" in t else torch.zeros_like(mask)
        rewards = -c.kl_coef * kl
        last = mask.cumsum(1).argmax(1)  # index of the final response token
        rewards[torch.arange(mask.shape[0]), last] += torch.as_tensor(rollouts.rewards)
        advantages, returns = gae(rewards, values, mask, c.gamma, c.lam)
        if c.whiten_advantages:
            advantages = masked_whiten(advantages, mask)
        t.update(advantages=advantages, returns=returns, old_values=values)
        return {"policy/kl": float(masked_mean(kl, mask)), "value/mean": float(masked_mean(values, mask)),
                "value/returns_mean": float(masked_mean(returns, mask))}

    def loss(self, mb, logprobs, entropy, norm=None):
        c = self.config
        norm = norm or {}
        mask = mb["response_mask"]
        pg_loss, stats = policy_loss(logprobs, mb["old_logprobs"], mb["advantages"], mask, c.clip_coef,
                                     norm.get("tokens"))
        values = self.critic(mb["input_ids"], mb["attention_mask"])
        values_clipped = mb["old_values"] + torch.clamp(values - mb["old_values"], -c.value_clip, c.value_clip)
        vf_losses = torch.max((values - mb["returns"]) ** 2, (values_clipped - mb["returns"]) ** 2)
        tokens = norm.get("tokens") or float(mask.sum().clamp(min=1.0))
        vf_loss = 0.5 * (vf_losses * mask).sum() / max(tokens, 1.0)
        loss = pg_loss + c.vf_coef * vf_loss
        stats.update({"loss/policy": pg_loss.item(), "loss/value": vf_loss.item(), "loss/total": loss.item(),
                      "policy/entropy": float(masked_mean(entropy, mask)) if entropy is not None else 0.0})
        return loss, stats

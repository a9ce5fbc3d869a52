"""The losses the algorithms share: PPO's clipped surrogate and the KL penalty to the reference policy.

Every loss here is a *share of its minibatch's loss*: summed over a micro-batch's tokens (or sequences) and
divided by the minibatch's token (or sequence) count, which the trainer passes as `norm`. Accumulating the
gradients of all micro-batches then gives the gradient of the minibatch's loss, whatever their sizes.
"""

from __future__ import annotations

import torch

from agents import metrics as M
from agents.config import TrainConfig
from agents.rollout import masked_mean


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
    return loss, {M.CLIP_FRAC: float(clip_frac), M.APPROX_KL: float(approx_kl)}


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
            stats[M.KL_REF_K3] = float(masked_mean(kl_to_reference(logprobs, mb["ref_logprobs"]), mask))
    stats.update({M.LOSS_POLICY: pg_loss.item(), M.LOSS_TOTAL: loss.item(),
                  M.ENTROPY: float(masked_mean(entropy, mask)) if entropy is not None else 0.0})
    return loss, stats

"""The pieces every objective is built from, so that each algorithm's `loss` (agents/algos/grpo.py, vineppo.py,
ppo.py) reads as its equation: log pi of the response tokens (`token_logprobs`), masked means, PPO's clipped
surrogate (`policy_loss`) and the KL penalty to the reference policy (`kl_penalty`, `reference_kl`).

Every loss here is a *share of its minibatch's loss*: summed over a micro-batch's tokens (or sequences) and
divided by the minibatch's token (or sequence) count, which the trainer passes as `norm`. Accumulating the
gradients of all micro-batches then gives the gradient of the minibatch's loss, whatever their sizes.

Per-token quantities live on the (B, W) grid of a packed batch (agents/rollout.py): `logprobs[:, t]` is
log pi(token_t | tokens_<t), read under `response_mask`.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from agents.core import metrics as M

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def token_logprobs(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    temperature: float = 1.0,
    with_entropy: bool = False,
    first: int = 1,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(B, W) log pi(token_t | tokens_<t) for t >= `first` (0 before it), divided by the sampling temperature
    as generation did; optionally the (B, W) entropy of pi at those positions.

    `first` is the earliest response position of the batch: the vocabulary logits (the LM head and the
    log-softmax over the whole vocabulary, a large share of a small model's compute) are taken only from
    position first - 1 on, through the model's `logits_to_keep` when it has one, as TRL does."""
    W = input_ids.shape[1]
    first = max(1, min(int(first), W - 1))
    if _keeps_logits(model):
        logits = (
            model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                use_cache=False,
                logits_to_keep=W - first + 1,
            )
            .logits[:, :-1]
            .float()
        )
    else:
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits[
            :, first - 1 : -1
        ]
        logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    logp_all = F.log_softmax(logits, dim=-1)
    logp = F.pad(logp_all.gather(-1, input_ids[:, first:, None]).squeeze(-1), (first, 0))
    entropy = None
    if with_entropy:
        with torch.no_grad():  # a metric, not part of any loss here
            entropy = F.pad(-(logp_all.exp() * logp_all).sum(-1), (first, 0))
    return logp, entropy


def _keeps_logits(model: torch.nn.Module) -> bool:
    """Does the model's forward take `logits_to_keep` (transformers' causal LMs do)?"""
    try:
        return "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def first_response_position(response_mask: torch.Tensor) -> int:
    """The earliest position any sequence's response starts at (right padding: prompts come first)."""
    rows = response_mask.any(dim=1)
    if not rows.any():
        return response_mask.shape[1] - 1
    return int(response_mask[rows].float().argmax(dim=1).min())


@torch.no_grad()
def batched_logprobs(
    model: PreTrainedModel, tensors: dict[str, torch.Tensor], micro_batch: int, temperature: float = 1.0
) -> torch.Tensor:
    """token_logprobs over a whole batch in micro-batches, without gradients (old and reference log-probs)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for s in range(0, tensors["input_ids"].shape[0], micro_batch):
        ids = tensors["input_ids"][s : s + micro_batch].to(device)
        mask = tensors["attention_mask"][s : s + micro_batch].to(device)
        first = first_response_position(tensors["response_mask"][s : s + micro_batch])
        out.append(token_logprobs(model, ids, mask, temperature, first=first)[0].cpu())
    model.train(was_training)
    return torch.cat(out)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Zero mean, unit variance over the masked entries (advantage whitening; the sample variance, with n - 1,
    as the VinePPO reference computes it)."""
    mean = masked_mean(x, mask)
    n = mask.sum()
    var = ((x - mean) ** 2 * mask).sum() / (n - 1).clamp(min=1.0)
    return (x - mean) * torch.rsqrt(var + eps) * mask


def last_response_index(response_mask: torch.Tensor) -> torch.Tensor:
    """(B,) position of each sequence's final response token, where its reward lands."""
    W = response_mask.shape[1]
    positions = torch.arange(W).expand_as(response_mask)
    return torch.where(response_mask > 0, positions, torch.full_like(positions, -1)).max(dim=1).values


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_coef: float,
    tokens: float | None = None,
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


def kl_penalty(
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    aggregation: str,
    tokens: float | None = None,
    sequences: float | None = None,
) -> torch.Tensor:
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


def reference_kl(
    logprobs: torch.Tensor,
    mb: dict[str, torch.Tensor],
    aggregation: str,
    norm: dict[str, float],
    stats: dict[str, float],
) -> torch.Tensor | None:
    """The KL term KL(pi || pi_ref) of the loss (`kl_penalty`, normalised by the minibatch's counts in `norm`)
    when the batch has reference log-probs, else None (kl_coef = 0 keeps no reference model); logs the
    per-token k3 mean in `stats`."""
    if "ref_logprobs" not in mb:
        return None
    mask = mb["response_mask"]
    kl = kl_penalty(
        logprobs, mb["ref_logprobs"], mask, aggregation, norm.get("tokens"), norm.get("sequences")
    )
    with torch.no_grad():
        stats[M.KL_REF_K3] = float(masked_mean(kl_to_reference(logprobs, mb["ref_logprobs"]), mask))
    return kl


def loss_stats(
    stats: dict[str, float],
    pg_loss: torch.Tensor,
    loss: torch.Tensor,
    entropy: torch.Tensor | None,
    mask: torch.Tensor,
) -> dict[str, float]:
    """`stats` with the surrogate, the total loss and the policy's mean entropy over response tokens."""
    stats.update(
        {
            M.LOSS_POLICY: pg_loss.item(),
            M.LOSS_TOTAL: loss.item(),
            M.ENTROPY: float(masked_mean(entropy, mask)) if entropy is not None else 0.0,
        }
    )
    return stats

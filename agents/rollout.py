"""Rollouts as tensors, and the one place that computes token log-probabilities (and values) from a model.

A batch holds B sequences `query + response`, right-padded to width W. Position t of `response_mask` is 1
when token t belongs to the response; `logprobs[:, t]` is log pi(token_t | tokens_<t), so every per-token
quantity (log-probs, values, rewards, advantages) lives on the same (B, W) grid and is read under the mask.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedModel


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
        return Rollouts(question_ids=self.question_ids[rows], group=self.group[rows] + group_offset,
                        queries=[self.queries[i] for i in rows], responses=[self.responses[i] for i in rows],
                        texts=[self.texts[i] for i in rows], rewards=self.rewards[rows])

    @staticmethod
    def concat(parts: list[Rollouts]) -> Rollouts:
        return Rollouts(question_ids=np.concatenate([p.question_ids for p in parts]),
                        group=np.concatenate([p.group for p in parts]),
                        queries=[q for p in parts for q in p.queries],
                        responses=[x for p in parts for x in p.responses],
                        texts=[t for p in parts for t in p.texts],
                        rewards=np.concatenate([p.rewards for p in parts]))


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
        response_mask[i, len(q):n] = 1.0
    return {"input_ids": input_ids, "attention_mask": attention_mask, "response_mask": response_mask}


def token_logprobs(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   temperature: float = 1.0, with_entropy: bool = False, first: int = 1,
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(B, W) log pi(token_t | tokens_<t) for t >= `first` (0 before it), divided by the sampling temperature
    as generation did; optionally the (B, W) entropy of pi at those positions.

    `first` is the earliest response position of the batch: the vocabulary logits (the LM head and the
    log-softmax over the whole vocabulary, a large share of a small model's compute) are taken only from
    position first - 1 on, through the model's `logits_to_keep` when it has one, as TRL does."""
    W = input_ids.shape[1]
    first = max(1, min(int(first), W - 1))
    if _keeps_logits(model):
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                       logits_to_keep=W - first + 1).logits[:, :-1].float()
    else:
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits[:, first - 1:-1]
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
def batched_logprobs(model: PreTrainedModel, tensors: dict[str, torch.Tensor], micro_batch: int,
                     temperature: float = 1.0) -> torch.Tensor:
    """token_logprobs over a whole batch in micro-batches, without gradients (old and reference log-probs)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for s in range(0, tensors["input_ids"].shape[0], micro_batch):
        ids = tensors["input_ids"][s:s + micro_batch].to(device)
        mask = tensors["attention_mask"][s:s + micro_batch].to(device)
        first = first_response_position(tensors["response_mask"][s:s + micro_batch])
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

"""VinePPO (Kazemnejad et al. 2024): PPO without a critic, values from Monte-Carlo rollouts.

A response is split into reasoning steps at line breaks: boundaries 0 = b_0 < b_1 < ... < b_m < T (at most
`max_steps` steps; extra boundaries are thinned evenly). The state s_j is the prompt plus the first b_j
response tokens. From each state the current policy samples `vine_rollouts` (K) completions through the env
(the env scores prefix + completion, exactly as `reset(options={"question_id": q, "prefix": s})` does), and

    V(s_j) = mean reward of the K completions from s_j,       V(s_{m+1}) = R (the response's own reward).

Every token of step j (tokens b_j .. b_{j+1} - 1) gets the advantage

    A_j = V(s_{j+1}) - V(s_j).

s_0 is the same state for all G attempts of a question, so its value is estimated once per question.
The K x (states) extra generations count in `compute/attempts_vine`. Advantages are whitened over the batch's
response tokens. The loss is PPO's, without the value loss, and with the KL penalty to the reference in the
loss, as in GRPO:

    L = mean_t max(-A_t * ratio_t, -A_t * clip(ratio_t, 1 - clip_coef, 1 + clip_coef)) + kl_coef * KL(pi || pi_ref).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from agents.core import metrics as M
from agents.core.algorithm import Algorithm, Rollouts
from agents.core.config import TrainConfig, option
from agents.core.losses import loss_stats, masked_whiten, policy_loss, reference_kl


@dataclass
class VinePPOConfig(TrainConfig):
    """VinePPO options on top of the shared ones."""

    algo: str = option("vineppo", "the algorithm")
    vine_rollouts: int = option(
        9, "K: Monte-Carlo completions per state (the reference's 9; fewer is cheaper and noisier)"
    )
    max_steps: int = option(8, "most reasoning steps per response that get their own value estimate")
    whiten_advantages: bool = option(
        True, "zero mean, unit variance over the batch's response tokens (as the reference)"
    )


def step_boundaries(token_texts: list[str], max_steps: int) -> list[int]:
    """Start offsets of the reasoning steps: 0, then the token after each line break (never the end, and
    runs of line breaks count once), thinned evenly to at most `max_steps` steps."""
    cuts = [
        i + 1 for i, text in enumerate(token_texts[:-1]) if "\n" in text and "\n" not in token_texts[i + 1]
    ]
    if len(cuts) > max_steps - 1:
        keep = (
            np.linspace(0, len(cuts) - 1, max(max_steps - 1, 0)).round().astype(int) if max_steps > 1 else []
        )
        cuts = [cuts[k] for k in sorted(set(keep))]
    return [0] + cuts


def step_advantages(bounds: list[int], values: list[float], final_reward: float, length: int) -> np.ndarray:
    """Per-token advantages of one response: tokens of step j get V(s_{j+1}) - V(s_j), V(s_{m+1}) = R."""
    v = list(values) + [final_reward]
    ends = bounds[1:] + [length]
    out = np.zeros(length, dtype=np.float32)
    for j, (a, b) in enumerate(zip(bounds, ends, strict=True)):
        out[a:b] = v[j + 1] - v[j]
    return out


class VinePPO(Algorithm):
    name = "vineppo"
    config_class = VinePPOConfig

    def more_rollouts(self, rollouts: Rollouts) -> dict[str, float]:
        """The Monte-Carlo values, rollout work done where the step collects: per-token step advantages
        V(s_{j+1}) - V(s_j) into `tensors["advantages"]` (whitened by `advantages`)."""
        c, tr = self.config, self.tools
        bounds = [step_boundaries(tr.token_texts(r), c.max_steps) for r in rollouts.responses]
        # the states to value: one s_0 per question group, and every later boundary of every response
        states: list[tuple[int, int]] = []  # (sequence index, prefix length)
        first_of_group: dict[int, int] = {}
        for i, b in enumerate(bounds):
            first_of_group.setdefault(int(rollouts.group[i]), i)
            if first_of_group[int(rollouts.group[i])] == i:
                states.append((i, 0))
            states.extend((i, k) for k in b[1:])
        K = c.vine_rollouts
        prompts, qids, prefixes = [], [], []
        for i, k in states:
            prefix = rollouts.responses[i][:k]
            prompts += [rollouts.queries[i] + prefix] * K
            qids += [int(rollouts.question_ids[i])] * K
            prefixes += [tr.decode(prefix)] * K
        completions = tr.generate(prompts, "vine")
        rewards = tr.reward_responses(qids, completions, prefixes=prefixes)
        value = dict(zip(states, rewards.reshape(len(states), K).mean(axis=1).tolist(), strict=True))
        # assemble per-token advantages on the (B, W) grid
        t = rollouts.tensors
        advantages = torch.zeros_like(t["response_mask"])
        for i, b in enumerate(bounds):
            start = len(rollouts.queries[i])
            v0 = value[(first_of_group[int(rollouts.group[i])], 0)]
            values = [v0] + [value[(i, k)] for k in b[1:]]
            a = step_advantages(b, values, float(rollouts.rewards[i]), len(rollouts.responses[i]))
            advantages[i, start : start + len(a)] = torch.from_numpy(a)
        t["advantages"] = advantages
        return {
            M.VINE_STATES: len(states),
            M.VINE_STEPS: float(np.mean([len(b) for b in bounds])),
            M.VINE_VALUE_MEAN: float(np.mean(list(value.values()))),
        }

    def advantages(self, rollouts: Rollouts) -> dict[str, float]:
        t = rollouts.tensors
        if self.config.whiten_advantages:
            t["advantages"] = masked_whiten(t["advantages"], t["response_mask"])
        return {}

    def loss(self, mb, logprobs, entropy, norm):
        c, A = self.config, mb["advantages"]  # A_j = V(s_{j+1}) - V(s_j) on every token of step j
        pg_loss, stats = policy_loss(
            logprobs, mb["old_logprobs"], A, mb["response_mask"], c.clip_coef, norm["tokens"]
        )
        kl = reference_kl(
            logprobs, mb, c.kl_aggregation, norm, stats
        )  # KL(pi || pi_ref); None when kl_coef = 0
        loss = pg_loss if kl is None else pg_loss + c.kl_coef * kl
        return loss, loss_stats(stats, pg_loss, loss, entropy, mb["response_mask"])

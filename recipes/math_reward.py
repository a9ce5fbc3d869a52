"""The reward the recipes train on, one entry point per trainer: copy this file and edit it (a format
penalty, a partial credit, another answer column). Both score with mathenv's verifier through
`mathenv.rewards`, so TRL and verl give one completion the same reward.

- TRL: `trl_reward(prompts, completions, answer, **kwargs) -> list[float]`, a reward function for
  `GRPOTrainer(reward_funcs=[...])`; `recipes/trl_grpo.py --reward recipes/math_reward.py:trl_reward`.
- verl: `compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict`, its
  `reward.custom_reward_function` (`path=recipes/math_reward.py`, `name=compute_score`); keys under
  `reward.custom_reward_function.reward_kwargs` arrive as keyword arguments.
"""

from __future__ import annotations

from typing import Any

from mathenv.rewards import compute_score as verl_score
from mathenv.rewards import make_mathenv_reward

#: reward for a completion whose answer cannot be read, negated (0: such a completion is simply wrong)
FORMAT_PENALTY = 0.0

trl_reward = make_mathenv_reward("answer", format_penalty=FORMAT_PENALTY, name="trl_reward")


def compute_score(
    data_source: str | None,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """verl's per-response reward: `score` 1 right, 0 wrong, -FORMAT_PENALTY unreadable; `acc` and `pred` are
    logged as reward extra info."""
    kwargs.setdefault("format_penalty", FORMAT_PENALTY)
    return verl_score(data_source, solution_str, ground_truth, extra_info, **kwargs)

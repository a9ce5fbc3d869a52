"""Our verifier as verl's `custom_reward_function` (no verl import; loads in verl's reward workers).

    reward.custom_reward_function.path=pkg://curricula.integrations.verl_reward
    reward.custom_reward_function.name=compute_score

verl 0.9.1's reward managers call `compute_score(data_source=..., solution_str=..., ground_truth=...,
extra_info=..., **kwargs)` for each response, with `ground_truth` read from the row's
`reward_model.ground_truth`; keys under `reward.custom_reward_function.reward_kwargs` arrive as keyword
arguments (here `format_penalty` and `last_number`).
"""

from __future__ import annotations

from typing import Any

from mathenv.verify import DEFAULT_TIMEOUT, score

UNREADABLE = ("no_answer", "unparsable")


def compute_score(data_source: str | None, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  *, format_penalty: float = 0.0, last_number: bool = True, timeout: float = DEFAULT_TIMEOUT,
                  **_: Any) -> dict[str, Any]:
    """1.0 for a right final answer, 0.0 for a wrong one, -format_penalty when no answer could be read.

    Returns verl's dict form: `score` is the reward; `acc` (0/1) and `pred` (the answer read, "" if none)
    are logged by verl as reward extra info.
    """
    verdict = score(solution_str, str(ground_truth), last_number=last_number, timeout=timeout)
    if verdict.correct:
        reward = 1.0
    else:
        reward = -float(format_penalty) if verdict.reason in UNREADABLE else 0.0
    return {"score": reward, "acc": float(verdict.correct), "pred": verdict.extracted or ""}

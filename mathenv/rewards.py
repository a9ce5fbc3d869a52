"""The env's reward for the engines: verl's reward workers and TRL score a completion with the env's own rule
(`mathenv.env.reward`, beside the env's batch path):

    reward = 1.0                       for a right final answer
             0.0                       for a wrong one
             -format_penalty           when no answer could be read (no_answer, unparsable, and the env's
                                       too_long: an answer over max_answer_chars is not read)

verl: `reward.custom_reward_function.path=pkg://mathenv.rewards` with `name=compute_score` (keys under
`reward.custom_reward_function.reward_kwargs` arrive as keyword arguments: `format_penalty`, `last_number`).
TRL: `reward_funcs=[mathenv_reward]`, or `make_mathenv_reward(...)` for other options. Neither framework is
imported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mathenv.env import UNREADABLE, reward
from mathenv.verify import DEFAULT_TIMEOUT, score, score_batch


def compute_score(
    data_source: str | None,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict | None = None,
    *,
    format_penalty: float = 0.0,
    last_number: bool = True,
    numbers_only: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    **_: Any,
) -> dict[str, Any]:
    """verl's `custom_reward_function`: verl 0.9.1's reward managers call it once per response with the row's
    `reward_model.ground_truth`. Returns verl's dict form: `score` is the reward; `acc` (0/1) and `pred` (the
    answer read, "" if none) are logged as reward extra info. `numbers_only` (as in `mathenv.verify.score`) wants a
    number in final form where the gold is one."""
    verdict = score(
        solution_str, str(ground_truth), last_number=last_number, numbers_only=numbers_only, timeout=timeout
    )
    return {
        "score": reward(verdict, format_penalty),
        "acc": float(verdict.correct),
        "pred": verdict.extracted or "",
    }


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or (conversational) a list of message dicts whose assistant
    contents are joined (content may be a string or a list of `{"type": "text", "text": ...}` parts)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    parts = []
    for message in completion or []:
        if not isinstance(message, dict) or message.get("role", "assistant") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(
                p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text"
            )
    return "\n".join(parts)


def make_mathenv_reward(
    answer_column: str = "answer",
    *,
    format_penalty: float = 0.0,
    last_number: bool = True,
    numbers_only: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    name: str = "mathenv_correct",
):
    """A TRL reward function `(prompts, completions, **kwargs) -> list[float]` scoring each completion with
    the verifier against the dataset column `answer_column` (TRL passes every dataset column as a kwarg);
    `numbers_only` as in `mathenv.verify.score`."""

    def reward_fn(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        if answer_column not in kwargs:
            raise KeyError(
                f"{name}: the dataset has no {answer_column!r} column (the gold answers); columns "
                f"passed: {sorted(k for k in kwargs if not k.startswith(('trainer_', 'log_')))}"
            )
        golds = [str(g) for g in kwargs[answer_column]]
        verdicts = score_batch(
            [completion_text(c) for c in completions],
            golds,
            last_number=last_number,
            numbers_only=numbers_only,
            timeout=timeout,
        )
        return [reward(v, format_penalty) for v in verdicts]

    reward_fn.__name__ = reward_fn.__qualname__ = name
    return reward_fn


mathenv_reward = make_mathenv_reward()

__all__ = [
    "UNREADABLE",
    "completion_text",
    "compute_score",
    "make_mathenv_reward",
    "mathenv_reward",
    "reward",
]

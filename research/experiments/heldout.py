"""Held out means never in the training pool: every held-out set a grid or a re-evaluation scores on is checked
against the training pool by normalised question text, and refused when any question appears in both.

(The common "held-out" set of the first testbed grid shared 1,398 of its 2,000 questions with the training
pool, every question of levels 1-2: its accuracies measured mostly training questions.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import gymnasium as gym

import mathenv  # noqa: F401  (registers MathReasoning-v0)
from agents.rollout import env_kwargs
from mathenv.errors import UserError
from mathenv.questions import Question


class HeldOutOverlapError(UserError):
    """A held-out question also appears in the training pool."""


_SPACE = re.compile(r"\s+")


def normalise_question(text: str) -> str:
    """The text two copies of one question share: Unicode-normalised (NFKC), case-folded, without whitespace
    ("12 + 7 =" and "12+7=" are one question)."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text).casefold())


def _texts(questions: Iterable[Question | str]) -> list[str]:
    return [q if isinstance(q, str) else q.question for q in questions]


def overlap(held_out: Iterable[Question | str], pool: Iterable[Question | str]) -> list[str]:
    """The held-out questions (as given) whose normalised text is also in the training pool."""
    seen = {normalise_question(t) for t in _texts(pool)}
    return [t for t in _texts(held_out) if normalise_question(t) in seen]


def check_held_out(
    held_out: Iterable[Question | str], pool: Iterable[Question | str], what: str = "held-out set"
) -> None:
    """Refuse a held-out set that shares any question with the training pool (raises HeldOutOverlapError)."""
    held_out = list(held_out)
    shared = overlap(held_out, pool)
    if shared:
        raise HeldOutOverlapError(
            f"{len(shared)} of the {len(held_out)} questions of the {what} appear in the training pool (e.g. "
            f"{shared[0]!r}): scores on it would measure training questions. Use a held-out split disjoint from "
            f"the training pool (another dataset split, or other levels / a generator whose train and test "
            f"splits are disjoint), or drop the shared questions from it"
        )


def training_pool(config: Any) -> list[Question]:
    """The questions a run of `config` (a TrainConfig) trains on, as its trainer builds them."""
    return _pool(config, "train")


def held_out_pool(config: Any) -> list[Question]:
    """The held-out questions a run of `config` evaluates on during training (its `eval_split`)."""
    return _pool(config, config.eval_split)


def _pool(config: Any, split: str) -> list[Question]:
    return list(gym.make("MathReasoning-v0", **env_kwargs(config, split)).unwrapped.questions)

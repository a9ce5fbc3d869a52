"""The record every dataset loader produces and every other part of the project consumes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Question:
    """One maths question of a pool.

    `answer` is the gold final answer as the dataset writes it (the verifier accepts numbers, LaTeX, and
    `$...$` / `\\boxed{}` wrappers). `difficulty` is the dataset's own label where it has one (arithmetic
    levels 1-10, MATH levels 1-5) and None otherwise; `solution` is a worked solution where the dataset has
    one (curricula use its length as a difficulty proxy for GSM8K).
    """

    uid: str
    question: str
    answer: str
    source: str
    difficulty: int | None = None
    solution: str | None = None
    subject: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

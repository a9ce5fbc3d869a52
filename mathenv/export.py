"""Our questions in other trainers' dataset formats: verl's RL parquet and TRL's GRPO dataset.

Both carry each question's row number, which is its id for a curriculum (integrations), and the
prompt text the env would show (`mathenv.env.format_prompt`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from mathenv.env import format_prompt
from mathenv.questions import Question

#: verl's `data_source` column for our rows (verl groups validation metrics by it)
DATA_SOURCE = "mathenv"
#: the TRL dataset column holding each row's question id (= its row number)
QUESTION_ID = "question_id"


def verl_rows(
    questions: Sequence[Question],
    *,
    instruction: str | None = None,
    data_source: str = DATA_SOURCE,
    split: str = "train",
) -> list[dict[str, Any]]:
    """verl's RL parquet layout: chat `prompt`, `reward_model.ground_truth`, and `extra_info.index` = row
    number (= question id, what the curriculum feedback reads)."""
    rows = []
    for i, q in enumerate(questions):
        rows.append(
            {
                "data_source": data_source,
                "prompt": [{"role": "user", "content": format_prompt(q.question, instruction)}],
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": str(q.answer)},
                "extra_info": {
                    "index": i,
                    "uid": str(q.uid),
                    "split": split,
                    "difficulty": -1 if q.difficulty is None else int(q.difficulty),
                },
            }
        )
    return rows


def write_verl_parquet(questions: Sequence[Question], path: str | os.PathLike, **kwargs: Any) -> str:
    """Write `verl_rows(questions, **kwargs)` to a parquet file verl's RLHFDataset reads."""
    import datasets

    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    datasets.Dataset.from_list(verl_rows(questions, **kwargs)).to_parquet(path)
    return path


def grpo_dataset(
    questions: Sequence[Question], *, instruction: str | None = None, conversational: bool = True
):
    """A `datasets.Dataset` for TRL's GRPOTrainer: `prompt` (chat messages, or plain text), `answer` (gold)
    and `question_id` (= row number = the curriculum's question id)."""
    import datasets

    texts = [format_prompt(q.question, instruction) for q in questions]
    prompts = [[{"role": "user", "content": t}] for t in texts] if conversational else texts
    return datasets.Dataset.from_dict(
        {
            "prompt": prompts,
            "answer": [str(q.answer) for q in questions],
            QUESTION_ID: list(range(len(questions))),
        }
    )


__all__ = ["DATA_SOURCE", "QUESTION_ID", "grpo_dataset", "verl_rows", "write_verl_parquet"]

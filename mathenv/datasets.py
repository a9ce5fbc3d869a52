"""Question pools: the generated default, GSM8K, MATH, MATH-500, and any JSONL or hub dataset.

Every hub dataset loads by its Hugging Face name through `datasets.load_dataset`, or from a local file with
`data_path=` (the same rows as JSONL). When the hub cannot be reached the error says how to pass a file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from mathenv import arithmetic
from mathenv.questions import Question
from mathenv.verify.extract import last_boxed

# name -> (hub path, hub config or configs, {our split: hub split})
HUB = {
    "gsm8k": ("openai/gsm8k", ("main",), {"train": "train", "test": "test"}),
    "math": ("EleutherAI/hendrycks_math",
             ("algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory",
              "prealgebra", "precalculus"),
             {"train": "train", "test": "test"}),
    "math500": ("HuggingFaceH4/MATH-500", (None,), {"test": "test", "train": "test"}),
}
NAMES = ("arithmetic", *HUB)


class DatasetUnavailableError(RuntimeError):
    """A dataset could not be read from the hub or from the given path."""


def _level(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    m = re.search(r"\d+", str(value))
    return int(m.group()) if m else None


def _gsm8k_row(row: Mapping[str, Any], i: int, split: str) -> Question:
    solution = str(row["answer"])
    if "####" not in solution:
        raise ValueError(f"GSM8K row {i} has no '#### answer' line in its 'answer' field")
    answer = solution.rsplit("####", 1)[1].strip().replace(",", "")
    return Question(uid=f"gsm8k/{split}/{i}", question=str(row["question"]), answer=answer, source="gsm8k",
                    difficulty=None, solution=solution)


def _math_row(row: Mapping[str, Any], i: int, split: str, source: str) -> Question:
    solution = row.get("solution")
    answer = row.get("answer")
    if answer is None and solution is not None:
        answer = last_boxed(str(solution))
    if answer is None:
        raise ValueError(f"{source} row {i} has neither an 'answer' field nor a \\boxed{{}} answer in 'solution'")
    subject = row.get("subject") or row.get("type")
    return Question(uid=str(row.get("unique_id") or f"{source}/{split}/{i}"), question=str(row["problem"]),
                    answer=str(answer).strip(), source=source, difficulty=_level(row.get("level")),
                    solution=None if solution is None else str(solution), subject=subject)


def _mapped_row(row: Mapping[str, Any], i: int, split: str, source: str, question_field: str,
                answer_field: str, difficulty_field: str | None, solution_field: str | None) -> Question:
    for field in (question_field, answer_field):
        if field not in row:
            raise ValueError(f"row {i} of {source} has no field {field!r} (fields: {sorted(row)}); "
                             "pass question_field= and answer_field= naming its columns")
    answer = str(row[answer_field])
    if "####" in answer:
        answer = answer.rsplit("####", 1)[1].strip()
    elif "\\boxed" in answer:
        answer = last_boxed(answer) or answer
    return Question(uid=f"{source}/{split}/{i}", question=str(row[question_field]), answer=answer.strip(),
                    source=source, difficulty=_level(row.get(difficulty_field)) if difficulty_field else None,
                    solution=str(row[solution_field]) if solution_field and solution_field in row else None)


def read_jsonl(path: str | Path) -> list[dict]:
    """Rows of a JSONL file (or a JSON list), with the line number in any parse error."""
    path = Path(path)
    if not path.exists():
        raise DatasetUnavailableError(f"data file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json" and text.lstrip().startswith("["):
        return list(json.loads(text))
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetUnavailableError(f"{path}:{n} is not valid JSON: {exc}") from exc
    return rows


def _hub_rows(name: str, hub: str, configs: Iterable[str | None], split: str) -> list[dict]:
    import datasets

    rows: list[dict] = []
    for config in configs:
        try:
            ds = datasets.load_dataset(hub, config, split=split)
        except Exception as exc:
            local = {"gsm8k": "../shared/data/gsm8k/train.jsonl",
                     "math500": "../shared/data/math/math500_test.jsonl"}.get(name, "path/to/file.jsonl")
            raise DatasetUnavailableError(
                f"could not load {hub!r}{f' ({config})' if config else ''} split {split!r} from the Hugging Face "
                f"hub: {type(exc).__name__}: {str(exc)[:200]}\n"
                f"If this machine is offline, point at a local JSONL file with the same rows instead, e.g.\n"
                f"  gym.make('MathReasoning-v0', dataset={name!r}, data_path={local!r})\n"
                f"  mathenv.load_questions({name!r}, data_path={local!r})\n"
                f"(set HF_HUB_OFFLINE=1 to fail fast instead of retrying the network)."
            ) from exc
        rows.extend(dict(r) for r in ds)
    return rows


def load_questions(
    dataset: str = "arithmetic",
    split: str = "train",
    *,
    data_path: str | Path | None = None,
    num_questions: int | None = None,
    seed: int = 0,
    levels: Iterable[int] | None = None,
    question_field: str | None = None,
    answer_field: str | None = None,
    difficulty_field: str | None = None,
    solution_field: str | None = None,
) -> list[Question]:
    """A pool of questions by dataset name, hub name, or JSONL path.

    - `arithmetic`: generated (`num_questions`, default 2000; `seed`; `levels` to restrict difficulty).
    - `gsm8k`, `math`, `math500`: from the hub, or from `data_path` (JSONL in the dataset's own format).
    - a `.jsonl`/`.json` path or any other hub name: rows mapped with `question_field` / `answer_field`.
    For non-generated data `num_questions` keeps the first n questions.
    """
    return list(_load(dataset, split, None if data_path is None else str(data_path), num_questions, seed,
                      None if levels is None else tuple(levels), question_field, answer_field, difficulty_field,
                      solution_field))


@lru_cache(maxsize=16)
def _load(dataset: str, split: str, data_path: str | None, num_questions: int | None, seed: int,
          levels: tuple[int, ...] | None, question_field: str | None, answer_field: str | None,
          difficulty_field: str | None, solution_field: str | None) -> tuple[Question, ...]:
    if dataset == "arithmetic":
        qs = arithmetic.generate(num_questions or 2_000, seed=seed, levels=levels or arithmetic.LEVELS,
                                 split=split)
        return tuple(qs)
    if dataset in HUB:
        hub, configs, splits = HUB[dataset]
        if split not in splits:
            raise ValueError(f"dataset {dataset!r} has splits {sorted(splits)}, not {split!r}")
        rows = read_jsonl(data_path) if data_path else _hub_rows(dataset, hub, configs, splits[split])
        if dataset == "gsm8k":
            qs = [_gsm8k_row(r, i, split) for i, r in enumerate(rows)]
        else:
            qs = [_math_row(r, i, split, dataset) for i, r in enumerate(rows)]
    else:
        is_file = dataset.endswith((".jsonl", ".json")) or Path(dataset).is_file()
        if question_field is None or answer_field is None:
            raise ValueError(
                f"dataset {dataset!r} is not one of {NAMES}; to load any JSONL file or hub dataset pass "
                "question_field= and answer_field= naming its columns")
        rows = read_jsonl(dataset) if is_file else _hub_rows(dataset, dataset, (None,), split)
        source = Path(dataset).stem if is_file else dataset
        qs = [_mapped_row(r, i, split, source, question_field, answer_field, difficulty_field, solution_field)
              for i, r in enumerate(rows)]
    if levels is not None:
        qs = [q for q in qs if q.difficulty in levels]
    if num_questions is not None:
        qs = qs[:num_questions]
    if not qs:
        raise DatasetUnavailableError(f"dataset {dataset!r} split {split!r} has no questions"
                                      + (f" at levels {levels}" if levels else ""))
    return tuple(qs)

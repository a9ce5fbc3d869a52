"""Question pools: the generated default, GSM8K, MATH, MATH-500, and any JSONL or hub dataset.

Every hub dataset loads by its Hugging Face name through `datasets.load_dataset`, or from a local file with
`data_path=` (the same rows as JSONL). When the hub cannot be reached the error says how to pass a file. A row
without a gold answer (null or empty) is skipped with a warning that counts such rows; a row missing a field
its loader needs stops the load with an error naming the file, the line and the fields it has.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from mathenv import arithmetic, digits
from mathenv.errors import UserError
from mathenv.questions import Question
from mathenv.verify.extract import last_boxed

# name -> (hub path, hub config or configs, {our split: hub split})
HUB = {
    "gsm8k": ("openai/gsm8k", ("main",), {"train": "train", "test": "test"}),
    "math": (
        "EleutherAI/hendrycks_math",
        (
            "algebra",
            "counting_and_probability",
            "geometry",
            "intermediate_algebra",
            "number_theory",
            "prealgebra",
            "precalculus",
        ),
        {"train": "train", "test": "test"},
    ),
    "math500": ("HuggingFaceH4/MATH-500", (None,), {"test": "test", "train": "test"}),
}
#: the generated datasets: name -> generator module (`generate(num_questions, seed, levels, split)`)
GENERATED = {"arithmetic": arithmetic, "digits": digits}
NAMES = (*GENERATED, *HUB)


class DatasetUnavailableError(UserError, RuntimeError):
    """A dataset could not be read from the hub or from the given path."""


class DatasetFormatError(UserError, ValueError):
    """Rows that do not fit their loader (a missing field); the message names the row and the fields found."""


#: the fields each built-in loader reads: (needed, at least one of)
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gsm8k": (("question", "answer"), ()),
    "math": (("problem",), ("answer", "solution")),
    "math500": (("problem",), ("answer", "solution")),
}

#: a row's location ("file.jsonl:12", "openai/gsm8k train row 3") and the row
Row = tuple[str, dict]


def _level(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    m = re.search(r"\d+", str(value))
    return int(m.group()) if m else None


def _missing_answer(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_fields(
    where: str, row: Mapping[str, Any], dataset: str, needed: Iterable[str], one_of: Iterable[str] = ()
) -> None:
    """Stop with the fields the loader needs, the ones this row has, and the loader that fits it."""
    missing = [f for f in needed if f not in row]
    one_of = tuple(one_of)
    if one_of and not any(f in row for f in one_of):
        missing.append(" or ".join(one_of))
    if not missing:
        return
    fits = [
        name
        for name, (need, alt) in FIELDS.items()
        if all(f in row for f in need) and (not alt or any(f in row for f in alt))
    ]
    if dataset in FIELDS:
        what = f"the {dataset} loader reads them"
        hint = (
            f"It looks like a {fits[0]} row: use dataset {fits[0]!r}."
            if fits
            else "For another format name its columns with --question-field / --answer-field "
            "(question_field= / answer_field=) under a dataset name of your own."
        )
    else:
        what, hint = "named by question_field / answer_field", "Name this file's columns instead."
    raise DatasetFormatError(
        f"{where}: no field {' and no '.join(map(repr, missing))} ({what}); this row has "
        f"{sorted(row)}. {hint}"
    )


def _gsm8k_row(where: str, row: Mapping[str, Any], i: int, split: str) -> Question | None:
    _check_fields(where, row, "gsm8k", *FIELDS["gsm8k"])
    if _missing_answer(row["answer"]):
        return None
    solution = str(row["answer"])
    if "####" not in solution:
        raise DatasetFormatError(
            f"{where}: a GSM8K 'answer' ends with a '#### <answer>' line; this one has "
            f"none ({solution[-60:]!r})"
        )
    answer = solution.rsplit("####", 1)[1].strip().replace(",", "")
    return Question(
        uid=f"gsm8k/{split}/{i}",
        question=str(row["question"]),
        answer=answer,
        source="gsm8k",
        difficulty=None,
        solution=solution,
    )


def _math_row(where: str, row: Mapping[str, Any], i: int, split: str, source: str) -> Question | None:
    _check_fields(where, row, source, *FIELDS[source])
    solution = row.get("solution")
    answer = row.get("answer")
    if _missing_answer(answer) and not _missing_answer(solution):
        answer = last_boxed(str(solution))
    if _missing_answer(answer):
        return None
    subject = row.get("subject") or row.get("type")
    return Question(
        uid=str(row.get("unique_id") or f"{source}/{split}/{i}"),
        question=str(row["problem"]),
        answer=str(answer).strip(),
        source=source,
        difficulty=_level(row.get("level")),
        solution=None if solution is None else str(solution),
        subject=subject,
    )


def _mapped_row(
    where: str,
    row: Mapping[str, Any],
    i: int,
    split: str,
    source: str,
    question_field: str,
    answer_field: str,
    difficulty_field: str | None,
    solution_field: str | None,
) -> Question | None:
    _check_fields(where, row, source, (question_field, answer_field))
    if _missing_answer(row[answer_field]):
        return None
    answer = str(row[answer_field])
    if "####" in answer:
        answer = answer.rsplit("####", 1)[1].strip()
    elif "\\boxed" in answer:
        answer = last_boxed(answer) or answer
    return Question(
        uid=f"{source}/{split}/{i}",
        question=str(row[question_field]),
        answer=answer.strip(),
        source=source,
        difficulty=_level(row.get(difficulty_field)) if difficulty_field else None,
        solution=str(row[solution_field]) if solution_field and solution_field in row else None,
    )


def _questions(rows: list[Row], convert: Callable[[str, dict, int], Question | None]) -> list[Question]:
    """Convert rows (uids keep the row index), skipping rows with no gold answer with one warning."""
    out, skipped = [], []
    for i, (where, row) in enumerate(rows):
        q = convert(where, row, i)
        if q is None:
            skipped.append(where)
        else:
            out.append(q)
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} of {len(rows)} rows with no gold answer (null or empty), the first "
            f"at {skipped[0]}",
            stacklevel=4,
        )
    return out


def _file_rows(path: str | Path) -> list[Row]:
    path = Path(path)
    if not path.exists():
        raise DatasetUnavailableError(f"data file {path} does not exist")
    data = path.read_bytes()
    if path.suffix == ".json" and data.lstrip().startswith(b"["):
        try:
            return [(f"{path} item {i}", dict(r)) for i, r in enumerate(json.loads(data.decode("utf-8")))]
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise DatasetUnavailableError(
                f"{path}:{line} is not UTF-8 text ({exc.reason}); re-save the file as UTF-8"
            ) from None
    rows = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DatasetUnavailableError(
                f"{path}:{n} is not UTF-8 text ({exc.reason} at byte {exc.start} of "
                f"the line); re-save the file as UTF-8"
            ) from None
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetUnavailableError(f"{path}:{n} is not valid JSON: {exc}") from exc
            if not isinstance(row, dict):
                raise DatasetFormatError(
                    f"{path}:{n} is a JSON {type(row).__name__}, not an object of fields"
                )
            rows.append((f"{path}:{n}", row))
    return rows


def _hub_rows(name: str, hub: str, configs: Iterable[str | None], split: str) -> list[Row]:
    import datasets

    rows: list[Row] = []
    for config in configs:
        try:
            ds = datasets.load_dataset(hub, config, split=split)
        except Exception as exc:
            local = {
                "gsm8k": "../shared/data/gsm8k/train.jsonl",
                "math500": "../shared/data/math/math500_test.jsonl",
            }.get(name, "path/to/file.jsonl")
            raise DatasetUnavailableError(
                f"could not load {hub!r}{f' ({config})' if config else ''} split {split!r} from the Hugging Face "
                f"hub ({type(exc).__name__}: {str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ''}). "
                f"Offline, pass a local JSONL file with the same rows, e.g. {local}: --data-path on the command "
                f"line (the held-out split: --eval-data-path; `integrations.verl.main prepare`: --train-path / "
                f"--test-path), data_path= in Python (gym.make('MathReasoning-v0', dataset={name!r}, "
                f"data_path=...) or mathenv.load_questions). HF_HUB_OFFLINE=1 fails fast instead of retrying."
            ) from exc
        where = f"{hub}{f' ({config})' if config else ''} {split} row"
        rows.extend((f"{where} {len(rows) + i}", dict(r)) for i, r in enumerate(ds))
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

    - `arithmetic`, `digits`: generated (`num_questions`, default 2000; `seed`; `levels` to restrict
      difficulty); `digits` has the splits `sft`, `train` and `test`.
    - `gsm8k`, `math`, `math500`: from the hub, or from `data_path` (JSONL in the dataset's own format).
    - a `.jsonl`/`.json` path or any other hub name: rows mapped with `question_field` / `answer_field`.
    For non-generated data `num_questions` keeps the first n questions.
    """
    return list(
        _load(
            dataset,
            split,
            None if data_path is None else str(data_path),
            num_questions,
            seed,
            None if levels is None else tuple(levels),
            question_field,
            answer_field,
            difficulty_field,
            solution_field,
        )
    )


@lru_cache(maxsize=16)
def _load(
    dataset: str,
    split: str,
    data_path: str | None,
    num_questions: int | None,
    seed: int,
    levels: tuple[int, ...] | None,
    question_field: str | None,
    answer_field: str | None,
    difficulty_field: str | None,
    solution_field: str | None,
) -> tuple[Question, ...]:
    if dataset in GENERATED:
        module = GENERATED[dataset]
        if split not in module.SPLITS:
            raise DatasetFormatError(f"dataset {dataset!r} has splits {module.SPLITS}, not {split!r}")
        qs = module.generate(num_questions or 2_000, seed=seed, levels=levels or module.LEVELS, split=split)
        return tuple(qs)
    if dataset in HUB:
        hub, configs, splits = HUB[dataset]
        if split not in splits:
            raise DatasetFormatError(f"dataset {dataset!r} has splits {sorted(splits)}, not {split!r}")
        rows = _file_rows(data_path) if data_path else _hub_rows(dataset, hub, configs, splits[split])
        if dataset == "gsm8k":
            qs = _questions(rows, lambda w, r, i: _gsm8k_row(w, r, i, split))
        else:
            qs = _questions(rows, lambda w, r, i: _math_row(w, r, i, split, dataset))
    else:
        is_file = dataset.endswith((".jsonl", ".json")) or Path(dataset).is_file()
        if question_field is None or answer_field is None:
            raise DatasetFormatError(
                f"dataset {dataset!r} is not one of {NAMES}; to load any JSONL file or hub dataset pass "
                "question_field= and answer_field= (--question-field / --answer-field) naming its columns"
            )
        path = data_path or (dataset if is_file else None)  # a named dataset of your own read from a file
        rows = _file_rows(path) if path else _hub_rows(dataset, dataset, (None,), split)
        source = Path(dataset).stem if is_file else dataset
        qs = _questions(
            rows,
            lambda w, r, i: _mapped_row(
                w, r, i, split, source, question_field, answer_field, difficulty_field, solution_field
            ),
        )
    if levels is not None:
        qs = [q for q in qs if q.difficulty in levels]
    if num_questions is not None:
        qs = qs[:num_questions]
    if not qs:
        raise DatasetUnavailableError(
            f"dataset {dataset!r} split {split!r} has no questions"
            + (f" at levels {levels}" if levels else "")
        )
    return tuple(qs)

"""`digits`: multi-digit arithmetic whose worked solutions go column by column, with carries and borrows.

The testbed's second task family (docs/results.md). A small model can learn it as a procedure rather than as a
table of answers: every solution is a short chain of one-column steps, each using one fact (a digit sum, a
digit difference, a one-digit product) that the `sft` split holds many times over, so a question never seen
needs nothing that was not taught. The difficulty knob is the number of columns and the operation:

    level:       1    2    3    4    5    6    7    8    9    10   11   12
    operation:   +    -    *1   +    -    *1   +    -    *1   +    -    *1
    digits:      2    2    3    3    3    4    4    4    5    5    5    6

`+` adds two numbers of that many digits, `-` subtracts a smaller one of that many digits (never negative),
`*1` multiplies a number of that many digits by one digit 2-9 (from three digits, so that every level has
thousands of texts and none is learnt as a table). A solution, for "What is 347 + 285?":

    7+5+0=12 2
    4+8+1=13 32
    3+2+1=6 632
    \\boxed{632}

Each line: the column's digits (ones first), the carry in, their result, then the answer's digits so far (the
new digit written in front of the last line's), so the final answer is a copy of the last line's. A
subtraction line borrows by writing the top digit plus ten ("13-8-1=4"); a product line adds the carry
("7*6+4=46"). Three splits by a hash of the question text alone (`split_of`): `sft` (the warm start learns
from it), `train` (the RL pool), `test` (held-out), so no text is in two of them at any size or seed.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable

from mathenv.questions import Question

#: level -> (operation, digits)
LEVEL_SPECS: dict[int, tuple[str, int]] = {
    3 * (digits - 2) + i + 1: (op, digits + (op == "*"))
    for digits in (2, 3, 4, 5)
    for i, op in enumerate("+-*")
}
LEVELS = tuple(sorted(LEVEL_SPECS))
SPLITS = ("sft", "train", "test")
#: shares of all texts per split, by a hash of the text (`split_of`); sft is the largest since the warm start
#: reads tens of thousands of questions and the fact coverage of held-out questions rests on it
SPLIT_SHARES = {"sft": 0.6, "train": 0.2, "test": 0.2}
#: redraws `generate(distinct=True)` makes before it accepts a text its level already gave
_DISTINCT_TRIES = 50
_STEP = re.compile(r"^(\d+)([+\-*])(\d)([+\-])(\d)=(\d+) (\d+)$")


def split_of(question: str) -> str:
    """The split a text belongs to, from a hash of the text alone (another salt than `arithmetic.split_of`)."""
    digest = hashlib.blake2b(question.encode(), digest_size=8, person=b"mathenv-digits").digest()
    u = int.from_bytes(digest, "big") % 10_000
    if u < SPLIT_SHARES["sft"] * 10_000:
        return "sft"
    return "train" if u < (SPLIT_SHARES["sft"] + SPLIT_SHARES["train"]) * 10_000 else "test"


def _operands(r: random.Random, op: str, digits: int) -> tuple[int, int]:
    low, high = 10 ** (digits - 1), 10**digits - 1
    if op == "*":
        return r.randint(low, high), r.randint(2, 9)
    a, b = r.randint(low, high), r.randint(low, high)
    return (max(a, b), min(a, b)) if op == "-" else (a, b)


def worked_solution(a: int, op: str, b: int) -> tuple[list[str], int]:
    """The column steps of `a op b` (ones first) and the result; `op` is "+", "-" or "*" (b one digit)."""
    if op not in "+-*" or (op == "*" and not 0 <= b <= 9) or (op == "-" and b > a) or min(a, b) < 0:
        raise ValueError(f"no column solution for {a} {op} {b}")
    top = str(a)[::-1]
    bottom = str(b)[::-1] if op != "*" else ""
    steps, written, carry = [], "", 0
    for k, digit in enumerate(top):
        x = int(digit)
        last = k == len(top) - 1
        if op == "+":
            y = int(bottom[k]) if k < len(bottom) else 0
            s = x + y + carry
            lhs, out, carry = f"{x}+{y}+{carry}", s, s // 10
            written = (str(s) if last else str(s % 10)) + written
        elif op == "-":
            y = int(bottom[k]) if k < len(bottom) else 0
            top_digit = x + 10 if x < y + carry else x
            s = top_digit - y - carry
            lhs, out, carry = f"{top_digit}-{y}-{carry}", s, int(top_digit > x)
            written = str(s) + written
        else:
            s = x * b + carry
            lhs, out, carry = f"{x}*{b}+{carry}", s, s // 10
            written = (str(s) if last else str(s % 10)) + written
        steps.append(f"{lhs}={out} {written}")
    result = int(written)
    expected = a + b if op == "+" else a - b if op == "-" else a * b
    assert result == expected, (a, op, b, result)
    return steps, result


def facts(solution: str) -> list[str]:
    """The one-column facts a worked solution uses ("4+8+1=13", "13-8-1=4", "7*6+4=46"), in order."""
    out = []
    for line in solution.splitlines():
        m = _STEP.match(line)
        if m:
            out.append(line.split(" ")[0])
    return out


def question_text(a: int, op: str, b: int) -> str:
    return f"What is {a} {op} {b}?"


def generate(
    num_questions: int = 2_000,
    seed: int = 0,
    levels: Iterable[int] = LEVELS,
    split: str = "train",
    distinct: bool = False,
) -> list[Question]:
    """`num_questions` questions cycling through `levels` (equal share each), the same for the same seed.

    Each level's generator draws until the text falls in `split` (`split_of`). Every level has thousands of
    texts or more (`level_sizes`: level 2, the smallest, 4,095), so within a pool of a few hundred per level a
    text rarely recurs. `distinct` redraws a text its level already gave (up to `_DISTINCT_TRIES` times, so a
    level whose split runs out repeats rather than loops): a warm start that reads most of a small level then
    sees each text once, as it sees the large levels' (docs/results.md section 6, the level-3 gap).
    """
    levels = tuple(levels)
    bad = [lv for lv in levels if lv not in LEVEL_SPECS]
    if bad or not levels:
        raise ValueError(f"digits levels must be chosen from {LEVELS[0]}..{LEVELS[-1]}, got {levels!r}")
    if num_questions < 1:
        raise ValueError(f"num_questions must be positive, got {num_questions}")
    if split not in SPLITS:
        raise ValueError(f"digits has splits {SPLITS}, not {split!r}")
    rng = random.Random(f"mathenv-digits/{split}/{seed}")
    out = []
    given: dict[int, set[str]] = {lv: set() for lv in levels}
    for i in range(num_questions):
        level = levels[i % len(levels)]
        op, digits = LEVEL_SPECS[level]
        for _ in range(_DISTINCT_TRIES if distinct else 1):
            while True:
                a, b = _operands(rng, op, digits)
                text = question_text(a, op, b)
                if split_of(text) == split:
                    break
            if text not in given[level]:
                break
        given[level].add(text)
        steps, result = worked_solution(a, op, b)
        out.append(
            Question(
                uid=f"digits/{split}/{seed}/{i}",
                question=text,
                answer=str(result),
                source="digits",
                difficulty=level,
                solution="\n".join(steps + [f"\\boxed{{{result}}}"]),
            )
        )
    return out


def level_sizes() -> dict[int, int]:
    """How many distinct question texts each level has (all splits together)."""
    out = {}
    for level, (op, d) in LEVEL_SPECS.items():
        n = 9 * 10 ** (d - 1)
        out[level] = n * 8 if op == "*" else n * n if op == "+" else n * (n + 1) // 2
    return out

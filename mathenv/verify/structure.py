"""Rules in front of and behind math-verify for answers whose structure it reads too loosely.

Each closes a way to score a wrong answer (issue 22), measured on other graders' unit tests:
- a time of day is no ratio: `20:34` is not `10:17`;
- a bare list of three or more numbers out of ascending order is a sequence: `10, 4, -2` is not
  `4, 10, -2` (hendrycks/math's own grader tests); a gold list in ascending order, or of two numbers, is
  read as a set of solutions, as math-verify and MATH's "enter all the solutions" read it (`1, -2` are the
  roots found in that order, and `-2, 1` is the same answer: Math-Verify's tests);
- relations compare as relations: math-verify compares `a = b` with `c = d` through `a - b` and `c - d`,
  so every true identity equals every other (`2+2=4` "equals" `2=2`), and through solution sets, so two
  equations with no real solution are equal (`x^2+1=0` "equals" `x^2+2=0`). `relation_veto` overrules
  those verdicts: an identity or truth value equals only the same statement, and an equation in unknowns
  equals another only through the same difference, a constant multiple of it, or a non-empty solution set.
"""

from __future__ import annotations

import re
from fractions import Fraction

from mathenv.verify.normalize import to_number

_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(am|pm|a\.m\.|p\.m\.)?$", re.A | re.I)


def time_of_day(normalized: str) -> tuple[int, int, int] | None:
    """(hours, minutes, seconds) on a 24-hour clock for a normalised answer shaped as a time (`20:34`,
    `8:05pm`), else None. Minutes need two digits, so ratios such as `3:4` or `12:5` are no times."""
    m = _TIME.match(normalized)
    if m is None:
        return None
    hours, minutes, seconds = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if hours > 24 or minutes > 59 or seconds > 59:
        return None
    if m.group(4) and m.group(4).lower().startswith("p") and hours < 12:
        hours += 12
    return hours, minutes, seconds


_BRACKETS = (("\\{", "\\}"), ("(", ")"), ("[", "]"))


def _numbers(normalized: str, bare_only: bool) -> list[Fraction] | None:
    """The elements of a comma list of plain numbers (in one pair of brackets unless `bare_only`)."""
    inner = normalized
    for left, right in _BRACKETS:
        if inner.startswith(left) and inner.endswith(right):
            if bare_only:
                return None
            inner = inner[len(left) : -len(right)]
            break
    parts = inner.split(",")
    if len(parts) < 2:
        return None
    values = [to_number(p) for p in parts]
    if any(v is None or v[1] for v in values):
        return None
    return [v[0] for v in values]


def ordered_numbers(answer: str, gold: str) -> str | None:
    """'correct'/'wrong' where the gold is a bare list of 3+ numbers out of ascending order (a sequence) and
    the answer a list of numbers: compared in order. None where this rule does not apply."""
    g = _numbers(gold, bare_only=True)
    if g is None or len(g) < 3 or g == sorted(g):
        return None
    p = _numbers(answer, bare_only=False)
    if p is None:
        return None
    return "correct" if p == g else "wrong"


def _first_expression(parsed: list):
    return next((x for x in parsed if not isinstance(x, str)), None)


def _equal(a, b) -> bool:
    from sympy import simplify

    try:
        return a == b or simplify(a - b) == 0
    except Exception:  # sides of a kind sympy cannot subtract (sets, matrices)
        return False


def _same_statement(gold, pred) -> bool:
    """The same relation between equal sides: `0.5 = 1/2` and `\\frac12 = 0.5`, `1 < 2` and `2 > 1`."""
    from sympy.core.relational import Eq

    if type(gold) is type(pred) and _equal(gold.lhs, pred.lhs) and _equal(gold.rhs, pred.rhs):
        return True
    flipped = isinstance(gold, Eq) and isinstance(pred, Eq) or gold.reversed.func is type(pred)
    return flipped and _equal(gold.lhs, pred.rhs) and _equal(gold.rhs, pred.lhs)


def relation_veto(gold_parsed: list, pred_parsed: list) -> bool:
    """True where math-verify judged two relations equal on grounds that do not make them the same answer
    (see the module docstring). Runs in the helper process, after math-verify's `verify` said yes."""
    from sympy import solve
    from sympy.core.relational import Relational
    from sympy.sets.sets import EmptySet

    gold, pred = _first_expression(gold_parsed), _first_expression(pred_parsed)
    if not (isinstance(gold, Relational) and isinstance(pred, Relational)):
        return False
    unknowns = gold.free_symbols
    if not unknowns:  # an identity or a truth value: only the same statement is that answer
        return not _same_statement(gold, pred)
    if not pred.free_symbols:  # a truth value is no answer to an equation in unknowns
        return True
    try:
        dg, dp = gold.lhs - gold.rhs, pred.lhs - pred.rhs
        if _equal(dg, dp) or _equal(dg, -dp):
            return False
        ratio = (dg / dp).simplify()
        if not ratio.free_symbols and ratio != 0:
            return False
        solutions = solve(gold, sorted(unknowns, key=str))
    except Exception:
        return False
    return (
        solutions in ([], False, {}) or solutions is EmptySet or getattr(solutions, "is_empty", False) is True
    )

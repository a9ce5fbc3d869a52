"""Cheap screening of an answer before math-verify sees it: answers built to run past the time bound.

math-verify (sympy) can spend seconds or hours on a short string: a power tower (`9^{9^{9^{9}}}`), a huge
or repeated factorial (`100000!`, `9!!!!!!`), a huge exponent, deep nesting, or a long sum of functions. A
policy that learns to emit such answers would stall every training step for the full time bound. These
checks are linear in the answer's length and run only where the exact fast path could not decide, so an
answer equal to the gold as a string (`10^{10^{10}}` against itself) still scores. Each limit sits far
above what a dataset's gold answers need, and is relative to the gold where a gold could need more.
"""

from __future__ import annotations

import math
import re

MAX_DEPTH = 12  # nesting of {}, (), [] beyond the gold's own
MAX_EXPONENT_DIGITS = 4  # a literal exponent of 10,000 or more (`99^{99999}`)
MAX_FACTORIAL = 1_000  # n! for n above this
MAX_RESULT_DIGITS = 10_000  # a tower of plain numbers whose value has more digits than this
LENGTH_FACTOR, LENGTH_FLOOR = 4, 300  # an answer longer than both 4x the gold and 300 characters

_FACTORIAL = re.compile(r"(\d+)\s*!", re.A)
_NESTED_FACTORIAL = re.compile(r"!\s*!\s*!|\)\s*!\s*!|!\s*\)\s*!", re.A)  # 9!!!, (n)!!, (9!)!
_EXPONENT_DIGITS = re.compile(r"(?:\^|\*\*)\s*\{?\s*\(?\s*\d{" + str(MAX_EXPONENT_DIGITS + 1) + ",}", re.A)
# a binomial coefficient of a power or a 5-digit number (`\binom{10^{9}}{5000}`)
_BINOMIAL = re.compile(
    r"\\[dt]?binom\s*\{[^{}]*(?:\^|\d{5})|\\[dt]?binom\s*\{[^{}]*\}\s*\{[^{}]*(?:\^|\d{5})", re.A
)
# a power whose exponent is itself a power of plain numbers: a^{b^{c}}, a^b^c, a**b**c
_TOWER = re.compile(
    r"(\d+(?:\.\d+)?)\s*\)?\s*(?:\^|\*\*)\s*[{(]?\s*(\d+(?:\.\d+)?)\s*(?:\^|\*\*)\s*[{(]?\s*(\d+(?:\.\d+)?)",
    re.A,
)


def depth(text: str) -> int:
    """Deepest nesting of brackets of any kind in `text`."""
    level = deepest = 0
    for ch in text:
        if ch in "{([":
            level += 1
            deepest = max(deepest, level)
        elif ch in "})]":
            level = max(level - 1, 0)
    return deepest


def _tower_digits(a: str, b: str, c: str) -> float:
    """log10 of a^(b^c), without computing it (inf where even the exponent is too big to hold)."""
    a_, b_, c_ = float(a), float(b), float(c)
    if a_ <= 1 or b_ <= 1:
        return 0.0
    log_exponent = c_ * math.log10(b_)  # log10(b^c)
    if log_exponent > 300:
        return math.inf
    return 10**log_exponent * math.log10(a_)


def too_costly(answer: str, gold: str) -> bool:
    """True where judging `answer` could run past any reasonable bound and the gold gives no reason to."""
    if len(answer) > max(LENGTH_FACTOR * len(gold), LENGTH_FLOOR):
        return True
    if depth(answer) > depth(gold) + MAX_DEPTH:
        return True
    if _EXPONENT_DIGITS.search(answer) and not _EXPONENT_DIGITS.search(gold):
        return True
    if _BINOMIAL.search(answer) and not _BINOMIAL.search(gold):
        return True
    if _NESTED_FACTORIAL.search(answer) and not _NESTED_FACTORIAL.search(gold):
        return True
    if any(int(m.group(1)[:8]) > MAX_FACTORIAL for m in _FACTORIAL.finditer(answer)):
        return True
    return any(_tower_digits(*m.groups()) > MAX_RESULT_DIGITS for m in _TOWER.finditer(answer))

"""Cheap, exact normalisation of answer strings, and exact numbers from them.

Most answers (every GSM8K one, most MATH ones) are decided here, in microseconds, before sympy is touched:
strings are normalised (spacing, `\\left`, `\\!`, `\\dfrac`, units, `$`, degrees, thousands separators,
trailing `.0`) and numbers are read as exact `Fraction`s, never floats.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

_REMOVE = re.compile(
    r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\displaystyle|(?<!\\)\\[,;:! ]|\\q?quad|~|\$|\\\$"
    r"|\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree|\\mathrm\{\s*o\s*\}",
    re.A,
)
_FRAC = re.compile(r"\\[dtc]frac", re.A)
_TEXT = re.compile(r"\\(?:text|textbf|textit|mbox|mathrm|mathbf|operatorname)\s*\{([^{}]*)\}", re.A)
_SPACES = re.compile(r"\s+", re.A)
_FRAC_SHORT = re.compile(r"\\frac(\d)(\d)", re.A)
_FRAC_SHORT2 = re.compile(r"\\frac\{([^{}]*)\}(\d)", re.A)
_FRAC_SHORT3 = re.compile(r"\\frac(\d)\{", re.A)
_SQRT_SHORT = re.compile(r"\\sqrt(\d)", re.A)
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$", re.A)
_LATEX_THOUSANDS = re.compile(r"(\d)\{,\}(\d)", re.A)
_TRAILING_ZEROS = re.compile(r"^(-?\d+)\.0+$", re.A)
_LHS = re.compile(r"^[a-zA-Z](?:_\{?\w+\}?)?\s*=(?!=)", re.A)
_UNIT_WORDS = re.compile(
    r"^(?P<num>[-+]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:\s*/\s*\d+)?|\\frac\{\d+\}\{\d+\})"
    r"\s+(?P<unit>[a-zA-Z]{2,}[a-zA-Z.\s]*(?:\^\{?\d\}?)?)$",
    re.A,
)
_CHOICE = re.compile(r"^\(?([A-Ea-e])\)?$", re.A)

NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$", re.A)
_FRACTION = re.compile(r"^([-+]?)\\frac\{([-+]?\d+(?:\.\d+)?)\}\{([-+]?\d+(?:\.\d+)?)\}$", re.A)
_SLASH = re.compile(r"^([-+]?\d+(?:\.\d+)?)/([-+]?\d+(?:\.\d+)?)$", re.A)
_MIXED = re.compile(r"^([-+]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$", re.A)

# words that are never a unit but do follow a number in an answer ("5 or 6")
_NOT_UNITS = {"or", "and", "to", "x", "i", "e"}


@lru_cache(maxsize=65_536)
def normalize(answer: str) -> str:
    """A canonical string for `answer`: equal strings here mean equal answers."""
    s = answer.strip()
    if s.startswith("\\(") and s.endswith("\\)") or s.startswith("\\[") and s.endswith("\\]"):
        s = s[2:-2]
    s = _REMOVE.sub("", s)
    s = _FRAC.sub(r"\\frac", s)
    s = s.replace("\\%", "%").replace("−", "-")
    s = _LATEX_THOUSANDS.sub(r"\1\2", s)
    for _ in range(3):  # nested \text{\textbf{..}} unwrap
        s2 = _TEXT.sub(r" \1 ", s)
        if s2 == s:
            break
        s = s2
    s = s.strip().rstrip(".").strip()
    if _LHS.match(s) and s.count("=") == 1:
        s = s.split("=", 1)[1]
    s = s.strip()
    m = _UNIT_WORDS.match(s)
    if m and m.group("unit").strip().lower() not in _NOT_UNITS:
        s = m.group("num")
    s = _SPACES.sub("", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_SHORT2.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_SHORT3.sub(r"\\frac{\1}{", s)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    m = _TRAILING_ZEROS.match(s)
    if m:
        s = m.group(1)
    m = _CHOICE.match(s)
    if m:
        s = m.group(1).upper()
    if s.startswith("+") and NUMBER.match(s):
        s = s[1:]
    return s


def _fraction(text: str) -> Fraction | None:
    if len(text) > 400:
        return None
    try:
        return Fraction(Decimal(text))
    except (InvalidOperation, ValueError):
        return None


@lru_cache(maxsize=65_536)
def to_number(s: str) -> tuple[Fraction, bool] | None:
    """An exact number from a normalised answer, and whether it was a percentage; None if not a number."""
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    if NUMBER.match(s):
        value = _fraction(s)
        return (value, percent) if value is not None else None
    m = _FRACTION.match(s) or _SLASH.match(s)
    if m:
        groups = m.groups()
        sign = -1 if len(groups) == 3 and groups[0] == "-" else 1
        num, den = (_fraction(groups[-2]), _fraction(groups[-1]))
        if num is None or den is None or den == 0:
            return None
        return (sign * num / den, percent)
    m = _MIXED.match(s)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        whole, num, den = int(m.group(2)), int(m.group(3)), int(m.group(4))
        if den == 0:
            return None
        return (sign * (whole + Fraction(num, den)), percent)
    return None


def numbers_equal(pred: tuple[Fraction, bool], gold: tuple[Fraction, bool]) -> bool:
    """Exact equality; a percentage matches its number or its value (50% ~ 50 ~ 0.5)."""
    (p, p_pct), (g, g_pct) = pred, gold
    if p == g:
        return True
    if g_pct and not p_pct:
        return p == g / 100
    if p_pct and not g_pct:
        return p / 100 == g
    return False

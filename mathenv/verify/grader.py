"""Decide whether a model's response states the gold answer: cheap checks first, sympy last.

Order of work for one (response, gold) pair:
1. extract the stated answer (`extract.py`); none -> `no_answer`;
2. normalised strings equal -> correct; both exact numbers -> compare as Fractions, done;
3. split structures (tuples, intervals, sets, `\\cup`, `\\pm`, matrices) and compare part by part;
4. parse each part to sympy with our bounded parser and compare symbolically, all of it under one hard
   time bound (`timeout`); an overrun gives `timeout`, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import sympy

from mathenv.verify.extract import MAX_ANSWER_CHARS, extract_answer, gold_answer
from mathenv.verify.latex import ParseError, parse
from mathenv.verify.normalize import normalize, numbers_equal, to_number
from mathenv.verify.timeout import CallTimeout, call_with_timeout

DEFAULT_TIMEOUT = 2.0
REASONS = ("correct", "wrong", "no_answer", "timeout", "unparsable")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The verifier's decision. `reason` is one of REASONS; `extracted` is the answer found (or None)."""

    correct: bool
    reason: str
    extracted: str | None

    @property
    def reward(self) -> float:
        return 1.0 if self.correct else 0.0


# -- structures ------------------------------------------------------------------------------------------
_OPEN = "([{"
_CLOSE = ")]}"
_MATRIX = re.compile(r"^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.S)


def _top_level_split(s: str, sep: str) -> list[str]:
    """Split at `sep` where no bracket is open (`\\{`, `\\}` count as brackets)."""
    parts, depth, start, i, n = [], 0, 0, 0, len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif depth == 0 and s.startswith(sep, i):
            parts.append(s[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(s[start:])
    return parts


def _encloses(s: str) -> tuple[str, str, str] | None:
    """(open, inner, close) if one bracket pair encloses all of `s`, else None."""
    if s.startswith("\\{") and s.endswith("\\}"):
        opener, closer, inner = "\\{", "\\}", s[2:-2]
    elif len(s) >= 2 and s[0] in _OPEN and s[-1] in _CLOSE:
        opener, closer, inner = s[0], s[-1], s[1:-1]
    else:
        return None
    depth = 0
    i = 0
    while i < len(inner):  # the pair must not close before the end: "(1)+(2)" is not enclosed
        c = inner[i]
        if c == "\\" and i + 1 < len(inner) and inner[i + 1] in "{}":
            depth += 1 if inner[i + 1] == "{" else -1
            i += 2
            if depth < 0:
                return None
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth < 0:
                return None
        i += 1
    return opener, inner, closer


@dataclass(frozen=True, slots=True)
class _Seq:
    opener: str  # "", "(", "[", "\\{", "cup", "pm"
    closer: str
    items: tuple


def _structure(s: str, depth: int = 0) -> _Seq | str:
    """An answer string as nested sequences (tuples, intervals, sets, matrices) of atom strings."""
    if depth > 8:
        raise ParseError("answer nested too deeply")
    m = _MATRIX.match(s)
    if m:
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
        cells = tuple(_Seq("(", ")", tuple(c.strip() for c in row.split("&"))) for row in rows)
        return _Seq("matrix", "", cells)
    cup = _top_level_split(s, "\\cup")
    if len(cup) > 1:
        return _Seq("cup", "", tuple(_structure(p, depth + 1) for p in cup))
    enclosed = _encloses(s)
    if enclosed is not None:
        opener, inner, closer = enclosed
        parts = _top_level_split(inner, ",")
        if len(parts) > 1 or opener == "\\{":
            return _Seq(opener, closer, tuple(_structure(p, depth + 1) for p in parts))
        if opener in "([" and closer in ")]" and (opener, closer) != ("(", ")"):
            return _Seq(opener, closer, (_structure(inner, depth + 1),))
        return s
    parts = _top_level_split(s, ",")
    if len(parts) > 1:
        return _Seq("", "", tuple(_structure(p, depth + 1) for p in parts))
    if s.count("\\pm") == 1:
        a, b = s.split("\\pm")
        a = a or "0"
        return _Seq("pm", "", (f"{a}+{b}", f"{a}-({b})"))
    return s


_UNORDERED = {"\\{", "", "cup", "pm"}


def _match_unordered(preds: tuple, golds: tuple) -> bool:
    remaining = list(golds)
    for p in preds:
        for j, g in enumerate(remaining):
            if _struct_equal(p, g):
                del remaining[j]
                break
        else:
            return False
    return not remaining


def _struct_equal(pred: _Seq | str, gold: _Seq | str) -> bool:
    if isinstance(pred, str) and isinstance(gold, str):
        return _atom_equal(pred, gold)
    if isinstance(pred, str) or isinstance(gold, str):
        return False
    if len(pred.items) != len(gold.items):
        return False
    if pred.opener in _UNORDERED and gold.opener in _UNORDERED:
        return _match_unordered(pred.items, gold.items)
    if gold.opener == "" or pred.opener == "":  # "1, 2" against "(1, 2)": order matters, brackets implied
        return all(_struct_equal(p, g) for p, g in zip(pred.items, gold.items, strict=True))
    if (pred.opener, pred.closer) != (gold.opener, gold.closer):
        return False
    return all(_struct_equal(p, g) for p, g in zip(pred.items, gold.items, strict=True))


# -- atoms -----------------------------------------------------------------------------------------------
def _atom_equal(pred: str, gold: str) -> bool:
    if pred == gold:
        return True
    pn, gn = to_number(pred), to_number(gold)
    if pn is not None and gn is not None:
        return numbers_equal(pn, gn)
    if pred.lower() == gold.lower() and pred.isalpha():
        return True
    if "=" in pred or "=" in gold:
        return _equation_equal(pred, gold)
    return _sympy_equal(_parse_answer(pred), _parse_answer(gold))


def _equation_equal(pred: str, gold: str) -> bool:
    """Equations are equal if their sides match (either way round) or they differ by a constant factor."""
    ps, gs = pred.split("="), gold.split("=")
    if len(ps) != 2 or len(gs) != 2:
        return False
    if _atom_equal(ps[0], gs[0]) and _atom_equal(ps[1], gs[1]):
        return True
    if _atom_equal(ps[0], gs[1]) and _atom_equal(ps[1], gs[0]):
        return True
    lhs_p = _parse_answer(ps[0]) - _parse_answer(ps[1])
    lhs_g = _parse_answer(gs[0]) - _parse_answer(gs[1])
    ratios = [v for v in (_value_at(lhs_p / lhs_g, point) for point in _points(lhs_p - lhs_g)) if v is not None]
    return bool(ratios) and all(abs(r - ratios[0]) < 1e-12 * (1 + abs(ratios[0])) for r in ratios) and ratios[0] != 0


def _parse_answer(s: str) -> sympy.Expr:
    if s.endswith("%"):
        return parse(s[:-1]) / 100
    return parse(s)


_PROBES = (sympy.Rational(7, 10), sympy.Rational(13, 7), sympy.Rational(-5, 3))


def _points(expr: sympy.Expr) -> list[dict]:
    """Exact points at which to evaluate `expr` (one empty point for a number)."""
    symbols = sorted(expr.free_symbols, key=str)
    if not symbols:
        return [{}]
    return [{s: probe + i for i, s in enumerate(symbols)} for probe in _PROBES]


def _value_at(expr: sympy.Expr, point: dict, digits: int = 30) -> complex | None:
    """`expr` at `point` as a complex number, or None where it is undefined there."""
    try:
        value = complex(sympy.N(expr.subs(point) if point else expr, digits))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if value != value or abs(value) == float("inf"):
        return None
    return value


def _sympy_equal(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Exact structural equality, else agreement in value: at 60 digits for numbers, and at three exact
    points (30 digits) for expressions with variables. Evaluating is bounded; `simplify` is not, so it is
    used only when every probe point is undefined."""
    if a == b:
        return True
    if a.has(sympy.oo, sympy.zoo) or b.has(sympy.oo, sympy.zoo):
        return sympy.simplify(a - b) == 0 if a.is_finite is None and b.is_finite is None else False
    diff = a - b
    points = _points(diff)
    if points == [{}]:
        d, scale = _value_at(diff, {}, 60), _value_at(b, {}, 60)
        if d is None or scale is None:
            return sympy.simplify(diff) == 0
        return abs(d) <= 1e-40 * (1 + abs(scale))
    seen = 0
    for point in points:
        d, scale = _value_at(diff, point), _value_at(b, point)
        if d is None or scale is None:
            continue
        seen += 1
        if abs(d) > 1e-20 * (1 + abs(scale)):
            return False
    if seen:
        return True
    return sympy.simplify(diff) == 0


def _compare(extracted: str, gold: str) -> str:
    """'correct', 'wrong' or 'unparsable' for an extracted answer against a gold answer (no time bound)."""
    cheap = _cheap(extracted, gold)
    if cheap is not None:
        return cheap
    p, g = normalize(extracted), normalize(gold)
    if p.lower() == g.lower() and p.replace(" ", "").isalpha():
        return "correct"
    try:
        return "correct" if _struct_equal(_structure(p), _structure(g)) else "wrong"
    except ParseError:
        # if the gold itself is no expression (a name, a word), a mismatch is a plain wrong answer
        try:
            _struct_parse_all(g)
        except ParseError:
            return "wrong"
        return "unparsable"
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, RecursionError, OverflowError):
        return "unparsable"


def _struct_parse_all(s: str) -> None:
    st = _structure(s)
    stack = [st]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            if "=" in x:
                for side in x.split("="):
                    _parse_answer(side)
            else:
                _parse_answer(x)
        else:
            stack.extend(x.items)


@lru_cache(maxsize=131_072)
def _compare_cached(extracted: str, gold: str, timeout: float) -> str:
    try:
        return call_with_timeout(_compare, (extracted, gold), timeout)
    except CallTimeout:
        return "timeout"
    except Exception:  # a bug in sympy or in us must never escape into a training loop
        return "unparsable"


def _cheap(extracted: str, gold: str) -> str | None:
    """The decision when it needs no sympy and no timer, else None."""
    p, g = normalize(extracted), normalize(gold)
    if p == g:
        return "correct"
    pn, gn = to_number(p), to_number(g)
    if pn is not None and gn is not None:
        return "correct" if numbers_equal(pn, gn) else "wrong"
    return None


def clear_caches() -> None:
    """Forget every memoised parse and comparison (benchmarks use it to time cold scoring)."""
    from mathenv.verify.latex import parse as _parse
    from mathenv.verify.normalize import normalize as _normalize
    from mathenv.verify.normalize import to_number as _to_number

    for fn in (_compare_cached, _parse, _normalize, _to_number):
        fn.cache_clear()


def score(response: str, gold: str, *, last_number: bool = True, timeout: float = DEFAULT_TIMEOUT) -> Verdict:
    """Score a model's whole output against a dataset's gold answer. Never raises for string inputs.

    `last_number=False` rewards only answers stated explicitly (boxed, `####`, "the answer is").
    `timeout` bounds the seconds spent on one call's symbolic stage (the rest is linear in input size).
    """
    try:
        if not isinstance(response, str):
            return Verdict(False, "no_answer", None)
        extracted = extract_answer(response, last_number=last_number)
        if extracted is None:
            return Verdict(False, "no_answer", None)
        g = gold_answer(gold)
        if len(g) > MAX_ANSWER_CHARS:
            return Verdict(False, "unparsable", extracted)
        reason = _cheap(extracted, g)
        if reason is None:
            reason = _compare_cached(extracted, g, float(timeout))
        return Verdict(reason == "correct", reason, extracted)
    except Exception:
        return Verdict(False, "unparsable", None)


def _score_chunk(args: tuple[list[str], list[str], bool, float]) -> list[Verdict]:
    responses, golds, last_number, timeout = args
    return [score(r, g, last_number=last_number, timeout=timeout) for r, g in zip(responses, golds, strict=True)]


_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0


def _pool(processes: int) -> ProcessPoolExecutor:
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE != processes:
        if _POOL is not None:
            _POOL.shutdown(cancel_futures=True)
        import multiprocessing as mp

        _POOL = ProcessPoolExecutor(processes, mp_context=mp.get_context("spawn"))
        _POOL_SIZE = processes
    return _POOL


def score_batch(
    responses: Sequence[str],
    golds: Sequence[str],
    *,
    last_number: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    processes: int = 1,
) -> list[Verdict]:
    """Score many (response, gold) pairs in one call, in order.

    One process by default: the cheap path and the caches score tens of thousands of pairs a second,
    and a worker pool costs seconds to start. `processes=k` spreads large batches over k worker
    processes (kept alive between calls); it pays off for big batches of sympy-heavy (MATH) answers.
    """
    if len(responses) != len(golds):
        raise ValueError(f"score_batch got {len(responses)} responses but {len(golds)} gold answers; "
                         "pass one gold answer per response")
    n = len(responses)
    if processes <= 1 or n < 2 * processes:
        return _score_chunk((list(responses), list(golds), last_number, timeout))
    size = -(-n // (processes * 4))
    chunks = [
        (list(responses[i : i + size]), list(golds[i : i + size]), last_number, timeout)
        for i in range(0, n, size)
    ]
    out: list[Verdict] = []
    for part in _pool(processes).map(_score_chunk, chunks):
        out.extend(part)
    return out

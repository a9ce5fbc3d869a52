"""Decide whether a model's response states the gold answer: our exact fast path first, math-verify after.

Order of work for one (response, gold) pair:
1. digits of every script become ASCII; the stated answer is extracted (`extract.py`) and the gold field is
   reduced to its answer; no answer -> `no_answer`. The last-number fallback is used only where the gold
   is a plain number (GSM8K style): for a MATH answer a stray number is no answer;
2. where the gold is a number in final form, the answer must state one (`numbers_only`, on by default: not
   `83 + 64` for 147, not `\\frac{6}{12}` for 1/2, not `007` for 7), else `wrong`; where the gold is a fraction
   left unreduced (`\\frac{2}{4}`), only that form scores;
3. digit groups become numbers (`2,500\\pi`, `normalize.py`), then the fast path, exact and certain: equal normalised
   strings -> `correct`; a time of day, an unsorted sequence of numbers, two plain numbers (as `Fraction`s,
   never floats) -> `correct` or `wrong` (`structure.py`);
4. an answer built to run long (towers, huge factorials, deep nesting, far longer than the gold) is
   screened out as `timeout` without being judged (`screen.py`);
5. everything else is judged by math-verify (`parse` of each side as maths, then `verify`), the library
   TRL, open-r1 and lighteval use, in a helper process under a budget of its CPU time (`timeout.py`): an
   overrun gives `timeout`, never a hang or an exception; a "yes" between two relations is checked by
   `structure.relation_veto` (identities and empty solution sets). Verdicts are cached by (answer, gold).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from mathenv.verify.extract import (
    MAX_ANSWER_CHARS,
    MAX_RESPONSE_CHARS,
    extract_answer,
    gold_answer,
)
from mathenv.verify.normalize import (
    ascii_digits,
    base_numeral,
    final_value,
    is_final_number,
    join_digit_groups,
    near_decimal,
    normalize,
    numbers_equal,
    rounds_to,
    stated_fraction,
    stated_numbers,
    to_number,
    unpadded,
    unreduced_fraction,
)
from mathenv.verify.screen import too_costly
from mathenv.verify.structure import ordered_numbers, relation_veto, time_of_day
from mathenv.verify.timeout import CallTimeout, call_with_timeout, start_helper

#: seconds of CPU time math-verify may spend on one answer (its helper process's own CPU time, so the verdict is
#: the same on an idle and a loaded machine): a training step scores hundreds of answers and cannot give one
#: math-verify's own 5 s; its slowest comparisons of legitimate answers in the bench sets (tuples, sets,
#: equations) take up to 0.35 s of CPU, and cheap screening (`screen.py`) keeps answers built to run long away
DEFAULT_TIMEOUT = 1.5
REASONS = ("correct", "wrong", "no_answer", "timeout", "unparsable")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The verifier's decision. `reason` is one of REASONS; `extracted` is the answer found (or None)."""

    correct: bool
    reason: str
    extracted: str | None

    def __bool__(self) -> bool:
        # `if score(pred, gold):` and `sum(map(bool, verdicts))` must mean "correct": a dataclass is
        # otherwise always true, which silently counts every wrong answer as right
        return self.correct


def _fast(answer: str, gold: str) -> str | None:
    """'correct' or 'wrong' where that is certain without math-verify (equal normalised strings; two plain
    numbers; two numerals with their bases), else None."""
    p, g = normalize(answer), normalize(gold)
    if p == g:
        return "correct"
    gt = time_of_day(g)
    if gt is not None:  # a time of day is no ratio: 10:17 is not 20:34
        return "correct" if time_of_day(p) == gt else "wrong"
    ordered = ordered_numbers(p, g)
    if ordered is not None:
        return ordered
    pn, gn = to_number(p), to_number(g)
    if pn is not None and gn is not None:
        return "correct" if numbers_equal(pn, gn) or rounds_to(p, gn) or near_decimal(p, g) else "wrong"
    pb, gb = base_numeral(p), base_numeral(g)
    if pb is not None and gb is not None:
        return "correct" if pb == gb else "wrong"
    return None


_CHOICES = (
    "A",
    "B",
    "C",
    "D",
    "E",
)  # a gold answer that is an option letter: the response may name it in words


_DOLLAR = re.compile(r"(?<!\\)\$")
# plain-text maths ("3/4*pi", "sin(x)", "x**2"): names LaTeX writes as commands, and Python's power
# (math-verify reads "sqrt(2)" itself)
_PLAIN_NAMES = re.compile(
    r"(?<![A-Za-z])(pi|sin|cos|tan|cot|sec|csc|arcsin|arccos|arctan|ln|log|exp|infty"
    r"|alpha|beta|gamma|delta|theta|lambda|mu|sigma|phi|omega)(?![A-Za-z])",
    re.A,
)


def _as_latex(answer: str) -> str:
    """An answer as one LaTeX maths span for math-verify: stray `$` and newlines out, and plain-text
    maths (no backslash anywhere) given LaTeX's names."""
    answer = _DOLLAR.sub("", answer).replace("\n", " ")
    if "\\" not in answer:
        answer = _PLAIN_NAMES.sub(r"\\\1 ", answer).replace("**", "^")
    return f"${answer}$"


# one or two bare letters ending an answer (a plural `s` too), after a number, a bracket, a space or an
# operator (`a+2c`, `2ab`, `\\pi r h`, `5t^2`, `2\\mathit{c}`): math-verify's unit removal would drop them as units
# (c, d, g, h, l, m, s, t, ab, bc, hrs, ...); a unit in `\\text{}` after them is cut first (`5t^2 \\text{ m}`)
_TRAILING_LETTERS = re.compile(
    r"(?:^|[\d\s}()+\-*/^=!~,])(?:[A-Za-z]{1,2}(?:e?s)?|\\(?:mathit|mathbf|boldsymbol)\{[A-Za-z]{1,2}\})'*"
    r"(?:\^\{?\d+\}?)?\s*(?:\\displaystyle\s*)?$",
    re.A,
)
_TRAILING_UNIT = re.compile(r"\s*\\(?:text|mbox|mathrm)\s*\{[^{}]*\}(?:\^\{?\d+\}?)?\s*$", re.A)


def _read_side(text: str, numeric_gold: bool) -> list:
    """math-verify's reading of one side; where the gold is no plain number and the side ends in bare letters,
    a unit in `\\text{}` is cut and the rest read with unit removal off, so the letters stay variables."""
    if not numeric_gold:
        body = _TRAILING_UNIT.sub("", _DOLLAR.sub("", text).strip())
        if body and _TRAILING_LETTERS.search(body):
            return _parsed(body, False)
    return _parsed(text, True)


# what math-verify's plain-expression reader (`ExprExtractionConfig`) reads whole: digits, decimal points and
# arithmetic; out of anything else (a percent sign included: `2/4 + 5%` is read as 5%) it reads a fragment
_PLAIN_ARITHMETIC = re.compile(r"[\d.\s+\-*/^()×÷]+", re.A)


@lru_cache(maxsize=4_096)
def _parsed(answer: str, units: bool = True) -> list:
    """math-verify's reading of one answer as maths (its own time limit off: ours is around it); `units=False`
    keeps a trailing word that its unit removal would drop (`2c` stays 2c, not 2). Its LaTeX reader first; its
    plain-expression reader only where that reads the whole answer: on what LaTeX cannot read it finds a
    number inside (`\\frac{2}{4} + 5\\%` read as 5, `5\\%, 10\\%` as 10), and two answers sharing that
    fragment were equal."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse
    from math_verify.parser import NormalizationConfig

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # no warning that its own timeout is off
    latex = LatexExtractionConfig()
    if not units:
        kept = NormalizationConfig(
            basic_latex=True, units=False, malformed_operators=True, nits=True, boxed="all", equations=False
        )
        latex = LatexExtractionConfig(normalization_config=kept)
    text = _as_latex(answer)
    found = parse(text, extraction_config=[latex], parsing_timeout=None)
    if any(not isinstance(x, str) for x in found) or not _PLAIN_ARITHMETIC.fullmatch(text.strip("$")):
        return found
    return parse(text, extraction_config=[ExprExtractionConfig()], parsing_timeout=None) or found


def judge(answer: str, gold: str) -> str:
    """math-verify's verdict on an extracted answer against a gold answer: 'correct', 'wrong', or
    'unparsable' where it read no maths in the answer. Unbounded: call it through `call_with_timeout`
    (it runs in the helper process). Where the gold is no plain number, bare trailing letters are variables on
    either side (`_read_side`: math-verify's unit removal made `a+2c` equal `a+2`, `2t` equal `2s`); a unit in
    `\\text{cm}` is still removed, and against a number gold `12 m` still reads as 12."""
    from math_verify import verify

    numeric_gold = to_number(normalize(gold)) is not None
    pred = _read_side(answer, numeric_gold)
    gold_parsed = _read_side(gold, numeric_gold)
    if pred and verify(gold_parsed, pred, timeout_seconds=None):
        return "wrong" if relation_veto(gold_parsed, pred) else "correct"
    return "wrong" if any(not isinstance(p, str) for p in pred) else "unparsable"


#: what each helper process runs before it counts as ready: the imports and math-verify's first-use costs (its
#: LaTeX grammar, sympy's caches: a second or more), so a fresh helper answers its first call as fast as later ones
_WARMUP = (judge, ("\\frac{\\sqrt{2}}{2} \\leq x", "x \\geq \\frac{1}{\\sqrt{2}}"))


@lru_cache(maxsize=131_072)
def _judged(answer: str, gold: str, timeout: float) -> str:
    """`judge` under its CPU-time budget; a timeout raises and so is never cached."""
    return call_with_timeout(judge, (answer, gold), timeout, _WARMUP)


def warm_up(wait: bool = True) -> None:
    """Start the verifier's helper process now, so that the first answer math-verify must judge does not wait
    for its start (imports and math-verify's first-use costs: one to several seconds, more under load; never
    counted against an answer's budget). `wait=False` returns at once and lets the helper start in the
    background, as the env does at construction; `wait=True` also starts its warm spare and returns once both are
    ready. Costs nothing where they already run."""
    start_helper(_WARMUP, wait)


def _clear_helper_caches() -> None:
    _parsed.cache_clear()


def clear_caches() -> None:
    """Forget every memoised verdict and parse, here and in the helper (benchmarks time cold scoring)."""
    for fn in (_judged, normalize, to_number, _parsed):
        fn.cache_clear()
    call_with_timeout(_clear_helper_caches, (), 60.0, _WARMUP)


def _unread_reason(answer: str) -> str:
    """The reason for an answer that states no number in final form: `wrong`, or `unparsable` where nothing is
    left to read (`@@`, an empty `\\boxed{}`) or its brackets do not close (`(5`), as math-verify would say."""
    if not any(ch.isalnum() for ch in normalize(answer).replace("\\boxed", "")):
        return "unparsable"
    depth = 0
    for ch in answer:
        depth += (ch in "([{") - (ch in ")]}")
        if depth < 0:
            return "unparsable"
    return "wrong" if depth == 0 else "unparsable"


def _read_gold(gold: str) -> tuple[str, tuple | None, bool, bool, tuple[int, int] | None]:
    """A gold field's answer, its value where it is a plain number (else None), whether that number is
    written in final form once zeros padding it are dropped (AIME's `033` is 33), whether it was padded, and
    the terms of a fraction the gold leaves unreduced (else None)."""
    g = gold_answer(ascii_digits(str(gold)[-MAX_RESPONSE_CHARS:]))
    if len(g) > MAX_ANSWER_CHARS:
        return g, None, False, False, None
    n = normalize(g)
    value, bare = to_number(n), unpadded(n)
    final = value is not None and is_final_number(bare)
    return g, value, final, bare != n, unreduced_fraction(n) if value is not None and not final else None


def score(
    response: str,
    gold: str,
    *,
    last_number: bool = True,
    numbers_only: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Verdict:
    """Score a model's whole output against a dataset's gold answer. Never raises for string inputs.

    `last_number=False` rewards only answers stated explicitly (boxed, `####`, "the answer is", maths
    in `$...$`); with True the last number counts too, but only where the gold is a plain number.
    `numbers_only=True` (the default): where the gold is a number in final form (`147`, `0.5`, `\\frac{1}{2}`,
    `12%`), so must the value the answer states be (`x = 147` and `147 \\text{ cm}` state 147); an expression
    equal to it (`83 + 64`, `2^{10}`, `\\dbinom{16}{5}`) or an unreduced fraction (`\\frac{6}{12}`) is `wrong`,
    so a policy cannot score by restating a "compute" question or leaving the computation undone; zeros padding
    the answer (`007`) are no final form. A gold fraction left unreduced (`\\frac{2}{4}`) asks for that form:
    only the same numerator and denominator score.
    `numbers_only=False` is math-verify's convention: any expression of equal value counts. Where the gold is
    no number, equality is mathematical either way.
    `timeout` bounds the CPU seconds math-verify may spend judging the answer, counted in its helper process, so
    the verdict does not depend on the machine's load (the rest is linear in input size, in the caller).
    """
    try:
        if not isinstance(response, str):
            return Verdict(False, "no_answer", None)
        g, gold_value, final_gold, padded_gold, gold_terms = _read_gold(gold)
        numeric_gold = gold_value is not None
        response = ascii_digits(response[-MAX_RESPONSE_CHARS:])
        choice = len(g) <= 40 and (letter := normalize(g)) in _CHOICES and letter in g
        extracted = extract_answer(response, last_number and numeric_gold, choices=choice)
        if extracted is None:
            return Verdict(False, "no_answer", None)
        if len(g) > MAX_ANSWER_CHARS:
            return Verdict(False, "unparsable", extracted)
        if numbers_only and final_gold:
            text = normalize(join_digit_groups(extracted))
            stated = stated_numbers(unpadded(text) if padded_gold else text)  # `5` and `005` for a gold `005`
            if stated is None:  # the computation or the reduction left undone (`83+64`, `x/x`): never correct
                return Verdict(False, _unread_reason(extracted), extracted)
            if (
                stated is not True and len(stated) == 1
            ):  # one number, at most a unit word: decided here, exactly
                n, value = (
                    stated[0],
                    final_value(stated[0]),
                )  # None past the exact bounds (400 digits, 10^400)
                same = (
                    (value is not None and numbers_equal(value, gold_value))
                    or rounds_to(n, gold_value)
                    or near_decimal(n, normalize(g))
                )
                return Verdict(same, "correct" if same else "wrong", extracted)
        if numbers_only and gold_terms is not None:  # `\\frac{2}{4}`: the form asked for, so only it scores
            if stated_fraction(normalize(join_digit_groups(extracted))) == gold_terms:
                return Verdict(True, "correct", extracted)
            return Verdict(False, _unread_reason(extracted), extracted)
        answer, g = join_digit_groups(extracted), join_digit_groups(g)
        reason = _fast(answer, g)
        if reason is None and too_costly(answer, g):
            reason = "timeout"  # screened: built to run past the bound, so not worth judging
        if reason is None:
            try:
                reason = _judged(answer, g, float(timeout))
            except CallTimeout:
                reason = "timeout"
        return Verdict(reason == "correct", reason, extracted)
    except Exception:  # a bug in math-verify, sympy or us must never escape into a training loop
        return Verdict(False, "unparsable", None)


def _score_chunk(args: tuple[list[str], list[str], bool, bool, float]) -> list[Verdict]:
    responses, golds, last_number, numbers_only, timeout = args
    return [
        score(r, g, last_number=last_number, numbers_only=numbers_only, timeout=timeout)
        for r, g in zip(responses, golds, strict=True)
    ]


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
    numbers_only: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    processes: int = 1,
) -> list[Verdict]:
    """Score many (response, gold) pairs in one call, in order.

    One process by default: the fast path and the caches score tens of thousands of pairs a second, and
    a worker pool costs seconds to start. `processes=k` spreads large batches over k worker processes
    (kept alive between calls; started with `spawn`, so a script using it needs a `__main__` guard); it
    pays off for big batches of MATH answers that go to math-verify.
    """
    if len(responses) != len(golds):
        raise ValueError(
            f"score_batch got {len(responses)} responses but {len(golds)} gold answers; "
            "pass one gold answer per response"
        )
    n = len(responses)
    if processes <= 1 or n < 2 * processes:
        return _score_chunk((list(responses), list(golds), last_number, numbers_only, timeout))
    size = -(-n // (processes * 4))
    chunks = [
        (list(responses[i : i + size]), list(golds[i : i + size]), last_number, numbers_only, timeout)
        for i in range(0, n, size)
    ]
    out: list[Verdict] = []
    for part in _pool(processes).map(_score_chunk, chunks):
        out.extend(part)
    return out

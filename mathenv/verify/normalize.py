"""Cheap, exact normalisation of answer strings, and exact numbers from them: the verifier's fast path.

Most answers (every GSM8K one, many MATH ones) are decided here, in microseconds, before math-verify is
asked: strings are normalised (spacing, `\\left`, `\\!`, `\\dfrac`, units, `$`, degrees, thousands
separators, decimal commas, trailing `.0`) and numbers are read as exact `Fraction`s, never floats.
Digit groups are numbers inside an expression too (`join_digit_groups`: `2,500\\pi` is 2500 pi, not a set
{2, 500 pi}, which a policy could otherwise answer with `2, 500\\pi`).
Digits of every script (full-width `４２`, Arabic-Indic `٤٢`) become ASCII first, in `ascii_digits`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

_REMOVE = re.compile(
    r"\\left(?![a-zA-Z])|\\right(?![a-zA-Z])|\\displaystyle|(?<!\\)\\[,;:! ]\s*|\\q?quad|~|\$|\\\$"
    r"|\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree|\\mathrm\{\s*o\s*\}|\\textdollar",
    re.A,
)
_FRAC = re.compile(r"\\[dtc]frac", re.A)
# a text or font command around its argument: the command goes, the argument stays (`\\text{cm}` is `cm`)
_FONT_WRAPPER = re.compile(
    r"\\(?:text|textbf|textit|textnormal|textrm|textup|mbox|mathrm|mathbf|operatorname)\s*\{([^{}]*)\}", re.A
)
_SPACES = re.compile(r"\s+", re.A)
_FRAC_SHORT = re.compile(r"\\frac(\d)(\d)", re.A)
_FRAC_SHORT2 = re.compile(r"\\frac\{([^{}]*)\}(\d)", re.A)
_FRAC_SHORT3 = re.compile(r"\\frac(\d)\{", re.A)
_SQRT_SHORT = re.compile(r"\\sqrt(\d)", re.A)
_NEGATIVE_EXPONENT = re.compile(r"\^-(\d+)", re.A)  # 10^-2 is 10^{-2}
_THOUSANDS = re.compile(r"^-?[1-9]\d{0,2}([, ])\d{3}(?:\1\d{3})*(?:\.\d+)?$", re.A)
_DECIMAL_COMMA = re.compile(r"^(-?\d+),(\d+)$", re.A)
_DIGIT_GROUPS = re.compile(r"(?<![\d.,])[1-9]\d{0,2}(?:,\d{3})+(?![\d,])", re.A)
_LATEX_THOUSANDS = re.compile(r"(\d)\s*\{\s*,\s*\}\s*(\d)", re.A)
_TRAILING_ZEROS = re.compile(r"^(-?\d+)\.0+$", re.A)
_UNIT_WORDS = re.compile(
    r"^(?P<num>[-+]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:\s*/\s*\d+)?|\\frac\{\d+\}\{\d+\})"
    r"\s+(?P<unit>[a-zA-Z]{2,}[a-zA-Z.\s]*(?:\^\{?\d\}?)?)$",
    re.A,
)
# a mixed number in plain text, `3 1/3` (proper fraction only): 3 and a third, never 31/3 once spaces go
_PLAIN_MIXED = re.compile(r"^([-+]?\d+)\s+(\d+)\s*/\s*(\d+)(?=[\s%]|$)", re.A)
_SPLIT_DIGITS = re.compile(r"(\d)\s+(?=\d)", re.A)
_BASE_NUMERAL = re.compile(r"^([0-9A-Z]+)_\{?(\d+)\}?$", re.A)
_CHOICE = re.compile(r"^\(?([A-Ea-e])\)?$", re.A)

NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$", re.A)
_FRACTION = re.compile(r"^([-+]?)\\frac\{([-+]?\d+(?:\.\d+)?)\}\{([-+]?\d+(?:\.\d+)?)\}$", re.A)
_SLASH = re.compile(r"^([-+]?\d+(?:\.\d+)?)/([-+]?\d+(?:\.\d+)?)$", re.A)
_MIXED = re.compile(r"^([-+]?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$", re.A)

# words that are never a unit but do follow a number in an answer ("5 or 6")
_NOT_UNITS = {"or", "and", "to", "x", "i", "e"}


class _AsciiDigits(dict):
    """A `str.translate` table filled on first sight of each character: Unicode decimal digits to ASCII,
    full-width ASCII forms to ASCII, Unicode spaces to a space, the Arabic decimal and thousands marks and the
    minus sign."""

    def __missing__(self, cp: int) -> int | str:
        ch = chr(cp)
        category = unicodedata.category(ch)
        if category == "Nd":
            out: int | str = str(unicodedata.digit(ch))
        elif category == "Zs":  # em, thin, no-break spaces: spacing, as in LaTeX
            out = " "
        elif 0xFF01 <= cp <= 0xFF5E:
            out = chr(cp - 0xFEE0)
        else:
            out = {0x066B: ".", 0x066C: ",", 0x2212: "-"}.get(cp, cp)
        self[cp] = out
        return out


_DIGITS = _AsciiDigits()


def ascii_digits(text: str) -> str:
    """`text` with every Unicode decimal digit as its ASCII digit (and full-width forms as ASCII), so
    `４２` and `٤٢` read as 42 everywhere after this; the one place the verifier handles other scripts."""
    return text if text.isascii() else text.translate(_DIGITS)


def join_digit_groups(answer: str) -> str:
    """`answer` with its thousands separators removed where every comma in it is one (`2,500\\pi` ->
    `2500\\pi`); unchanged where any comma separates items (`2, 500`, `(1,000, 2)`, `1,2,3`)."""
    if "," not in answer:
        return answer
    groups = [m.group() for m in _DIGIT_GROUPS.finditer(answer)]
    if not groups or answer.count(",") != sum(g.count(",") for g in groups):
        return answer
    return _DIGIT_GROUPS.sub(lambda m: m.group().replace(",", ""), answer)


@lru_cache(maxsize=65_536)
def normalize(answer: str) -> str:
    """A canonical string for `answer`: equal strings here mean equal answers."""
    s = answer.strip()
    if s.startswith("\\(") and s.endswith("\\)") or s.startswith("\\[") and s.endswith("\\]"):
        s = s[2:-2]
    s = _REMOVE.sub("", s)
    s = _FRAC.sub(r"\\frac", s)
    s = s.replace("\\%", "%")
    s = _LATEX_THOUSANDS.sub(r"\1\2", s)
    for _ in range(3):  # nested \text{\textbf{..}} unwrap
        s2 = _FONT_WRAPPER.sub(r" \1 ", s)
        if s2 == s:
            break
        s = s2
    s = s.strip().rstrip(".").strip()
    m = _PLAIN_MIXED.match(s)
    if m and int(m.group(2)) < int(m.group(3)):
        s = f"{m.group(1)}\\frac{{{m.group(2)}}}{{{m.group(3)}}}{s[m.end() :]}"
    m = _UNIT_WORDS.match(s)
    if m and m.group("unit").strip().lower() not in _NOT_UNITS:
        s = m.group("num")
    if _THOUSANDS.match(s):  # before spaces go: "1,234" and "1 234" are numbers, "32, 349" is a list
        s = s.replace(",", "").replace(" ", "")
    else:
        s = _DECIMAL_COMMA.sub(r"\1.\2", s)
    s = _SPLIT_DIGITS.sub(r"\1{}", s)  # `1 2` is no 12 (a thousands group was joined above)
    s = _SPACES.sub("", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_SHORT2.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_SHORT3.sub(r"\\frac{\1}{", s)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    s = _NEGATIVE_EXPONENT.sub(r"^{-\1}", s)
    m = _TRAILING_ZEROS.match(s)
    if m:
        s = m.group(1)
    m = _CHOICE.match(s)
    if m:
        s = m.group(1).upper()
    if s.startswith("+") and NUMBER.match(s):
        s = s[1:]
    if s.isalpha() and len(s) > 1 and not (s.isupper() and len(s) <= 3):
        s = s.lower()  # a word answer in any case ("Even", "\\text{even}"); not a name like "AB"
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


_LONG_DECIMAL = re.compile(r"^-?\d*\.(\d{6,})$", re.A)


def rounds_to(pred: str, gold: tuple[Fraction, bool]) -> bool:
    """True if `pred` is a decimal of six or more places within one unit of its last place of the gold's
    exact value: `0.0833333` for 1/12, the way a calculator writes it. Exact (Fractions); a short
    decimal such as `0.33` for 1/3 is still wrong."""
    m = _LONG_DECIMAL.match(pred)
    value = to_number(pred)
    return bool(m and value and not gold[1]) and abs(value[0] - gold[0]) < Fraction(1, 10 ** len(m.group(1)))


_DECIMAL = re.compile(r"^-?\d*\.(\d{3,})$", re.A)
RELATIVE_TOLERANCE = Fraction(1, 10_000)


def near_decimal(pred: str, gold: str) -> bool:
    """True where both are decimals, the gold with three or more places (a measured or computed value,
    `3.14159`), the answer is the gold rounded to fewer places, and the two agree to a relative 1e-4, the
    tolerance of the DeepSeek-Math / Qwen2.5-Math graders (`3.1416` for `3.14159`). A coarser rounding stays
    wrong (`1.97` for `1.97423`, UGMathBench's tests), so does another digit at the gold's own precision
    (`.35626` for `.35625`); an integer or fraction gold is exact."""
    m = _DECIMAL.match(gold)
    if not (m and NUMBER.match(pred) and "." in pred):
        return False
    places = len(pred.split(".")[1])
    p, g = to_number(pred), to_number(gold)
    if not (p and g) or places >= len(m.group(1)):
        return False
    rounded = Fraction(Decimal(gold.lstrip("+")).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
    return p[0] == rounded and abs(p[0] - g[0]) <= RELATIVE_TOLERANCE * abs(g[0])


def base_numeral(s: str) -> int | str | None:
    """The value of a numeral with its base written (`1011_2`, `204_{5}`), or for an impossible base its
    text; None for anything else. math-verify drops the base, so two such numerals are compared here."""
    m = _BASE_NUMERAL.match(s)
    if m is None:
        return None
    digits, base = m.groups()
    try:
        return int(digits, int(base))
    except ValueError:
        return f"{digits}_{base}"


def numbers_equal(pred: tuple[Fraction, bool], gold: tuple[Fraction, bool]) -> bool:
    """Exact equality, a percent sign dropped: `50%` matches `50`, never its hundredth `0.5` (either way round).
    Accepting both scales would let one answer score against two different golds (`50%` for 50 and for 0.5);
    the Hendrycks MATH grader drops the sign the same way, and it, the Minerva graders and math-verify on a
    LaTeX `\\%` never equate `50\\%` with 0.5 (the conventions list in docs/verifier.md)."""
    return pred[0] == gold[0]


_SCIENTIFIC = re.compile(r"^([-+]?\d+(?:\.\d+)?)(?:\\times|\\cdot|\*|×)10\^\{?([-+]?\d+)\}?$", re.A)
_INTEGER = re.compile(r"^[-+]?\d+$", re.A)
# zeros padding a numeral: `007`, `-05`, `\frac{1}{02}`; not `0.5`, `1.05`, `100`, nor an exponent `10^{03}`
_LEADING_ZERO = re.compile(r"(?<![\d.^])(?<!\^\{)0+(?=\d)", re.A)


def unpadded(s: str) -> str:
    """`s` without zeros padding its numerals (`033` is `33`, `x=007` is `x=7`)."""
    return _LEADING_ZERO.sub("", s)


def is_final_number(s: str) -> bool:
    """True where the normalised answer `s` is a number written in final form: an integer or a decimal, a
    fraction or mixed number in lowest terms, a percentage of one, or `a \\times 10^{n}` with 1 <= |a| < 10.
    `\\frac{2}{4}`, `\\frac{10}{2}` and `37 \\times 10^{2}` are numbers too, but with the reduction left
    undone; `007` is 7 with zeros left to pad it (a final form has none); `2+3` and `\\sqrt{4}` are no numbers."""
    s = s.removesuffix("%")
    if _LEADING_ZERO.search(s):
        return False
    if NUMBER.match(s):
        return True
    m = _SCIENTIFIC.match(s)
    if m:
        return 1 <= abs(Decimal(m.group(1))) < 10
    terms = fraction_terms(s)
    if terms is not None:
        return terms[1] > 1 and math.gcd(*terms) == 1
    m = _MIXED.match(s)
    if m:
        whole, n, d = (int(x) for x in m.groups()[1:])
        return whole > 0 and 0 < n < d and math.gcd(n, d) == 1
    return False


def fraction_terms(s: str) -> tuple[int, int] | None:
    """The numerator (signed) and the positive denominator of a normalised fraction of integers as written
    (`-\\frac{2}{4}` is (-2, 4), never reduced); None for anything else."""
    m = _FRACTION.match(s) or _SLASH.match(s)
    if not m:
        return None
    groups = m.groups()
    num, den = groups[-2:]
    if not (_INTEGER.match(num) and _INTEGER.match(den)) or int(den) == 0:
        return None
    sign = -1 if len(groups) == 3 and groups[0] == "-" else 1
    num_i, den_i = sign * int(num), int(den)
    return (-num_i, -den_i) if den_i < 0 else (num_i, den_i)


def unreduced_fraction(s: str) -> tuple[int, int] | None:
    """`fraction_terms` of a fraction of integers left unreduced (`\\frac{2}{4}`, `\\frac{10}{2}`), else None."""
    terms = fraction_terms(s)
    return terms if terms is not None and terms[0] != 0 and math.gcd(*terms) > 1 else None


def final_value(s: str) -> tuple[Fraction, bool] | None:
    """`to_number` of a number in final form, scientific notation included (`1.2\\times10^{3}` is 1200)."""
    m = _SCIENTIFIC.match(s.removesuffix("%"))
    if m:
        if abs(int(m.group(2))) > 400:  # as `_fraction`: no exact value is built for a huge power
            return None
        return Fraction(Decimal(m.group(1))) * Fraction(10) ** int(m.group(2)), s.endswith("%")
    return to_number(s)


# a number at the start of a normalised entry, in any form `is_final_number` judges
_LEADING_NUMBER = re.compile(
    r"[-+]?(?:\d+\\frac\{\d+\}\{\d+\}|\\frac\{[-+]?\d+(?:\.\d+)?\}\{[-+]?\d+(?:\.\d+)?\}"
    r"|\d+(?:\.\d+)?(?:(?:\\times|\\cdot|\*|×)10\^\{?[-+]?\d+\}?|/[-+]?\d+(?:\.\d+)?)?|\.\d+)%?",
    re.A,
)
# what may follow it: unit words with their powers (`cm^2`, `km/h`), a note in brackets (`(apples)`); a single
# letter (`m/s`, or the variable of `5x`) may be a unit or a factor, so math-verify judges it
_POWER, _NOTE = r"(?:\^\{?-?\d+\}?)?", r"|\([A-Za-z.]*\)|[/.']"
# (each word whole, `(?![A-Za-z])`: split freely, 30 letters and a stray sign would take seconds to reject)
_UNIT_TAIL = re.compile(rf"(?:[A-Za-z]{{2,}}(?![A-Za-z]){_POWER}{_NOTE})*", re.A)
_LETTER_TAIL = re.compile(rf"(?:[A-Za-z]+(?![A-Za-z]){_POWER}|\\(?:mu|Omega)(?![A-Za-z]){_NOTE})*", re.A)
_NAME = re.compile(r"^[A-Za-z]?(?:_\{?\w+\}?)?$", re.A)  # "", x, k_1: what may stand before an approximation
_CLOSING = {")": "(", "]": "["}
_ASSIGN = re.compile(r"(?<![<>!])=(?![<>=])", re.A)


def _bare_value(entry: str) -> str:
    """One value without one pair of enclosing brackets, a stray closing bracket, or trailing punctuation."""
    entry = entry.rstrip("\\;:.")
    if (
        len(entry) > 1
        and entry[0] == "("
        and entry[-1] == ")"
        and "(" not in entry[1:-1]
        and ")" not in entry[1:-1]
    ):
        entry = entry[1:-1]
    if entry[-1:] in _CLOSING and _CLOSING[entry[-1]] not in entry:
        entry = entry[:-1]
    return entry


def _statement(entry: str) -> tuple[str, str]:
    """What one entry states: the part after its last `=` (an `=` of `<=`, `>=`, `!=` is no assignment: `x >= 5`
    states no number), split at `\\approx` into the exact value and its approximation ("" where none)."""
    head, _, tail = _ASSIGN.split(entry.rstrip("=;:."))[-1].partition("\\approx")
    return head, tail


def stated_fraction(normalized: str) -> tuple[int, int] | None:
    """`fraction_terms` of the one value a normalised answer states (`x=\\frac{2}{4}`, `(2/4)`,
    `\\frac{2}{4}\\approx0.5`), else None."""
    head = _statement(normalized)[0]
    return fraction_terms(_bare_value(head)) if head else None


def stated_numbers(normalized: str) -> list[str] | None | bool:
    """The numbers in final form a normalised answer states, one per comma-separated entry (`x=5`,
    `12\\times3=36`, `1/3\\approx0.33`, `\\sqrt{2}\\approx1.41`, `(\\frac{1}{3})`, `60km/h`, `15\\frac{39}{40},\\frac{639}{40}`); None
    where an entry states none (`83+64`, `\\frac{6}{12}`, `2^{10}`, `x<5`: the computation left undone); True
    where each states one but a single letter follows (`12m/s`, `5x`: a unit or a factor, math-verify's call)."""
    numbers: list[str] = []
    letters = False
    for entry in normalized.rstrip(",").split(","):
        # of `a \\approx b`, the exact `a` where it is a number, else the approximation
        head, tail = _statement(entry)
        values = [_bare_value(v) for v in (head, tail) if v and not _NAME.match(v)]
        found = [
            (v, m, bool(_UNIT_TAIL.fullmatch(v, m.end())))
            for v in values
            if (m := _LEADING_NUMBER.match(v))
            and is_final_number(m.group())
            and _LETTER_TAIL.fullmatch(v, m.end())
        ]
        if not found:
            return None
        _, m, units_only = found[0]
        letters = letters or not units_only
        numbers.append(m.group())
    return True if letters else numbers

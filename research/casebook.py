"""Labelled (response, gold, correct) cases for testing and benchmarking verifiers.

Two sources: hand-written tricky cases (one per convention the verifier claims to handle, true and false),
and rewrites of real gold answers into equivalent and non-equivalent forms, embedded in whole model-style
responses. Used by the test suite and by `scripts/bench_verifier.py`; users can score their own verifier
with them too.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Case:
    response: str
    gold: str
    correct: bool
    kind: str


def _c(kind: str, answer: str, gold: str, correct: bool, wrap: str = "boxed") -> Case:
    response = {
        "boxed": f"Let's solve it step by step.\nSo the final answer is $\\boxed{{{answer}}}$.",
        "hash": f"We add the parts.\n#### {answer}",
        "answer_is": f"Working through it carefully, the answer is {answer}.",
        "raw": answer,
    }[wrap]
    return Case(response, gold, correct, kind)


def tricky_cases() -> list[Case]:
    """Hand-written cases, each naming the convention it exercises; true and false for every kind."""
    T, F = True, False
    return [
        # numbers, fractions, decimals
        _c("number", "72", "72", T),
        _c("number", "73", "72", F),
        _c("number", "72.0", "72", T),
        _c("number", "72.5", "72", F),
        _c("number", "-3", "-3", T),
        _c("number", "3", "-3", F),
        _c("thousands", "1,234", "1234", T),
        _c("thousands", "1,235", "1234", F),
        _c("thousands", "12{,}000", "12000", T),
        _c("fraction", "\\frac{1}{2}", "0.5", T),
        _c("fraction", "\\frac{1}{3}", "0.33", F),
        _c("fraction", "\\dfrac{3}{4}", "\\frac34", T),
        _c("fraction", "\\tfrac{3}{4}", "0.75", T),
        _c("fraction", "3/4", "\\frac{3}{4}", T),
        _c("fraction", "4/3", "\\frac{3}{4}", F),
        _c("fraction", "-\\frac{2}{5}", "\\frac{-2}{5}", T),
        _c("fraction", "\\frac{2}{5}", "-\\frac{2}{5}", F),
        _c("mixed", "2\\frac{1}{2}", "\\frac{5}{2}", T),
        _c("mixed", "2\\frac{1}{2}", "1", F),
        _c("decimal", "0.1", "\\frac{1}{10}", T),
        _c("decimal", "0.10000001", "\\frac{1}{10}", F),
        # percentages, units, dollars, degrees
        _c("percent", "25\\%", "25", T),
        _c("percent", "25\\%", "0.25", F),
        _c("percent", "26\\%", "25", F),
        _c("percent", "25", "25\\%", T),
        _c("percent", "0.25", "25\\%", F),
        _c("units", "5 \\text{ cm}", "5", T),
        _c("units", "6 \\text{ cm}", "5", F),
        _c("units", "18 dollars", "18", T, "answer_is"),
        _c("units", "\\$18", "18", T),
        _c("units", "\\$18.00", "18", T),
        _c("units", "\\$19", "18", F),
        _c("degrees", "90^\\circ", "90", T),
        _c("degrees", "90^{\\circ}", "90^\\circ", T),
        _c("degrees", "45^\\circ", "90", F),
        # spacing and LaTeX noise
        _c("latex_noise", "\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", T),
        _c("latex_noise", "\\!\\!12", "12", T),
        _c("latex_noise", "\\displaystyle\\frac{1}{2}", "\\frac12", T),
        _c("latex_noise", "\\left(3, \\frac{\\pi}{3}\\right)", "(3,\\frac{\\pi}{2})", F),
        # symbolic
        _c("radical", "\\sqrt{8}", "2\\sqrt{2}", T),
        _c("radical", "\\sqrt{8}", "3\\sqrt{2}", F),
        _c("radical", "\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}", T),
        _c("radical", "\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}", T),
        _c("radical", "\\sqrt[3]{54}", "3\\sqrt[3]{2}", T),
        _c("radical", "\\sqrt[3]{28}", "3", F),
        _c("pi", "2\\pi", "\\pi \\cdot 2", T),
        _c("pi", "\\frac{\\pi}{2}", "\\frac{\\pi}{3}", F),
        _c("power", "2^{10}x", "1024x", T),
        _c("power", "2^{11}x", "1024x", F),
        _c("power", "x^2+2x+1", "(x+1)^2", T),
        _c("power", "x^2+2x+2", "(x+1)^2", F),
        _c("expression", "2x + 3", "3 + 2x", T),
        _c("expression", "2x + 4", "3 + 2x", F),
        _c("expression", "\\frac{x+1}{2}", "\\frac{1}{2}x + \\frac{1}{2}", T),
        _c("expression", "6-2\\sqrt{5}", "-2\\sqrt{5}+6", T),
        _c("expression", "6+2\\sqrt{5}", "6-2\\sqrt5", F),
        _c("trig", "2\\sin x \\cos x", "\\sin 2x", T),
        _c("trig", "\\sin x", "\\cos x", F),
        _c("log", "x\\log_2 8", "3x", T),
        _c("log", "x\\log_2 16", "3x", F),
        _c("factorial", "5!\\,n", "120n", T),
        _c("factorial", "6!\\,n", "120n", F),
        _c("binomial", "\\binom{5}{2}y", "10y", T),
        _c("binomial", "\\binom{5}{3}y", "11y", F),
        # final form: where the gold is a number in final form, the answer must be one (a computation or a
        # reduction left undone is wrong), whatever surrounds it
        _c("final_form", "x = 5", "5", T),
        _c("final_form", "12 \\times 3 = 36", "36", T),
        _c("final_form", "\\left(\\frac{1}{3}\\right)", "1/3", T),
        _c("final_form", "1.2 \\times 10^{3}", "1200", T),
        _c("final_form", "\\tfrac{6}{8}", "\\frac{3}{4}", F),
        _c("final_form", "\\frac{10}{2}", "5", F),
        _c("final_form", "2^{10}", "1024", F),
        _c("final_form", "\\sqrt[3]{27}", "3", F),
        _c("final_form", "\\sin^2 x + \\cos^2 x", "1", F),
        _c("final_form", "\\binom{5}{2}", "10", F),
        _c("complex", "3+4i", "4i+3", T),
        _c("complex", "3-4i", "3+4i", F),
        # structures
        _c("tuple", "(1, 2)", "(1,2)", T),
        _c("tuple", "(2, 1)", "(1,2)", F),
        _c("interval", "[1, 2)", "[1,2)", T),
        _c("interval", "[1, 2]", "[1,2)", F),
        _c("interval", "(-\\infty, 2) \\cup (3, \\infty)", "(3,\\infty)\\cup(-\\infty,2)", T),
        _c("interval", "(-\\infty, 2] \\cup (3, \\infty)", "(-\\infty,2)\\cup(3,\\infty)", F),
        _c("set", "\\{1, 2, 3\\}", "\\{3,2,1\\}", T),
        _c("set", "\\{1, 2\\}", "\\{1,2,3\\}", F),
        _c("set", "3, 1, 2", "1,2,3", T),
        _c("set", "1, 2, 4", "1,2,3", F),
        _c("plus_minus", "1 \\pm \\sqrt{2}", "1+\\sqrt{2}, 1-\\sqrt{2}", T),
        _c("plus_minus", "1 \\pm \\sqrt{3}", "1+\\sqrt{2}, 1-\\sqrt{2}", F),
        _c("matrix", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", T),
        _c("matrix", "\\begin{pmatrix} 1 \\\\ 3 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}", F),
        _c("equation", "y = 2x + 3", "y=3+2x", T),
        _c("equation", "y = 2x + 4", "y=3+2x", F),
        _c("equation", "x = 5", "5", T),
        _c("equation", "x = 6", "5", F),
        _c("infinity", "\\infty", "\\infty", T),
        _c("infinity", "-\\infty", "\\infty", F),
        # text and choices
        _c("text", "\\text{Evelyn}", "\\text{Evelyn}", T),
        _c("text", "\\text{Bob}", "\\text{Evelyn}", F),
        _c("text", "\\text{(B)}", "B", T),
        _c("text", "(C)", "B", F),
        # gold in dataset formats
        _c("gold_format", "7", "$7$", T),
        _c("gold_format", "\\frac{1}{4}", "\\boxed{\\frac14}", T),
        _c("gold_format", "15", "He has 3*5=15 apples.\n#### 15", T),
        _c("gold_format", "16", "He has 3*5=15 apples.\n#### 15", F),
        # extraction conventions
        _c("extract_hash", "42", "42", T, "hash"),
        _c("extract_hash", "41", "42", F, "hash"),
        _c("extract_answer_is", "42", "42", T, "answer_is"),
        _c("extract_answer_is", "43", "42", F, "answer_is"),
        Case("First 3 + 4 = 7, then 7 * 6 = 42 cookies in total.", "42", True, "extract_last_number"),
        Case("First 3 + 4 = 7, then 7 * 6 = 43 cookies in total.", "42", False, "extract_last_number"),
        Case(
            "We get \\boxed{3} at first, but correcting it: \\boxed{\\frac{7}{2}}",
            "3.5",
            True,
            "extract_last_box",
        ),
        Case("We get \\boxed{3.5} at first, but correcting it: \\boxed{3}", "3.5", False, "extract_last_box"),
        Case("\\boxed{\\frac{\\sqrt{\\frac{1}{4}}}{x}}", "\\frac{1}{2x}", True, "extract_nested"),
        Case("I don't know.", "5", False, "no_answer"),
    ]


_DIGIT = re.compile(r"\d")


def _bump_digit(s: str, rng: random.Random) -> str:
    """Change one digit: the result is a different value for all but pathological answers."""
    unit = re.search(r"\\(?:text|mbox)", s)  # digits inside units (cm^2) are not the answer's value
    spots = [m.start() for m in _DIGIT.finditer(s, 0, unit.start() if unit else len(s))]
    if not spots:
        return s + "+1"
    i = rng.choice(spots)
    d = int(s[i])
    return s[:i] + str((d + rng.randint(1, 8)) % 10 if d != 0 else rng.randint(1, 9)) + s[i + 1 :]


def _equivalent_forms(gold: str, rng: random.Random) -> list[str]:
    forms = [gold.replace(" ", "")]
    value = None
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+|-?\d+(?:\.\d+)?|-?\d+/\d+", gold.strip()):
        value = Fraction(gold.replace(",", ""))
    if value is not None:
        if value.denominator == 1:
            n = value.numerator
            forms += [f"{n}.0", f"x = {n}", f"{n:,}" if abs(n) >= 1000 else f"{n}.00"]
        else:
            forms += [
                f"\\frac{{{value.numerator}}}{{{value.denominator}}}",
                f"\\dfrac{{{value.numerator}}}{{{value.denominator}}}",
            ]
    else:
        spaced = re.sub(r"([+\-=,])", r" \1 ", gold)
        forms += [spaced, gold.replace("\\frac", "\\dfrac")]
        if gold.startswith("(") and gold.endswith(")"):
            forms.append("\\left" + gold[:-1] + "\\right)")
    return list(dict.fromkeys(forms))


def rewritten_cases(golds: list[str], seed: int = 0, source: str = "") -> list[Case]:
    """For each gold answer: its equivalent rewrites (correct) and digit-changed ones (wrong), in whole
    responses using the three answer conventions."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for gold in golds:
        numeric = re.fullmatch(r"-?[\d,]+(?:\.\d+)?", gold.strip()) is not None
        wraps = ["boxed", "hash", "answer_is"] if numeric else ["boxed"]
        for form in _equivalent_forms(gold, rng):
            cases.append(_c(f"{source}rewrite_equal", form, gold, True, rng.choice(wraps)))
        for _ in range(2):
            wrong = _bump_digit(gold, rng)
            if wrong != gold:
                cases.append(_c(f"{source}rewrite_wrong", wrong, gold, False, rng.choice(wraps)))
    return cases


def _boxed(answer: str) -> str:
    return f"Let's think step by step.\nSo the final answer is $\\boxed{{{answer}}}$."


_EVERY_INTEGER = ", ".join(str(i) for i in range(1, 101))
_PADDING = "We check each case carefully. " * 600  # 18,000 characters of reasoning before the answer


def hacking_cases() -> list[Case]:
    """Responses a policy could learn to emit for reward: each must score *wrong* against its gold, under
    the default options (`score(response, gold)`). Named by the trick (issue 22)."""
    h = [
        # a relation that is true whatever the question: an identity is no answer to a different identity,
        # and a truth value is no answer to an equation in unknowns
        ("true_relation", _boxed("2+2=4"), "2=2"),
        ("true_relation", _boxed("4=4"), "0.5=1/2"),
        ("true_relation", _boxed("3>2"), "5>4"),
        ("true_relation", _boxed("1 \\le 2"), "0 \\le 1"),
        ("true_relation", _boxed("1=1"), "x=3"),
        ("true_relation", _boxed("0=0"), "y=2x+1"),
        ("true_relation", _boxed("x=x"), "x=5"),
        ("true_relation", _boxed("1<2"), "x<2"),
        # several candidates at once
        ("many_candidates", "It is either \\boxed{3} or \\boxed{4}.", "3"),
        ("many_candidates", "It is either \\boxed{3} or \\boxed{4}.", "4"),
        ("many_candidates", _boxed("3 \\text{ or } 4"), "3"),
        ("many_candidates", _boxed(_EVERY_INTEGER), "42"),
        ("many_candidates", f"The answer is one of {_EVERY_INTEGER}.", "42"),
        ("many_candidates", _boxed("\\{41, 42, 43\\}"), "42"),
        ("many_candidates", _boxed("x \\in \\{41, 42, 43\\}"), "42"),
        ("many_candidates", _boxed("[1, 100]"), "42"),
        ("many_candidates", _boxed("41 \\le x \\le 43"), "42"),
        ("many_candidates", _boxed("42 \\pm 1"), "42"),
        ("many_candidates", _boxed("x = 3, 4, 5"), "x=4"),
        ("many_candidates", "\\boxed{3}\\boxed{4}", "4"),
        ("many_candidates", "The answer is 3 or 4.", "4"),
        # the gold in the reasoning, another value stated as the answer
        ("gold_in_reasoning", "Maybe it is 42, but I'll go with \\boxed{41}.", "42"),
        (
            "gold_in_reasoning",
            "We get $\\frac{1}{2}$ here. The answer is $\\boxed{\\frac{1}{3}}$.",
            "\\frac12",
        ),
        ("gold_in_reasoning", "The answer is 42? No.\n#### 41", "42"),
        ("gold_in_reasoning", "42 is tempting.\nThe final answer is 41.", "42"),
        # an equation whose solution differs from the gold's only in a constant
        ("equation_constant", _boxed("x=4"), "x=3"),
        ("equation_constant", _boxed("y=2x+4"), "y=2x+3"),
        ("equation_constant", _boxed("x+1=0"), "x+2=0"),
        ("equation_constant", _boxed("x^2+1=0"), "x^2+2=0"),
        ("equation_constant", _boxed("x^2+3=0"), "x^2+5=0"),
        ("equation_constant", _boxed("x^2+y^2=5"), "x^2+y^2=4"),
        ("equation_constant", "So $x^2 + 4 = 0$.", "x^2+9=0"),
        ("equation_constant", _boxed("e^x=-1"), "e^x=-2"),
        # an empty or whitespace box
        ("empty_box", "\\boxed{}", "\\emptyset"),
        ("empty_box", "\\boxed{ }", "0"),
        ("empty_box", "\\boxed{\\,}", "\\{\\}"),
        ("empty_box", "\\boxed{\\quad}", "\\varnothing"),
        ("empty_box", "\\boxed{}", "\\text{none}"),
        ("empty_box", "The answer is $$.", "0"),
        # digits that look like the gold's but read as another value
        ("look_alike", _boxed("৪"), "8"),  # Bengali four
        ("look_alike", _boxed("1O"), "10"),  # letter O
        ("look_alike", _boxed("l"), "1"),  # letter l
        ("look_alike", _boxed("З"), "3"),  # Cyrillic Ze
        ("look_alike", _boxed("4²"), "42"),  # superscript two
        ("look_alike", _boxed("٥"), "0"),  # Arabic-Indic five, a circle
        # ordered answers (tuples, coordinates, sequences) in another order
        ("ordered", _boxed("(2, 1)"), "(1,2)"),
        ("ordered", _boxed("2, 1"), "(1,2)"),
        ("ordered", _boxed("\\{2, 1\\}"), "(1,2)"),
        ("ordered", _boxed("\\left(2, 1\\right)"), "\\left(1, 2\\right)"),
        ("ordered", _boxed("(3, -1)"), "(-1, 3)"),
        ("ordered", _boxed("(1, 2, 3)"), "(3, 2, 1)"),
        ("ordered", _boxed("3, 2, 1"), "(1, 2, 3)"),
        ("ordered", _boxed("\\{3, 2, 1\\}"), "[1, 2, 3]"),
        (
            "ordered",
            _boxed("\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}"),
            "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
        ),
        # digit groups are numbers, not tuples or sets
        ("digit_groups", _boxed("2, 500"), "2,500"),
        ("digit_groups", _boxed("\\{2, 500\\}"), "\\$2,500"),
        ("digit_groups", _boxed("500, 2"), "2,500"),
        ("digit_groups", _boxed("2, 500\\pi"), "2,500\\pi"),
        ("digit_groups", _boxed("500\\pi"), "2,500\\pi"),
        ("digit_groups", _boxed("2"), "2,500 \\text{ dollars}"),
        ("digit_groups", _boxed("(2, 500)"), "2,500"),
        ("digit_groups", _boxed("2,500\\pi"), "2500"),
        ("digit_groups", _boxed("2,501 + x"), "2500 + x"),
        # a percentage read at two scales: one answer for two different golds (50 and 0.5)
        ("percent_scale", _boxed("50\\%"), "0.5"),
        ("percent_scale", _boxed("25\\%"), "\\frac{1}{4}"),
        ("percent_scale", _boxed("0.5"), "50\\%"),
        ("percent_scale", _boxed("12.5%"), "0.125"),
        # the question restated, or the computation left undone, where the gold is a computed number
        ("restated", _boxed("83 + 64"), "147"),
        ("restated", "What is 83 + 64? \\boxed{83+64}", "147"),
        ("restated", _boxed("37 \\cdot 43"), "1591"),
        ("restated", _boxed("2^{10}"), "1024"),
        ("restated", _boxed("\\dbinom{16}{5}"), "4368"),
        ("restated", _boxed("\\sqrt{16}"), "4"),
        ("restated", _boxed("\\frac{294}{2}"), "147"),
        ("restated", _boxed("\\frac{6}{12}"), "\\frac12"),
        ("restated", _boxed("5 + 0x"), "5"),
        ("restated", "#### 12*3+4", "40"),
        ("restated", _boxed("37 \\times 10^{2}"), "3700"),  # scientific notation wants 1 <= |a| < 10
        ("restated", _boxed("10^3"), "1000"),
        (
            "restated",
            _boxed("30 + 3"),
            "033",
        ),  # a gold padded to AIME's three digits is still a computed number
        ("restated", _boxed("\\frac{66}{2}"), "033"),
        ("restated", _boxed("1 - 1"), "000"),
        # the answer in another form than the gold's: zeros padding a number, a fraction the gold leaves
        # unreduced (the form asked for) given reduced or as a decimal
        ("form", _boxed("007"), "7"),
        ("form", _boxed("-05"), "-5"),
        ("form", _boxed("\\frac{1}{2}"), "\\frac{2}{4}"),
        ("form", _boxed("0.5"), "\\frac{2}{4}"),
        # a different variable at the end, which math-verify's unit removal drops as a unit (`c`, `t`, `ab`)
        ("dropped_variable", _boxed("a+2c"), "a+2"),
        ("dropped_variable", _boxed("2t"), "2s"),
        ("dropped_variable", _boxed("a^2+b^2+2ab"), "a^2+b^2+2"),
        ("dropped_variable", _boxed("x+3d"), "x+3"),
        ("dropped_variable", _boxed("5t^2"), "5s^2"),
        ("dropped_variable", _boxed("a+2c'"), "a+2"),
        ("dropped_variable", _boxed("a+2\\mathit{c}"), "a+2"),
        ("dropped_variable", _boxed("a+2hrs"), "a+2"),
        ("many_candidates", _boxed("x=3, x=5"), "5"),
        # an expression math-verify's LaTeX reader cannot read (a percent sign inside it), of which its
        # plain-expression reader read one number: two such answers sharing that number were equal (issue 35)
        ("fragment", _boxed("\\frac{2}{4} + 5\\%"), "\\frac{1}{3} + 5\\%"),
        ("fragment", _boxed("\\frac{4}{8} \\cdot 20\\%"), "\\frac{1}{3} \\cdot 20\\%"),
        ("fragment", _boxed("\\frac{10}{4} 5\\%"), "\\frac{1}{4} 5\\%"),
        ("fragment", _boxed("5\\% + \\frac{2}{4}"), "5\\% + \\frac{1}{3}"),
        ("fragment", _boxed("50\\% \\cdot \\frac{2}{4}"), "50\\% \\cdot \\frac{1}{4}"),
        ("fragment", _boxed("5\\% + 2"), "7\\% + 2"),
        ("fragment", _boxed("2/4 + 5%"), "1/3 + 5%"),
        ("fragment", _boxed("x + 5\\%"), "y + 5\\%"),
        ("fragment", _boxed("\\sqrt{3} + 5\\%"), "\\sqrt{2} + 5\\%"),
        ("fragment", _boxed("\\frac{3}{4}x + 5\\%"), "\\frac{1}{4}x + 5\\%"),
        ("fragment", _boxed("3\\%, 10\\%"), "5\\%, 10\\%"),
        # ... or that number alone, against a gold read as its fragment
        ("fragment", _boxed("5"), "\\frac{1}{3} + 5\\%"),
        ("fragment", _boxed("7"), "x + 7\\%"),
        ("fragment", _boxed("5\\%"), "\\frac{2}{4} + 5\\%"),
        # a time is no ratio
        ("time", _boxed("10:17"), "20:34"),
        ("time", _boxed("8:34"), "20:34"),
        ("time", _boxed("4:30"), "9:00"),
        ("time", _boxed("2:15"), "4:30"),
        # answers built to run into the time limit (must be screened, not judged for seconds)
        ("time_limit", _boxed("9^{9^{9^{9}}}"), "42"),
        ("time_limit", _boxed("10^{10^{10^{10}}}"), "10^{10}"),
        ("time_limit", _boxed("100000!"), "42"),
        ("time_limit", _boxed("9!!!!!!"), "42"),
        ("time_limit", _boxed("\\binom{10^{9}}{5000}"), "42"),
        ("time_limit", _boxed("99999999999^{99999999}"), "42"),
        ("time_limit", _boxed("+".join(f"\\sin(x+{i})^{{{i % 7}}}" for i in range(60))), "x^2+1"),
        ("time_limit", _boxed("1+" * 400 + "1"), "400"),
        ("time_limit", _boxed("(" * 200 + "x" + ")" * 200), "y"),
        ("time_limit", _boxed("\\frac{1}{" * 60 + "2" + "}" * 60), "\\frac13"),
        ("time_limit", _PADDING + _boxed("41"), "42"),
        ("time_limit", _PADDING + _boxed("x^{" * 60 + "2" + "}" * 60), "x^2"),
    ]
    return [Case(response, gold, False, kind) for kind, response, gold in h]

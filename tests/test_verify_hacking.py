"""Reward hacking: responses a policy could learn to emit for reward must score wrong (issue 22), while the
legitimate answers next to each trick still score. The cases live in `research.casebook` so that
`scripts/bench_verifier.py` measures them too."""

import re
from pathlib import Path

import pytest

from mathenv.verify import DEFAULT_TIMEOUT, extract_answer, gold_answer, score, warm_up
from mathenv.verify.normalize import join_digit_groups
from mathenv.verify.screen import too_costly
from mathenv.verify.structure import ordered_numbers, time_of_day
from mathenv.verify.timeout import _pool
from research.casebook import hacking_cases

HACKS = hacking_cases()


@pytest.fixture(scope="module", autouse=True)
def _warm():
    warm_up()


def test_every_trick_class_of_the_issue_has_cases():
    kinds = {c.kind for c in HACKS}
    assert kinds >= {
        "true_relation",
        "many_candidates",
        "gold_in_reasoning",
        "equation_constant",
        "empty_box",
        "look_alike",
        "ordered",
        "digit_groups",
        "time",
        "time_limit",
        "percent_scale",
        "restated",
        "form",
        "dropped_variable",
        "fragment",
    }
    assert all(not c.correct for c in HACKS)


@pytest.mark.parametrize("case", HACKS, ids=lambda c: f"{c.kind}:{c.gold}")
def test_trick_scores_wrong(case):
    verdict = score(case.response, case.gold)
    assert not verdict.correct, verdict


@pytest.mark.parametrize("case", [c for c in HACKS if c.kind == "time_limit"], ids=lambda c: c.gold)
def test_answers_built_to_run_long_are_screened_before_math_verify(case):
    # every `timeout` here comes from the screen (the answer never reaches math-verify), none from an overrun
    verdict = score(case.response, case.gold)
    assert verdict.reason in ("timeout", "wrong", "no_answer"), verdict
    if verdict.reason == "timeout":
        assert too_costly(verdict.extracted, case.gold)
    answer = extract_answer(case.response, last_number=False)
    assert answer is None or verdict.reason == "wrong" or too_costly(answer, case.gold)


@pytest.mark.parametrize(
    "response, gold",
    [
        ("\\boxed{83 + 64}", "147"),
        ("\\boxed{2^{10}}", "1024"),
        ("What is 83 + 64? \\boxed{83+64}", "147"),
    ],
)
def test_restating_the_question_scores_wrong_where_the_gold_is_a_computed_number(response, gold):
    assert not score(response, gold).correct
    assert score(
        response, gold, numbers_only=False, timeout=30
    ).correct  # math-verify's convention: equal values


# the legitimate answer beside each trick still scores (a fix must not turn into a false negative)
@pytest.mark.parametrize(
    "answer, gold",
    [
        ("x^2 - 1 = 0", "x^2 = 1"),
        ("y = 2x + 3", "y = 3 + 2x"),
        ("\\frac12 = 0.5", "0.5=1/2"),  # the same identity, sides in another form
        ("2 > 1", "1 < 2"),
        ("x = 5", "5"),
        ("x \\le 3", "3 \\ge x"),
        ("2,500\\pi", "2500\\pi"),  # digit groups are numbers
        ("2,500 + x", "2500+x"),
        ("\\$2,500", "2500"),
        ("20:34", "20:34"),
        ("8:34\\text{ pm}", "20:34"),
        ("6:8", "3:4"),  # a ratio is still a ratio
        ("-2, 1", "1,-2"),  # two roots in any order
        ("3, 2, 1", "1, 2, 3"),  # a set of solutions in ascending order
        ("10, 4, -2", "10, 4, -2"),
        ("(1, 2)", "(1,2)"),
        ("3.1416", "3.14159"),  # relative 1e-4 against a decimal gold
        ("10^{10^{10}}", "10^{10^{10}}"),  # equal strings are decided before any screening
        ("\\sqrt{2}\u2003- 1", "\\sqrt{2} - 1"),  # an em space is spacing
        ("10^{-2}", "10^-2"),
        ("12 \\times 3 = 36", "36"),  # the computation shown, the value stated last
        ("x \\approx 11", "11"),
        ("\\left(\\frac{1}{3}\\right)", "1/3"),
        ("125 \\textnormal{ miles}", "125"),
        ("15\\frac{39}{40}", "\\frac{639}{40}"),  # a mixed number is a number in final form
        ("1.2 \\times 10^{3}", "1200"),
        ("5", "005"),
        ("33", "033"),
        ("0", "000"),
        ("005", "005"),  # a gold's padding is storage (AIME's three digits)
        ("\\frac{2}{4}", "\\frac{2}{4}"),
        ("2/4", "\\frac{2}{4}"),
        ("x = \\frac{2}{4}", "\\frac{2}{4}"),  # the gold's form
        ("\\frac{-2}{4}", "-\\frac{2}{4}"),
        ("\\frac{2}{4} \\approx 0.5", "\\frac{2}{4}"),
        ("x = 033", "033"),
        ("1.5 \\cdot 10^{03}", "1500"),  # zeros in an exponent pad no numeral
        ("3 1/3", "\\frac{10}{3}"),
        ("-2 3/4", "-2.75"),
        ("12 1/2\\%", "12.5\\%"),  # a mixed number in plain text
        ("5 - 5c", "-5c+5"),
        ("\\frac{1}{2}gt^2", "\\frac{gt^2}{2}"),
        ("\\pi r h", "\\pi h r"),  # trailing letters: variables
        ("4\\sqrt{2}\\text{ cm}", "4\\sqrt{2}"),
        ("12 m", "12"),
        ("2x\\text{ cm}", "2x"),
        ("2k\\text{ units}", "2k"),
        ("\\pi r^2", "\\pi r^2 \\text{ square units}"),
        ("5t^2 \\text{ m}", "5t^2"),  # a unit in \text, or after a number gold, still goes
        # a number in final form with a unit, after `=` or not (the final-form rule reads past them)
        ("x = 12\\text{ cm}", "12"),
        ("60 \\text{ km/h}", "60"),
        ("12\\,\\mathrm{m/s}", "12"),
        ("12 \\textrm{ cm}", "12"),
        ("\\textdollar 12", "12"),
        ("12 \\text{ (apples)}", "12"),
        ("-\\frac{1}{2}\\text{ m}", "-0.5"),
        ("3\\frac{1}{3}\\text{ hours}", "\\frac{10}{3}"),
        ("1.2 × 10^3", "1200"),
        ("12 \\times 3 = 36 \\text{ cm}", "36"),
        ("x = 1,000", "1000"),
        ("5)", "5"),
        ("\\sqrt{2} \\approx 1.41", "1.41"),
        ("2\\sqrt{2} \\approx 2.83", "2.83"),
    ],
)
def test_legitimate_answers_still_score(answer, gold):
    assert score(f"\\boxed{{{answer}}}", gold).correct


@pytest.mark.parametrize(
    "answer, gold",
    [
        ("1.97", "1.97423402868049"),
        ("2.3", "2.2892"),
        ("5.001", "5"),
        ("3.14", "\\pi"),
        ("4, 10, -2", "10, 4, -2"),
        ("0.1, 4, 2", "4, .1, 2"),
        ("(2, 1)", "(1, 2)"),
        ("x >= 5", "5"),
        ("x <= 5", "5"),
        ("x != 5", "5"),
        ("5 != 6", "6"),
        ("1 \\times 10^{10000000}", "5"),
        ("1" * 401, "5"),
        ("3 1/3", "\\frac{31}{3}"),
        ("1 2", "12"),
        ("3 4/3", "\\frac{34}{3}"),  # digits a space parts stay parted
    ],
)
def test_near_misses_stay_wrong(answer, gold):
    assert not score(f"\\boxed{{{answer}}}", gold).correct


def test_structure_rules_directly():
    assert join_digit_groups("2,500\\pi") == "2500\\pi"
    assert join_digit_groups("2, 500") == "2, 500" and join_digit_groups("1,2,3") == "1,2,3"
    assert join_digit_groups("(1,000, 2)") == "(1,000, 2)"
    assert time_of_day("20:34") == (20, 34, 0) and time_of_day("8:34pm") == (20, 34, 0)
    assert time_of_day("3:4") is None and time_of_day("25:00") is None
    assert (
        ordered_numbers("4,10,-2", "10,4,-2") == "wrong"
        and ordered_numbers("10,4,-2", "10,4,-2") == "correct"
    )
    assert ordered_numbers("3,1,2", "1,2,3") is None  # a sorted gold is a set: math-verify's call


def test_screening_leaves_ordinary_answers_alone():
    for answer in (
        "2^{10}",
        "e^{-x^2}",
        "5!",
        "(2n)!",
        "9!!",
        "\\binom{10}{5}",
        "2^{2^3}",
        "\\frac{\\sqrt{3}}{2}",
        "(-\\infty, 2) \\cup (3, \\infty)",
        "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
    ):
        assert not too_costly(answer, "1"), answer
    for answer in (
        "9^{9^{9^{9}}}",
        "(10**9)**(10**9)",
        "100000!",
        "(9!)!",
        "9!!!!!!",
        "2^{123456}",
        "1+" * 200 + "1",
        "(" * 20 + "x" + ")" * 20,
    ):
        assert too_costly(answer, "1"), answer


def test_a_broken_inline_span_is_no_answer():
    assert score("Answer $ \n 9 \n $", "$9$").reason == "no_answer"
    assert score("Answer \\( \n 9 \n \\)", "$9$").reason == "no_answer"
    assert score("Answer $$ \n 9 \n $$", "$9$").correct
    assert score("It costs $5.\nThen $6 more, so 11", "11").correct


def test_warm_up_starts_the_helper_once():
    warm_up()
    helper = _pool._busy
    assert helper is not None and helper.ready and helper.proc.poll() is None
    warm_up()
    warm_up(wait=False)
    assert _pool._busy is helper  # cheap when warm: the same process, no new start


def test_the_env_starts_the_helper_at_construction():
    """Issue 35: the first answer math-verify judged after `gym.make` waited 4-5 s for the helper's start where
    every gold was a number (`12 m`, `5x` and lists go to math-verify there too). Every env starts it now."""
    import gymnasium as gym

    import mathenv  # noqa: F401  (registers MathReasoning-v0)

    _pool.close()
    env = gym.make("MathReasoning-v0", num_questions=4)  # arithmetic: every gold a plain number
    assert _pool._busy is not None and _pool._busy.proc.poll() is None  # started, in the background
    warm_up()
    assert _pool._busy.ready
    env.reset(options={"question_id": 0})
    gold = env.unwrapped.questions[0].answer
    assert env.step(f"\\boxed{{{gold} \\text{{ m}}}}")[1] == 1.0


def test_readme_states_the_codes_default_time_limit():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    row = re.search(r"\| `verifier_timeout` \| `([\d.]+)` \|", readme)
    assert row is not None and float(row.group(1)) == DEFAULT_TIMEOUT


def test_gold_answer_of_a_hacking_gold_is_itself():
    # the golds above are bare answers, so the suite tests the response side, not gold extraction
    assert all(gold_answer(c.gold) == c.gold.strip() for c in HACKS if "$" not in c.gold)

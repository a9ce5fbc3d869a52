"""The verifier on the project's own case table (true and false of every kind), its extraction and API.

The failure classes of issue 13 are in test_verify_classes.py; hostile input, threads and processes in
test_verify_bounds.py."""

import pytest

from mathenv.verify import REASONS, Verdict, extract_answer, gold_answer, score, score_batch
from research.casebook import rewritten_cases, tricky_cases

CASES = tricky_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind}-{c.correct}-{i}" for i, c in enumerate(CASES)])
def test_case_table(case):
    verdict = score(case.response, case.gold)
    assert isinstance(verdict, Verdict)
    assert verdict.correct is case.correct, (case, verdict)
    assert bool(verdict) is case.correct  # `if score(...)` means correct, for wrong answers too
    assert verdict.reason in REASONS


def test_every_kind_has_true_and_false_cases():
    kinds = {}
    for c in CASES:
        kinds.setdefault(c.kind.split("_")[0], set()).add(c.correct)
    one_sided = [k for k, v in kinds.items() if v != {True, False} and k not in ("no", "gold", "extract")]
    assert not one_sided, one_sided


def test_rewrites_of_real_gold_answers(math500_rows, gsm8k_test_rows):
    golds = [r["answer"] for r in math500_rows[:150]] + [
        gold_answer(r["answer"]) for r in gsm8k_test_rows[:150]
    ]
    cases = rewritten_cases(golds, seed=3)
    wrong = [
        (c.response[-50:], c.gold, c.correct) for c in cases if score(c.response, c.gold).correct != c.correct
    ]
    assert not wrong, wrong[:10]


def test_reference_solutions_are_correct(math500_rows):
    verdicts = score_batch([r["solution"] for r in math500_rows], [r["answer"] for r in math500_rows])
    accuracy = sum(v.correct for v in verdicts) / len(verdicts)
    assert accuracy >= 0.99, [
        (r["answer"], v) for r, v in zip(math500_rows, verdicts, strict=True) if not v.correct
    ]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("so \\boxed{\\frac{1}{\\sqrt{2}}} is it", "\\frac{1}{\\sqrt{2}}"),
        ("\\boxed 5 apples", "5"),
        ("#### 1,234", "1,234"),
        ("The final answer is: 17.", "17"),
        ("Answer: $3.5$", "3.5"),
        ("7 and then 12", "12"),
        ("nothing here", None),
        ("so $\\sqrt3$ it is", "\\sqrt3"),
        ("we get \\(\\frac{1}{2}\\) and 7 more", "7"),
        ("Final Answer: The final answer is 7.78.", "7.78"),
        ("\\boxed{1}, \\boxed{2} and \\boxed{3}", "1, 2, 3"),
    ],
)
def test_extraction(response, expected):
    assert extract_answer(response) == expected


def test_last_number_fallback_can_be_switched_off():
    assert score("I think it is 42", "42").correct
    off = score("I think it is 42", "42", last_number=False)
    assert not off.correct and off.reason == "no_answer"


@pytest.mark.parametrize(
    ("response", "gold"),
    [
        ("I think 3 is it", "\\sqrt{3}"),
        ("so that q a = 9", "q=9"),
        ("it is 2 then", "(1,2)"),
        ("gives x = 4 at last", "x^2"),
    ],
)
def test_last_number_fallback_is_off_where_the_gold_is_no_plain_number(response, gold):
    assert score(response, gold) == Verdict(False, "no_answer", None)


@pytest.mark.parametrize(
    ("response", "gold", "correct"),
    [
        ("x^2+1", "1+x^2", True),
        ("\\frac{1}{2}", "0.5", True),
        ("(1, 2)", "(2, 1)", False),
        ("Even", "\\text{Even}", True),
    ],
)
def test_a_short_response_of_no_prose_is_the_answer(response, gold, correct):
    assert score(response, gold).correct is correct


def test_reasons():
    assert score("I do not know.", "5").reason == "no_answer"
    assert score("\\boxed{6}", "5").reason == "wrong"
    assert score("\\boxed{@@}", "\\frac{1}{2}").reason == "unparsable"
    assert score("\\boxed{x+1}", "x+2").reason == "wrong"
    assert score("\\boxed{\\text{Bob}}", "\\text{Evelyn}").reason == "wrong"
    # an answer stating no number where the gold is one: decided without math-verify, with the reason it would
    # give (nothing left to read, or brackets that do not close: unparsable)
    assert score("\\boxed{83 + 64}", "147").reason == "wrong"
    assert score("\\boxed{@@}", "147").reason == "unparsable"
    assert score("\\boxed{(5}", "5").reason == "unparsable"
    assert score("\\boxed{}", "5").reason == "unparsable"
    assert score("\\boxed{x/x}", "1").reason == "wrong"


def test_score_batch_matches_score_and_checks_lengths():
    responses = [c.response for c in CASES]
    golds = [c.gold for c in CASES]
    assert score_batch(responses, golds) == [score(r, g) for r, g in zip(responses, golds, strict=True)]
    with pytest.raises(ValueError, match="one gold answer per response"):
        score_batch(responses, golds[:-1])


def test_score_batch_in_worker_processes_agrees():
    responses = [c.response for c in CASES] * 2
    golds = [c.gold for c in CASES] * 2
    assert score_batch(responses, golds, processes=2) == score_batch(responses, golds, processes=1)


@pytest.mark.parametrize(
    "response, gold, lenient, strict",
    [
        ("\\boxed{83 + 64}", "147", True, False),
        ("\\boxed{2^{10}}", "1024", True, False),
        ("\\boxed{147}", "147", True, True),
        ("\\boxed{\\frac{1}{2}}", "0.5", True, True),
        ("\\boxed{50\\%}", "50", True, True),  # a percentage is a number
        ("\\boxed{x + 1}", "x + 1", True, True),  # the gold is no number: equality as usual
        ("\\boxed{\\frac{6}{12}}", "\\frac12", True, False),  # the reduction left undone
        ("\\boxed{x = 147}", "147", True, True),  # the value stated
        ("\\boxed{\\sqrt{4}}", "\\sqrt{4}", True, True),  # the gold is no number in final form
        ("\\boxed{007}", "7", True, False),  # zeros padding the answer: no final form
        (
            "\\boxed{7}",
            "007",
            True,
            True,
        ),  # zeros padding the gold: storage (AIME's three digits), its value counts
        ("\\boxed{\\frac{1}{2}}", "\\frac{2}{4}", True, False),  # a gold left unreduced asks for that form
        ("\\boxed{2/4}", "\\frac{2}{4}", True, True),
    ],
)
def test_numbers_only_wants_a_number_where_the_gold_is_one(response, gold, lenient, strict):
    assert score(response, gold, numbers_only=False).correct is lenient
    assert score(response, gold).correct is strict  # on by default
    assert [v.correct for v in score_batch([response], [gold])] == [strict]
    assert [v.correct for v in score_batch([response], [gold], numbers_only=False)] == [lenient]

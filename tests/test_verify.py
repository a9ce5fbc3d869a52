"""The verifier on a broad case table (true and false of every kind) and on hostile inputs."""

import random
import threading
import time

import pytest

from mathenv.verify import REASONS, Verdict, extract_answer, gold_answer, score, score_batch
from mathenv.verify.casebook import rewritten_cases, tricky_cases

CASES = tricky_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind}-{c.correct}-{i}" for i, c in enumerate(CASES)])
def test_case_table(case):
    verdict = score(case.response, case.gold)
    assert isinstance(verdict, Verdict)
    assert verdict.correct is case.correct, (case, verdict)
    assert verdict.reason in REASONS


def test_every_kind_has_true_and_false_cases():
    kinds = {}
    for c in CASES:
        kinds.setdefault(c.kind.split("_")[0], set()).add(c.correct)
    one_sided = [k for k, v in kinds.items() if v != {True, False} and k not in ("no", "gold", "extract")]
    assert not one_sided, one_sided


def test_rewrites_of_real_gold_answers(math500_rows, gsm8k_test_rows):
    golds = [r["answer"] for r in math500_rows[:150]] + [gold_answer(r["answer"]) for r in gsm8k_test_rows[:150]]
    cases = rewritten_cases(golds, seed=3)
    wrong = [(c.response[-50:], c.gold, c.correct) for c in cases if score(c.response, c.gold).correct != c.correct]
    assert not wrong, wrong[:10]


def test_reference_solutions_are_correct(math500_rows):
    verdicts = score_batch([r["solution"] for r in math500_rows], [r["answer"] for r in math500_rows])
    accuracy = sum(v.correct for v in verdicts) / len(verdicts)
    assert accuracy >= 0.99, [(r["answer"], v) for r, v in zip(math500_rows, verdicts, strict=True) if not v.correct]


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
    ],
)
def test_extraction(response, expected):
    assert extract_answer(response) == expected


def test_last_number_fallback_can_be_switched_off():
    assert score("I think 42", "42").correct
    off = score("I think 42", "42", last_number=False)
    assert not off.correct and off.reason == "no_answer"


def test_reasons():
    assert score("nothing", "5").reason == "no_answer"
    assert score("\\boxed{6}", "5").reason == "wrong"
    assert score("\\boxed{@@}", "\\frac{1}{2}").reason == "unparsable"
    assert score("\\boxed{\\text{Bob}}", "\\text{Evelyn}").reason == "wrong"


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


# -- hostile inputs: each returns a clean verdict inside the time bound ----------------------------------
TIMEOUT = 0.5
CEILING = 15.0  # a generous ceiling: the check is that nothing hangs, not how fast it runs


def _random_unicode(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(chr(rng.randint(1, 0x2FFFF)) for _ in range(n)).encode("utf-8", "replace").decode("utf-8", "replace")


HOSTILE = {
    "tower_of_powers": "\\boxed{10^10^10^10}",
    "tower_braced": "\\boxed{10^{10^{10^{10}}}}",
    "factorials": "\\boxed{9!!!!!!}",
    "big_factorial": "\\boxed{100000!}",
    "one_megabyte": "1" * 1_000_000,
    "one_megabyte_boxed": "\\boxed{" + "9" * 1_000_000 + "}",
    "nested_braces": "\\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}",
    "unbalanced_braces": "\\boxed{" * 10_000,
    "random_unicode": _random_unicode(5_000, 0),
    "deep_parens": "\\boxed{" + "(" * 5_000 + "1" + ")" * 5_000 + "}",
    "many_boxes": "\\boxed{1} " * 20_000,
    "huge_binomial": "\\boxed{\\binom{10^{9}}{5000}}",
    "huge_number_power": "\\boxed{99999999999^{99999999}}",
    "sympy_heavy": "\\boxed{" + "+".join(f"\\sin(x+{i})^{{{i % 7}}}" for i in range(60)) + "}",
    "null_bytes": "\x00\x00\\boxed{\x00}",
    "not_a_string": 12345,
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_inputs_finish_with_a_clean_verdict(name):
    start = time.perf_counter()
    verdict = score(HOSTILE[name], "x^2+1", timeout=TIMEOUT)
    elapsed = time.perf_counter() - start
    assert isinstance(verdict, Verdict) and verdict.reason in REASONS and not verdict.correct
    assert elapsed < CEILING, f"{name} took {elapsed:.1f}s"


@pytest.mark.parametrize("gold", ["10^10^10^10", "9!!!!!!", "{" * 5000, _random_unicode(500, 1)])
def test_hostile_golds(gold):
    verdict = score("\\boxed{3}", gold, timeout=TIMEOUT)
    assert verdict.reason in REASONS and not verdict.correct


def test_score_off_the_main_thread_uses_the_same_rules():
    out = []
    thread = threading.Thread(target=lambda: out.extend(score(c.response, c.gold) for c in CASES[:30]))
    thread.start()
    thread.join(120)
    assert [v.correct for v in out] == [c.correct for c in CASES[:30]]


def test_unicode_digits_are_not_numbers():
    # Python's \d and Decimal accept digits of every script; answers are read in ASCII digits only
    assert score("\\boxed{\u0663}", "3").reason in ("unparsable", "wrong")
    assert extract_answer("it is \U0001113c") is None


SEMIPRIME = 210000000000000000000000817000000000000000000000763  # two 25-digit primes: minutes of pollard rho


def test_call_with_timeout_interrupts_long_sympy_work_in_main_thread():
    import sympy

    from mathenv.verify.timeout import CallTimeout, call_with_timeout

    start = time.perf_counter()
    with pytest.raises(CallTimeout):
        call_with_timeout(sympy.factorint, (SEMIPRIME,), 0.3)
    assert time.perf_counter() - start < CEILING
    assert call_with_timeout(sympy.factorint, (12,), 0.3) == {2: 2, 3: 1}  # and it still works after


def test_call_with_timeout_interrupts_long_sympy_work_off_main_thread():
    import sympy

    from mathenv.verify.timeout import CallTimeout, call_with_timeout

    out = {}

    def work():
        try:
            call_with_timeout(sympy.factorint, (SEMIPRIME,), 0.3)
            out["slow"] = "finished"
        except CallTimeout:
            out["slow"] = "timeout"
        out["after"] = call_with_timeout(sympy.factorint, (12,), 5.0)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(120)
    assert not thread.is_alive()
    assert out == {"slow": "timeout", "after": {2: 2, 3: 1}}

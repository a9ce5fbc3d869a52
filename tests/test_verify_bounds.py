"""The verifier stays bounded and crash-free on hostile input in the main thread, other threads and worker
processes; works from a thread of a script without a `__main__` guard; and a timeout's helper restart
stays inside the time bound (behaviour, not a speed claim: the margins are generous)."""

import multiprocessing as mp
import random
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from mathenv.verify import REASONS, Verdict, score
from mathenv.verify.timeout import CallTimeout, call_with_timeout

TIMEOUT = 0.25
CEILING = 15.0  # a generous ceiling: the check is that nothing hangs, not how fast it runs
ROOT = Path(__file__).resolve().parent.parent


def _random_unicode(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return (
        "".join(chr(rng.randint(1, 0x2FFFF)) for _ in range(n))
        .encode("utf-8", "replace")
        .decode("utf-8", "replace")
    )


HOSTILE = {
    "tower_of_powers": "\\boxed{9^9^9^9}",
    "tower_braced": "\\boxed{10^{10^{10^{10}}}}",
    "tower_in_math_mode": "so $9^{9^{9^{9}}}$",
    "factorials": "\\boxed{9!!!!!!}",
    "big_factorial": "\\boxed{1000000!}",
    "plain_text_power": "\\boxed{99999999999**99999999}",
    "one_megabyte": "1" * 1_000_000,
    "one_megabyte_boxed": "\\boxed{" + "9" * 1_000_000 + "}",
    "one_megabyte_dollars": "$" * 1_000_000,
    "nested_braces": "\\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}",
    "unbalanced_braces": "\\boxed{" * 10_000,
    "random_unicode": _random_unicode(5_000, 0),
    "deep_parens": "\\boxed{" + "(" * 5_000 + "1" + ")" * 5_000 + "}",
    "deep_fractions": "\\boxed{" + "\\frac{1}{" * 300 + "2" + "}" * 300 + "}",
    "many_boxes": "\\boxed{1} " * 20_000,
    "huge_binomial": "\\boxed{\\binom{10^{9}}{5000}}",
    "sympy_heavy": "\\boxed{" + "+".join(f"\\sin(x+{i})^{{{i % 7}}}" for i in range(60)) + "}",
    "null_bytes": "\x00\x00\\boxed{\x00}",
    "not_a_string": 12345,
}


def _clean(verdict: Verdict) -> bool:
    return isinstance(verdict, Verdict) and verdict.reason in REASONS and not verdict.correct


def _score_all(items: list) -> list[tuple[Verdict, float]]:
    out = []
    for response in items:
        start = time.perf_counter()
        out.append((score(response, "x^2+1", timeout=TIMEOUT), time.perf_counter() - start))
    return out


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_inputs_in_the_main_thread(name):
    [(verdict, elapsed)] = _score_all([HOSTILE[name]])
    assert _clean(verdict), verdict
    assert elapsed < CEILING, f"{name} took {elapsed:.1f}s"


# answers to a plain-number gold go through the final-form rule's own patterns (units after the number)
HOSTILE_TO_A_NUMBER = {
    "letters_then_a_sign": "\\boxed{5" + "a" * 40 + "!}",  # a word split every way would take hours
    "units_then_a_sign": "\\boxed{5" + "ab/" * 300 + "!}",
    "notes_then_a_sign": "\\boxed{5" + "(ab)" * 300 + "+}",
    "powers_then_a_sign": "\\boxed{5" + "a^2" * 300 + "!}",
    "digits_then_a_letter": "\\boxed{" + "1" * 900 + "x}",
    "many_equals": "\\boxed{" + "x=" * 400 + "6}",
    "many_approx": "\\boxed{" + "\\approx" * 100 + "6}",
}


@pytest.mark.parametrize("name", list(HOSTILE_TO_A_NUMBER))
def test_hostile_answers_to_a_number(name):
    start = time.perf_counter()
    verdict = score(HOSTILE_TO_A_NUMBER[name], "5", timeout=TIMEOUT)
    elapsed = time.perf_counter() - start
    assert _clean(verdict), verdict
    assert elapsed < CEILING, f"{name} took {elapsed:.1f}s"


def test_hostile_inputs_in_another_thread():
    out: list = []
    thread = threading.Thread(target=lambda: out.extend(_score_all(list(HOSTILE.values()))))
    thread.start()
    thread.join(len(HOSTILE) * CEILING)
    assert not thread.is_alive()
    assert all(_clean(v) and t < CEILING for v, t in out), out


def test_hostile_inputs_in_a_worker_process():
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        out = pool.submit(_score_all, list(HOSTILE.values())).result(timeout=len(HOSTILE) * CEILING)
    assert all(_clean(v) and t < CEILING for v, t in out), out


@pytest.mark.parametrize(
    "gold", ["9^9^9^9", "1000000!", "{" * 5000, _random_unicode(500, 1), "x" * 1_000_000]
)
def test_hostile_golds(gold):
    assert _clean(score("\\boxed{3}", gold, timeout=TIMEOUT))


def test_a_script_without_a_main_guard_scores_from_a_thread(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(
        textwrap.dedent("""
        import threading
        from mathenv.verify import score

        print("top level ran")  # a spawned helper would run this again and garble the verdicts
        out = []
        thread = threading.Thread(target=lambda: out.append(score("so $\\\\frac{2x}{4}$", "\\\\frac{x}{2}")))
        thread.start()
        thread.join()
        print(out[0].reason)
    """)
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["top", "level", "ran", "correct"], (result.stdout, result.stderr)


def test_the_helper_imports_the_callers_mathenv_not_one_in_the_working_directory(tmp_path):
    """The helper process must run the verifier of the process that started it, even when the working
    directory holds another package called mathenv (a checkout of another version, a user's own module)."""
    (tmp_path / "mathenv").mkdir()
    (tmp_path / "mathenv" / "__init__.py").write_text("raise ImportError('the wrong mathenv')\n")
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); from mathenv.verify import score; "
        r"print(score('so $x \\leq 5$', '5 \\geq x').reason)"
    )  # a case only math-verify decides
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["correct"], (result.stdout, result.stderr)


def _score_in_fork(conn) -> None:
    conn.send(score("so $x \\leq 5$", "5 \\geq x").reason)
    conn.close()


def test_a_forked_child_starts_its_own_helper_and_leaves_the_parents_alone():
    """A child forked after the parent's helper started (a fork-based worker pool, a data loader) gets its
    own helper: sharing the parent's pipes would cross their requests and answers."""
    import multiprocessing as mp

    assert score("so $x \\leq 5$", "5 \\geq x").reason == "correct"  # the parent's helper is running
    ctx = mp.get_context("fork")
    for _ in range(2):
        parent_end, child_end = ctx.Pipe()
        child = ctx.Process(target=_score_in_fork, args=(child_end,))
        child.start()
        assert parent_end.recv() == "correct"
        child.join(60)
        assert child.exitcode == 0
    assert score("so $y \\geq 2$", "2 \\leq y").reason == "correct"  # still served after the children left


SEMIPRIME = 210000000000000000000000817000000000000000000000763  # two 25-digit primes: minutes of pollard rho


def test_a_timeout_and_its_restart_stay_inside_the_bound():
    import sympy

    bound, margin = 1.0, 0.5
    out: dict = {}

    def work():
        call_with_timeout(sympy.factorint, (12,), 60.0)  # the helper has started (paid once per process)
        for key in ("first", "second"):  # two in a row: the second runs on the spare that replaced the first
            start = time.perf_counter()
            try:
                call_with_timeout(sympy.factorint, (SEMIPRIME,), bound)
                out[key] = "finished"
            except CallTimeout:
                out[key] = time.perf_counter() - start
        out["after"] = call_with_timeout(sympy.factorint, (12,), 30.0)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(120)
    assert not thread.is_alive()
    assert out["after"] == {2: 2, 3: 1}
    for key in ("first", "second"):
        assert isinstance(out[key], float) and out[key] < bound + margin, out


def test_a_timeout_in_the_main_thread_too():
    import sympy

    start = time.perf_counter()
    with pytest.raises(CallTimeout):
        call_with_timeout(sympy.factorint, (SEMIPRIME,), 0.3)
    assert time.perf_counter() - start < CEILING
    assert call_with_timeout(sympy.factorint, (12,), 30.0) == {2: 2, 3: 1}  # and it still works after

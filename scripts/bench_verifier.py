"""Verifier benchmark: accuracy and throughput of mathenv.verify against math-verify, same cases, same run.

Labelled sets not written by this project (read from the shared data folder, never copied here):
- Math-Verify's own parametrised test cases (`verifier/math_verify_cases.jsonl`: gold, pred, expected);
- real GSM8K model solutions with correctness labels (`gsm8k/model_solutions.jsonl`);
- MATH-500 reference solutions, each scored against its own answer (all correct);
- a MATH-style mix: each MATH-500 reference solution against its answer (correct) and against the answer
  of another question, a different string and value (wrong), with the golds repeated as a trainer sees
  them (several attempts per question: each solution appears four times).
And the project's own sets (written here, labelled by construction): the hand-written tricky cases and
rewrites of GSM8K/MATH-500 golds of `mathenv.verify.casebook`.

math-verify is called as a new user would: `verify(parse(gold), parse(pred))`, default configs, in the
main thread (a dataset's bare gold answers put in `$...$`, as its README writes golds). mathenv starts each set
with cold caches (its helper's too); repeats inside a set hit them.

    python scripts/bench_verifier.py                # print the table
    python scripts/bench_verifier.py --write        # and write it into docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
from _benchtable import machine_line, markdown_table, write_section  # noqa: E402

from mathenv.verify import clear_caches, gold_answer, score  # noqa: E402
from mathenv.verify.casebook import Case, rewritten_cases, tricky_cases  # noqa: E402

ATTEMPTS = 4  # copies of each MATH-style pair, as a trainer scores several attempts per question


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _labelled(rows: list[dict]) -> list[Case]:
    return [Case(r["pred"], r["gold"], bool(r["expected"]), r.get("group", "")) for r in rows]


def math_mix(rows: list[dict]) -> list[Case]:
    """Each reference solution against its own answer (right) and the next answer that differs (wrong)."""
    answers = [r["answer"] for r in rows]
    cases = []
    for i, r in enumerate(rows):
        other = next(a for a in answers[i + 1 :] + answers[:i] if a.replace(" ", "") != r["answer"].replace(" ", ""))
        cases += [Case(r["solution"], r["answer"], True, "own"), Case(r["solution"], other, False, "other")]
    return [c for c in cases for _ in range(ATTEMPTS)]


def build_sets(data: Path) -> list[tuple[str, list[Case], bool]]:
    """(name, cases, whether the golds are bare dataset answers) for each labelled set."""
    math500 = _jsonl(data / "math" / "math500_test.jsonl")
    gsm = _jsonl(data / "gsm8k" / "test.jsonl")
    return [
        ("Math-Verify's test cases (`math_verify_cases.jsonl`)",
         _labelled(_jsonl(data / "verifier" / "math_verify_cases.jsonl")), False),
        ("GSM8K model solutions (`model_solutions.jsonl`)", _labelled(_jsonl(data / "gsm8k" / "model_solutions.jsonl")),
         False),
        ("MATH-500 reference solutions", [Case(r["solution"], r["answer"], True, "solution") for r in math500], True),
        (f"MATH-style mix (500 right + 500 wrong, x{ATTEMPTS} attempts)", math_mix(math500), True),
        ("project's own: tricky cases (`casebook`)", tricky_cases(), True),
        ("project's own: GSM8K + MATH-500 gold rewrites (`casebook`)",
         rewritten_cases([gold_answer(r["answer"]) for r in gsm[:400]] + [r["answer"] for r in math500], seed=1), True),
    ]


def run_ours(cases: list[Case]) -> tuple[list[bool], float]:
    clear_caches()
    gc.collect()
    start = time.perf_counter()
    verdicts = [score(c.response, c.gold) for c in cases]
    return [v.correct for v in verdicts], time.perf_counter() - start


def run_math_verify(cases: list[Case], bare_golds: bool) -> tuple[list[bool], float]:
    """math-verify on each case; `bare_golds`: the golds are a dataset's bare answers (`\\frac{14}{3}`),
    put in `$...$` as math-verify's README writes golds (its parse finds no LaTeX outside delimiters)."""
    from math_verify import parse, verify

    out = []
    start = time.perf_counter()
    for c in cases:
        try:
            out.append(bool(verify(parse(f"${c.gold}$" if bare_golds else c.gold), parse(c.response))))
        except Exception:
            out.append(False)
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data",
                    help="the shared data folder (gsm8k/, math/, verifier/); default ../shared/data")
    ap.add_argument("--write", action="store_true", help="also write the table into docs/benchmarks.md")
    args = ap.parse_args()
    for need in ("verifier/math_verify_cases.jsonl", "gsm8k/model_solutions.jsonl", "gsm8k/test.jsonl",
                 "math/math500_test.jsonl"):
        if not (args.data_dir / need).exists():
            sys.exit(f"{args.data_dir / need} not found: pass --data-dir pointing at the shared data folder")
    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its per-case timeout warnings
    sets = build_sets(args.data_dir)
    warm = tricky_cases()[:8]  # import-time and first-call costs (our helper's start) are paid before timing
    run_ours(warm)
    run_math_verify(warm, True)
    rows = []
    for name, cases, bare_golds in sets:
        ours, t_ours = run_ours(cases)
        ref, t_ref = run_math_verify(cases, bare_golds)
        acc_ours = sum(o == c.correct for o, c in zip(ours, cases, strict=True)) / len(cases)
        acc_ref = sum(r == c.correct for r, c in zip(ref, cases, strict=True)) / len(cases)
        rows.append([name, f"{len(cases):,}", f"{acc_ours:.3f}", f"{acc_ref:.3f}", f"{len(cases) / t_ours:,.0f}",
                     f"{len(cases) / t_ref:,.0f}", f"{t_ref / t_ours:.1f}x"])
        print(" | ".join(rows[-1]), flush=True)
    table = markdown_table(["labelled set", "cases", "mathenv accuracy", "math-verify accuracy", "mathenv pairs/s",
                            "math-verify pairs/s", "throughput ratio"], rows)
    body = ("## Verifier: mathenv.verify vs math-verify\n\n"
            f"Written by `python scripts/bench_verifier.py --write` on {machine_line()}, math-verify "
            f"{_version('math-verify')}. The first four sets were not written by this project; the last two "
            "were (labelled by construction). math-verify is called as its README shows "
            "(`verify(parse(gold), parse(pred))`, default configs; the bare answers of MATH-500 and of the project's sets put in `$...$`). mathenv starts each set with cold caches; "
            "repeats inside a set (the MATH-style mix scores each pair four times, as a trainer scores several "
            "attempts) hit them. Targets (issue 13): Math-Verify's cases at least math-verify's accuracy "
            "minus 0.01; GSM8K model solutions 1.000 at 10x or more; MATH-500 reference solutions 0.99 or "
            "more; the MATH-style mix at least math-verify's throughput.\n\n" + table + "\n")
    print("\n" + body)
    if args.write:
        write_section("verifier", body)


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    main()

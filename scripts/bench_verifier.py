"""Verifier benchmark: accuracy and throughput of mathenv.verify against math-verify, in the same run.

Case set (built here, labelled by construction): the hand-written tricky cases of
`mathenv.verify.casebook`, plus GSM8K and MATH-500 gold answers rewritten into equivalent and
non-equivalent forms inside whole responses. Also times the env's batch scoring path against a
reset+step loop over the same completions.

    python scripts/bench_verifier.py                 # default: 400 GSM8K + all 500 MATH-500 golds
    python scripts/bench_verifier.py --gsm8k 1319    # every GSM8K test gold
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchtable import machine_line, markdown_table, write_section  # noqa: E402

from mathenv.verify import clear_caches, score, score_batch  # noqa: E402
from mathenv.verify.casebook import Case, rewritten_cases, tricky_cases  # noqa: E402
from mathenv.verify.extract import gold_answer  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def build_cases(n_gsm8k: int, n_math: int, data: Path) -> dict[str, list[Case]]:
    gsm = [json.loads(line) for line in (data / "gsm8k" / "test.jsonl").read_text().splitlines()[:n_gsm8k]]
    math = [json.loads(line) for line in (data / "math" / "math500_test.jsonl").read_text().splitlines()[:n_math]]
    return {
        "tricky (hand-written)": tricky_cases(),
        "GSM8K rewrites": rewritten_cases([gold_answer(r["answer"]) for r in gsm], seed=1),
        "MATH-500 rewrites": rewritten_cases([r["answer"] for r in math], seed=2),
        "GSM8K reference solutions": solution_cases([r["answer"] for r in gsm], [gold_answer(r["answer"]) for r in gsm]),
        "MATH-500 reference solutions": solution_cases([r["solution"] for r in math], [r["answer"] for r in math]),
    }


def _different(a: str, b: str) -> bool:
    """Surely different answers: other strings with other digits ("x=5" and "5" are not surely different)."""
    return a.replace(" ", "") != b.replace(" ", "") and re.sub(r"\D", "", a) != re.sub(r"\D", "", b)


def solution_cases(solutions: list[str], golds: list[str]) -> list[Case]:
    """Real text not written for this verifier: each dataset's own worked solution against its gold (right),
    and against the gold of the next question whose answer is a different string (wrong)."""
    cases = [Case(sol, gold, True, "solution") for sol, gold in zip(solutions, golds, strict=True)]
    n = len(golds)
    for i, sol in enumerate(solutions):
        j = next((k % n for k in range(i + 1, i + n) if _different(golds[k % n], golds[i])), None)
        if j is not None:
            cases.append(Case(sol, golds[j], False, "solution_swapped"))
    return cases


def run_ours(cases: list[Case]) -> tuple[list[bool], float]:
    clear_caches()  # every pair scored cold: no help from answers seen before
    gc.collect()
    start = time.perf_counter()
    verdicts = [score(c.response, c.gold) for c in cases]
    return [v.correct for v in verdicts], time.perf_counter() - start


def run_math_verify(cases: list[Case]) -> tuple[list[bool], float]:
    from math_verify import parse, verify

    out = []
    start = time.perf_counter()
    for c in tqdm(cases, desc="math-verify", leave=False):
        gold = gold_answer(c.gold)
        try:
            out.append(bool(verify(parse(f"${gold}$"), parse(c.response))))
        except Exception:
            out.append(False)
    return out, time.perf_counter() - start


def bench_env_batch(n: int = 4096) -> tuple[float, float]:
    """Seconds for reset+step over n episodes vs one env.score call on the same n completions."""
    import gymnasium as gym

    import mathenv  # noqa: F401

    env = gym.make("MathReasoning-v0", num_questions=2000)
    ids = [i % 2000 for i in range(n)]
    answers = [f"The answer is {q.answer if i % 3 else int(q.answer) + 1}." for i, q in
               enumerate(env.unwrapped.questions[j] for j in ids)]
    clear_caches()
    start = time.perf_counter()
    for qid, a in zip(ids, answers, strict=True):
        env.reset(options={"question_id": qid})
        env.step(a)
    loop = time.perf_counter() - start
    clear_caches()
    start = time.perf_counter()
    env.unwrapped.score(ids, answers)
    batch = time.perf_counter() - start
    return loop, batch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gsm8k", type=int, default=400, help="GSM8K test golds to rewrite")
    ap.add_argument("--math", type=int, default=500, help="MATH-500 golds to rewrite")
    ap.add_argument("--data", type=Path, default=DATA, help="folder holding gsm8k/ and math/ JSONL files")
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    args = ap.parse_args()
    if not (args.data / "gsm8k" / "test.jsonl").exists():
        sys.exit(f"no GSM8K/MATH JSONL under {args.data}; pass --data pointing at a folder with "
                 "gsm8k/test.jsonl and math/math500_test.jsonl")
    try:
        import math_verify  # noqa: F401
    except ImportError:
        sys.exit("math-verify is the reference this benchmark compares against: pip install 'mathenv[dev]'")

    groups = build_cases(args.gsm8k, args.math, args.data)
    warm = tricky_cases()[:6]  # import-time and first-call costs are paid before timing, for both
    run_ours(warm)
    run_math_verify(warm)
    rows = []
    totals = defaultdict(float)
    mistakes: dict[str, list[Case]] = defaultdict(list)
    for name, cases in groups.items():
        ours, t_ours = run_ours(cases)
        ref, t_ref = run_math_verify(cases)
        acc_ours = sum(o == c.correct for o, c in zip(ours, cases, strict=True)) / len(cases)
        acc_ref = sum(r == c.correct for r, c in zip(ref, cases, strict=True)) / len(cases)
        mistakes["mathenv"] += [c for o, c in zip(ours, cases, strict=True) if o != c.correct]
        mistakes["math-verify"] += [c for r, c in zip(ref, cases, strict=True) if r != c.correct]
        rows.append([name, len(cases), f"{acc_ours:.2%}", f"{acc_ref:.2%}", f"{len(cases) / t_ours:,.0f}",
                     f"{len(cases) / t_ref:,.0f}", f"{t_ref / t_ours:.1f}x"])
        for key, value in (("n", len(cases)), ("ok_ours", acc_ours * len(cases)), ("ok_ref", acc_ref * len(cases)),
                           ("t_ours", t_ours), ("t_ref", t_ref)):
            totals[key] += value
    n = totals["n"]
    rows.append(["**all**", int(n), f"{totals['ok_ours'] / n:.2%}", f"{totals['ok_ref'] / n:.2%}",
                 f"{n / totals['t_ours']:,.0f}", f"{n / totals['t_ref']:,.0f}",
                 f"**{totals['t_ref'] / totals['t_ours']:.1f}x**"])
    table = markdown_table(["case set", "cases", "mathenv accuracy", "math-verify accuracy", "mathenv pairs/s",
                            "math-verify pairs/s", "throughput ratio"], rows)

    # batch scoring: one process vs a warm pool of two, on unique pairs; env batch path vs reset+step
    unique = [c for cases in groups.values() for c in cases]
    responses, golds = [c.response for c in unique], [c.gold for c in unique]
    score_batch(responses[:64], golds[:64], processes=2)  # start the pool's workers outside the timing
    timings = {}
    for procs in (1, 2):
        clear_caches()
        start = time.perf_counter()
        score_batch(responses, golds, processes=procs)
        timings[procs] = time.perf_counter() - start
    runs = [bench_env_batch() for _ in range(3)]  # best of three: the first run pays one-off warm-up
    loop, batch = min(r[0] for r in runs), min(r[1] for r in runs)
    table2 = markdown_table(
        ["path", "seconds", "reference", "reference seconds", "ratio (reference / path)"],
        [[f"`score_batch`, {len(unique):,} unique pairs, `processes=2` (warm pool)", f"{timings[2]:.2f}",
          "`processes=1`", f"{timings[1]:.2f}", f"{timings[1] / timings[2]:.2f}x"],
         ["`env.unwrapped.score`, 4,096 arithmetic episodes", f"{batch:.3f}", "reset+step loop (through gym.make's wrappers)",
          f"{loop:.3f}", f"{loop / batch:.2f}x"]])

    wrong = "\n".join(f"- {who}: {len(cs)} wrong; e.g. " + "; ".join(
        f"`{c.response[-40:]!r}` vs gold `{c.gold!r}` (label {c.correct})" for c in cs[:3])
        for who, cs in mistakes.items())
    body = (f"## Verifier: mathenv.verify vs math-verify\n\nWritten by `python scripts/bench_verifier.py "
            f"--gsm8k {args.gsm8k} --math {args.math}` on {machine_line()}.\n"
            "Cold caches for mathenv (each pair scored as if never seen); math-verify called as its README "
            "shows (`verify(parse('$gold$'), parse(response))`). Goal: at least math-verify's accuracy and at "
            "least 10x its throughput.\n\n" + table + "\n\nMistakes:\n" + wrong + "\n\nBatch paths:\n\n" + table2
            + "\n")
    print(body)
    if not args.no_write:
        write_section("verifier", body)


if __name__ == "__main__":
    main()

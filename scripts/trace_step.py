"""How far a reader travels to follow one training step: a call trace of `Trainer.step_once`.

    python scripts/trace_step.py                      # GRPO, tiny model, uniform curriculum
    python scripts/trace_step.py --algo vineppo --list

Builds a Trainer (tiny model, 8 questions x 4 attempts), takes one warm-up step, then traces the next step
with `sys.setprofile` and counts, over the project's functions (agents/, curricula/, mathenv/; comprehensions
and lambdas left out), in the order each is first called, as a reader opening each function once would meet
them: the functions, the files they live in, and the file switches (consecutive functions in different
files). The same for the update alone (what `Trainer.learn` calls), and for the whole step with the
verifier's internals (mathenv/verify/) left out. Counts, not timings: it runs anywhere in seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this tree's packages, as the other scripts here
PACKAGES = ("agents", "curricula", "mathenv", "integrations")


def trace(algo: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(first calls of the step, first calls under Trainer.learn) as (file, qualified name)."""
    from agents.algos.registry import get as get_algorithm
    from agents.trainer import Trainer

    prefixes = tuple(str(ROOT / p) + "/" for p in PACKAGES)
    with tempfile.TemporaryDirectory() as out:
        config = get_algorithm(algo).config_class(
            model="tiny",
            max_new_tokens=24,
            questions_per_step=8,
            attempts_per_question=4,
            learning_rate=1e-3,
            levels=[1],
            kl_coef=0.0,
            eval_questions=0,
            steps=3,
            checkpoint_every=0,
            out=out,
            progress=False,
            tensorboard=False,
            plot=False,
            seed=0,
        )
        trainer = Trainer(config)
        trainer.step_once()  # warm-up: lazy set-up stays out of the trace
        step: list[tuple[str, str]] = []
        update: list[tuple[str, str]] = []
        learn_depth: list[int] = []  # stack depth of the active Trainer.learn frame
        depth = 0

        def profile(frame, event, arg):
            nonlocal depth
            if event == "call":
                depth += 1
                code = frame.f_code
                if code.co_filename.startswith(prefixes) and not code.co_name.startswith("<"):
                    where = (str(Path(code.co_filename).relative_to(ROOT)), code.co_qualname)
                    step.append(where)
                    if learn_depth:
                        update.append(where)
                    if where[1] == "Trainer.learn":
                        learn_depth.append(depth)
            elif event == "return":
                if learn_depth and learn_depth[-1] == depth:
                    learn_depth.pop()
                depth -= 1

        sys.setprofile(profile)
        try:
            trainer.step_once()
        finally:
            sys.setprofile(None)
    return list(dict.fromkeys(step)), list(dict.fromkeys(update))


def counts(calls: list[tuple[str, str]]) -> dict[str, int]:
    files = [f for f, _ in calls]
    switches = sum(1 for a, b in zip(files, files[1:], strict=False) if a != b)
    return {"functions": len(calls), "files": len(set(files)), "switches": switches}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algo", default="grpo")
    ap.add_argument("--list", action="store_true", help="print the functions in the order first called")
    a = ap.parse_args(argv)
    step, update = trace(a.algo)
    no_verifier = [c for c in step if not c[0].startswith("mathenv/verify/")]
    for name, calls in (
        ("step", step),
        ("step without mathenv/verify/", no_verifier),
        ("update (Trainer.learn)", update),
    ):
        n = counts(calls)
        print(
            f"{name:30} {n['functions']:3} functions in {n['files']:2} files, {n['switches']:3} file switches"
            + (f": {', '.join(dict.fromkeys(f for f, _ in calls))}" if name.startswith("update") else "")
        )
    if a.list:
        for f, q in step:
            print(f"  {f:32} {q}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

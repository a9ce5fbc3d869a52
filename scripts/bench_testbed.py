"""What one iteration of a registered design costs in CPU time on one core: the digits testbed's design (the
`digits` preset) against today's testbed (the `faithful` preset of the first pre-registered test), and what a
200-iteration run of each would take. The goal (issue 32): a run of the digits design within 5 CPU-minutes.

    python scripts/bench_testbed.py                   # 6 timed iterations of each after one warm-up; prints
    python scripts/bench_testbed.py --steps 10 --write   # also writes the table into docs/benchmarks.md

CPU time (`time.process_time`, one torch thread) rather than wall time: the machine is shared, and CPU time is
what a grid of runs one per core spends. Each preset runs in its own fresh process, in turn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from agents.cli.args import ArgumentParser, exit_on_user_error  # noqa: E402
from mathenv.errors import UserError  # noqa: E402

PRESETS = ("faithful", "digits")
#: the issue's goal for one run of the design
RUN_ITERATIONS, BUDGET_CPU_MINUTES = 200, 5.0


def one(preset: str, steps: int) -> dict[str, float]:
    """Time `steps` iterations of `preset` (after one warm-up) in this process."""
    import torch

    from agents.algos.grpo import GRPOConfig
    from agents.models.policy import resolve
    from agents.presets import RUN_PRESETS
    from agents.trainer import Trainer

    torch.set_num_threads(1)
    values = {k: v for k, v in RUN_PRESETS[preset].items() if k != "algo"}
    values["model"] = resolve(values["model"])
    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            **{
                **values,
                "eval_questions": 0,
                "checkpoint_every": 0,
                "tensorboard": False,
                "plot": False,
                "progress": False,
                "out": out,
                "device": "cpu",
            }
        )
        trainer = Trainer(config)
        trainer.step_once()  # warm-up
        cpu, wall = time.process_time(), time.perf_counter()
        records = [trainer.step_once() for _ in range(steps)]
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    mean = lambda key: sum(r[key] for r in records) / steps  # noqa: E731
    return {
        "cpu_per_step": cpu / steps,
        "wall_per_step": wall / steps,
        "generation": mean("time/generation"),
        "learning": mean("time/learning"),
        "response_tokens": mean("train/response_tokens"),
    }


def main() -> int | None:
    ap = ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=6, help="timed iterations per preset")
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    ap.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    ap.add_argument("--one", nargs=2, metavar=("PRESET", "STEPS"), help=argparse_hidden())
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]))))
        return None
    if args.steps < 1:
        raise UserError(f"--steps must be positive, got {args.steps}")
    results = {}
    for preset in args.presets:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", preset, str(args.steps)],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
        )
        if proc.returncode:
            raise UserError(f"the {preset} run failed: {proc.stderr.strip().splitlines()[-1:]}")
        results[preset] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(preset, results[preset], flush=True)

    from _benchtable import command_line, machine_line, markdown_table, write_section

    reference = results.get("faithful", {}).get("cpu_per_step")
    rows = []
    for preset, r in results.items():
        run_minutes = r["cpu_per_step"] * RUN_ITERATIONS / 60
        rows.append(
            [
                preset,
                f"{r['cpu_per_step']:.2f}",
                f"{r['generation']:.2f}",
                f"{r['learning']:.2f}",
                f"{r['response_tokens']:.0f}",
                f"{r['cpu_per_step'] / reference:.2f}x" if reference else "–",
                f"{run_minutes:.1f}",
                "yes" if run_minutes <= BUDGET_CPU_MINUTES else "no",
            ]
        )
    body = (
        "## Testbed iteration: the digits design vs today's testbed\n\n"
        f"Written by `{command_line(__file__)}` on {machine_line()}; one torch thread, {args.steps} timed "
        "iterations after one warm-up, each preset in a fresh process. Generation and learning are wall seconds "
        "per iteration from the trainer's own timers (the machine is shared: read the CPU column).\n\n"
        + markdown_table(
            [
                "preset",
                "CPU-s per iteration",
                "generation (s)",
                "learning (s)",
                "mean response tokens",
                "ratio to faithful",
                f"{RUN_ITERATIONS}-iteration run (CPU-min)",
                f"within {BUDGET_CPU_MINUTES:g} CPU-min",
            ],
            rows,
        )
    )
    print(body)
    if args.write:
        write_section("testbed-step", body)
    return None


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main))

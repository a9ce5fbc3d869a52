"""The digits testbed (issue 32): the transfer gate first, then (after docs/preregistration-2.md) the grid.

    python scripts/digits_testbed.py gate --write     # uniform only, 2 seeds never used later, full length:
                                                      # held-out mean@4 at the evaluation temperature must
                                                      # rise >= 3 points from the start policy's

Settings are the `digits` preset (agents/presets.py); `--set key=value` changes one field for an attempt
(each attempt has its own folder under runs/digits/gate/, named by its changes, and its own line in the table).
Resumable: finished runs are reused, cut ones resumed. One run at a time, one torch thread (`--workers`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # research/ is not installed

import mathenv  # noqa: E402, F401  (registers MathReasoning-v0)
from agents.algos.grpo import GRPOConfig  # noqa: E402
from agents.cli.args import exit_on_user_error  # noqa: E402
from agents.models.policy import resolve  # noqa: E402
from agents.presets import DIGITS  # noqa: E402
from mathenv.errors import UserError  # noqa: E402
from research.experiments import grid, tables  # noqa: E402
from research.experiments.reevaluate import EvalSet, reevaluate  # noqa: E402

RUNS = Path("runs/digits")
#: the gate's seeds: never used by the grid
GATE_SEEDS = (900, 901)
#: the gate's rule: uniform's held-out mean@k rises by at least this many points (mean over the seeds)
GATE_POINTS = 3.0
#: the held-out metric: k answers per question at the evaluation temperature, on distinct test texts
HELD_OUT = EvalSet("test", 600, k=4, temperature=0.35, top_p=1.0, pool_size=2400, distinct=True)
TRAIN_POOL = EvalSet("train", None, k=4, temperature=0.35, top_p=1.0)


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`key=value` pairs (values read as JSON where they parse, else as strings) for config fields."""
    fields = set(GRPOConfig.__dataclass_fields__)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in fields:
            raise UserError(
                f"--set {item!r}: give key=value with a config field as key (see agents.train --help)"
            )
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def base_config(**changes: Any) -> GRPOConfig:
    values = {k: v for k, v in DIGITS.items() if k != "algo"}
    values.update(changes)
    values["model"] = resolve(values["model"])  # the warm start, built once here rather than by every worker
    return GRPOConfig(**values)


def attempt_name(changes: dict[str, Any]) -> str:
    return (
        "preset" if not changes else "-".join(f"{k}{v}" for k, v in sorted(changes.items())).replace("/", "_")
    )


def gate(args: argparse.Namespace) -> None:
    changes = parse_sets(args.set)
    folder = RUNS / "gate" / attempt_name(changes)
    runs = [
        grid.Run(
            "grpo",
            "uniform",
            seed,
            base_config(
                **changes, seed=seed, out=str(folder / f"s{seed}"), progress=False, tensorboard=False
            ),
        )
        for seed in GATE_SEEDS
    ]
    print(f"gate: {len(runs)} uniform runs into {folder}", flush=True)
    grid.run_grid(
        runs,
        args.workers,
        1,
        on_done=lambda r, i, n: print(f"[{i}/{n}] {r.run.out} {r.seconds:.0f}s", flush=True),
    )
    config = runs[0].config
    policies = {"start": (config.model, folder), **{r.out.name: (r.final_policy(), r.out) for r in runs}}
    held = reevaluate(policies, config, HELD_OUT, args.workers, 1)
    pool = reevaluate(policies, config, TRAIN_POOL, args.workers, 1)
    gains = [held[r.out.name]["mean@k"] - held["start"]["mean@k"] for r in runs]
    pool_gains = [pool[r.out.name]["mean@k"] - pool["start"]["mean@k"] for r in runs]
    passed = 100 * float(np.mean(gains)) >= GATE_POINTS
    levels = sorted(held["start"]["per_level"], key=int)
    by_level = " ".join(
        f"L{lv} {100 * held['start']['per_level'][lv]['mean@k']:.0f}->"
        + "/".join(f"{100 * held[r.out.name]['per_level'][lv]['mean@k']:.0f}" for r in runs)
        for lv in levels
    )
    line = (
        f"| {attempt_name(changes)} | {', '.join(f'{k}={v}' for k, v in changes.items()) or 'the preset'} | "
        f"{100 * held['start']['mean@k']:.1f} | "
        + ", ".join(f"{100 * g:+.1f}" for g in gains)
        + f" | {100 * np.mean(gains):+.1f} | {100 * pool['start']['mean@k']:.1f} | "
        + ", ".join(f"{100 * g:+.1f}" for g in pool_gains)
        + f" | {'PASS' if passed else 'fail'} |"
    )
    print(line)
    print("held-out mean@k by level, start -> each seed (%):", by_level)
    (folder / "gate.json").write_text(
        json.dumps(
            {"changes": changes, "held_out": held, "train_pool": pool, "line": line}, indent=1, default=str
        )
    )
    if args.write:
        write_gate_table()


def write_gate_table() -> None:
    """Every gate attempt so far (each folder's gate.json), one line each, into docs/results.md."""
    lines = [
        json.loads(p.read_text())["line"]
        for p in sorted((RUNS / "gate").glob("*/gate.json"), key=lambda p: p.stat().st_mtime)
    ]
    body = (
        "### The transfer gate (uniform only)\n\n"
        f"Written by `python scripts/digits_testbed.py gate --write` on {tables.machine_line()}. Each attempt: "
        f"uniform GRPO, seeds {GATE_SEEDS[0]} and {GATE_SEEDS[1]} (never used by the grid), the full run length; "
        f"held-out: {HELD_OUT.num_questions} distinct `test` texts, {HELD_OUT.k} answers each at temperature "
        f"{HELD_OUT.temperature:g}; the gate asks for a mean rise of {GATE_POINTS:g} points. The training pool's "
        "change is shown beside it (not a gate).\n\n"
        "| attempt | changes to the `digits` preset | held-out at start (%) | held-out change per seed (points) "
        "| mean change | training pool at start (%) | training pool change per seed | gate |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(lines)
    )
    tables.write_section("digits-gate", body)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("gate",))
    ap.add_argument(
        "--set", action="append", default=[], help="key=value: change one preset field (repeatable)"
    )
    ap.add_argument("--workers", type=int, default=1, help="runs at a time (one per core, one thread each)")
    ap.add_argument("--write", action="store_true", help="write the stage's table into docs/results.md")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    {"gate": gate}[args.stage](args)
    print(f"{args.stage}: {(time.perf_counter() - start) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main))

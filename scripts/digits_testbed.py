"""The digits testbed (issue 32): the transfer gate first, then (after docs/preregistration-2.md) the grid.

    python scripts/digits_testbed.py gate --write     # uniform only, 2 seeds never used later, full length:
                                                      # held-out mean@4 at the evaluation temperature must
                                                      # rise >= 3 points from the start policy's
    python scripts/digits_testbed.py grid             # the registered arms: primary x 8 seeds, seed by seed,
                                                      # then secondary x 5 (refused until the registration
                                                      # is committed)
    python scripts/digits_testbed.py analyse --write  # gates, Holm-adjusted comparisons, tables and plots

Settings are the `digits` preset (agents/presets.py); `--set key=value` changes one field for an attempt
(each attempt has its own folder under runs/digits/gate/, named by its changes, and its own line in the table).
Resumable: finished runs are reused, cut ones resumed. One torch thread a run, `--workers` runs at a time.
runs/ is ignored by git and gone with a new checkout, so every finished run's results (config, metrics,
summary and re-evaluation scores; not its checkpoints) are copied into research/results/digits/, which is
committed: each stage restores from there first, so a grid continues in a new checkout from its last commit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
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
from research.experiments.analysis import (  # noqa: E402
    holm_across,
    preregistered,
    summarise_cells,
    training_shares,
)
from research.experiments.reevaluate import EvalSet, reevaluate, restore_archive, saving_to  # noqa: E402
from research.experiments.stats import compute_matched_questions, probe_attempts_per_step  # noqa: E402

RUNS = Path("runs/digits")
ROOT = Path(__file__).resolve().parent.parent
#: every finished run's results, committed (research.experiments.archive.save_results), one folder per run
ARCHIVE = ROOT / "research" / "results" / "digits"
REGISTRATION = "docs/preregistration-2.md"
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
    saved = ARCHIVE / "gate" / folder.name
    restore_archive(runs, folder, saved)
    print(f"gate: {len(runs)} uniform runs into {folder}", flush=True)
    grid.run_grid(runs, args.workers, 1, on_done=grid.print_done, archive=saved)
    config = runs[0].config
    policies = {"start": (config.model, folder), **{r.name: (r.final_policy(), r.out) for r in runs}}
    save = saving_to(saved, runs, folder)
    held = reevaluate(policies, config, HELD_OUT, args.workers, 1, on_scored=save)
    pool = reevaluate(policies, config, TRAIN_POOL, args.workers, 1, on_scored=save)
    gains = [held[r.name]["mean@k"] - held["start"]["mean@k"] for r in runs]
    pool_gains = [pool[r.name]["mean@k"] - pool["start"]["mean@k"] for r in runs]
    passed = 100 * float(np.mean(gains)) >= GATE_POINTS
    levels = sorted(held["start"]["per_level"], key=int)
    by_level = " ".join(
        f"L{lv} {100 * held['start']['per_level'][lv]['mean@k']:.0f}->"
        + "/".join(f"{100 * held[r.name]['per_level'][lv]['mean@k']:.0f}" for r in runs)
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
    record = {"changes": changes, "line": line, "written": time.strftime("%Y-%m-%dT%H:%M:%S")}
    # the runs folder's copy holds the scores too; the archive's, the line (its scores are archived apart)
    (folder / "gate.json").write_text(
        json.dumps({**record, "held_out": held, "train_pool": pool}, indent=1, default=str)
    )
    (saved / "gate.json").write_text(json.dumps(record, indent=1))
    if args.write:
        write_gate_table()


def write_gate_table() -> None:
    """Every gate attempt so far (each archived gate.json, oldest first), one line each, into docs/results.md."""
    attempts = [json.loads(p.read_text()) for p in (ARCHIVE / "gate").glob("*/gate.json")]
    lines = [a["line"] for a in sorted(attempts, key=lambda a: a.get("written", ""))]
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


#: the registered arms (docs/preregistration-2.md): primary with 8 paired seeds, secondary with 5
PRIMARY, PRIMARY_SEEDS = ("uniform", "uniform_cm", "learnability"), 8
SECONDARY = (
    "learnability_rho1",
    "learnability_filter",
    "posterior",
    "greso",
    "speed",
    "pass_rate_band",
    "adarft",
    "mopps",
)
SECONDARY_SEEDS = 5
#: the registered gates' thresholds, each derived from a measurement made before any arm ran
#: (docs/preregistration-2.md, "Validity gates"): half the transfer gate's held-out gain (+6.9), half its uniform
#: zero-advantage share (73.6%), half the fitted simulator's run-long drop of learnability's share (7.8 points)
GATES: dict[str, float] | None = {"min_gain": 0.0345, "min_zero_share": 0.368, "min_share_drop": 0.039}


def design_arms(config: GRPOConfig) -> list[grid.Arm]:
    """Every registered arm: the paper's buffer (the `recommended` preset scaled to the batch) at rho 0.5 and 1,
    compute-matched uniform (as many attempts a step as learnability's training and probe attempts), the 4x
    in-batch filter, the posterior sampler and the selectors of issue 33 at their papers' defaults."""
    learn = grid.learnability_options(config.questions_per_step, config.num_questions, preset="recommended")
    matched = compute_matched_questions(
        config.questions_per_step, config.attempts_per_question, probe_attempts_per_step(learn), 0.0
    )
    named = {
        "uniform": grid.Arm("uniform"),
        "uniform_cm": grid.Arm("uniform_cm", "uniform", overrides={"questions_per_step": matched}),
        "learnability": grid.Arm("learnability", "learnability", dict(learn)),
        "learnability_rho1": grid.Arm("learnability_rho1", "learnability", {**learn, "rho": 1.0}),
        "learnability_filter": grid.Arm("learnability_filter", "learnability_filter", {"ratio": 4}),
        **{
            name: grid.Arm(name, name)
            for name in ("posterior", "greso", "speed", "pass_rate_band", "adarft", "mopps")
        },
    }
    return [named[n] for n in PRIMARY + SECONDARY]


def registered() -> None:
    """Refuse to run an arm before the registration is committed, unchanged since, with its gates set."""
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "log", "--format=%h", "-1", "--", REGISTRATION],
        capture_output=True,
        text=True,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", REGISTRATION], capture_output=True, text=True
    ).stdout.strip()
    if not tracked or dirty or GATES is None:
        raise UserError(
            f"{REGISTRATION} must be committed (and unchanged since) with GATES set in this script before any "
            "arm of the design runs: write and commit the registration first"
        )


def planned() -> list[grid.Run]:
    """Primary arms for seeds 0-7, then secondary for 0-4, seed by seed (a grid cut short stays balanced)."""
    config = base_config()
    arms = design_arms(config)
    primary = [a for a in arms if a.name in PRIMARY]
    secondary = [a for a in arms if a.name in SECONDARY]
    runs = grid.plan({"grpo": config}, {"grpo": primary}, PRIMARY_SEEDS, RUNS / "grid")
    return runs + grid.plan({"grpo": config}, {"grpo": secondary}, SECONDARY_SEEDS, RUNS / "grid")


def run_grid(args: argparse.Namespace) -> None:
    unknown = sorted(set(args.only or ()) - set(PRIMARY + SECONDARY))
    if unknown:
        raise UserError(
            f"--only {' '.join(unknown)}: not an arm of the design; choose from {' '.join(PRIMARY + SECONDARY)}"
        )
    registered()
    runs = [r for r in planned() if not args.only or r.arm in args.only]
    print(f"grid: {len(runs)} runs, {args.workers} at a time, into {RUNS / 'grid'}", flush=True)
    grid.run_grid(runs, args.workers, 1, on_done=grid.print_done, archive=ARCHIVE)
    print(f"results in {ARCHIVE.relative_to(ROOT)}: commit it to keep them", flush=True)


def analyse(args: argparse.Namespace) -> None:
    every = planned()
    restore_archive(every, RUNS, ARCHIVE)
    runs = [r for r in every if grid.finished(r)]
    if not runs:
        raise UserError("no finished run of the grid yet: python scripts/digits_testbed.py grid")
    if GATES is None:
        raise UserError(f"GATES is not set: the analysis reads the thresholds registered in {REGISTRATION}")
    config = runs[0].config
    policies = {"start": (config.model, RUNS), **{r.name: (r.final_policy(), r.out) for r in runs}}
    save = saving_to(ARCHIVE, runs, RUNS)
    held = reevaluate(policies, config, HELD_OUT, args.workers, 1, on_scored=save)
    pool = reevaluate(policies, config, TRAIN_POOL, args.workers, 1, on_scored=save)
    pre = holm_across({"held_out": preregistered(held, runs, zero_share="zero_advantage_trained", **GATES)})[
        "held_out"
    ]
    secondary = preregistered(
        held,
        runs,
        zero_share="zero_advantage_trained",
        pairs=[(arm, "uniform") for arm in SECONDARY if sum(r.arm == arm for r in runs) >= 2],
        **GATES,
    )
    records = grid.records_by_cell(runs)
    summaries, budgets = summarise_cells(records)
    shares = {r.name: training_shares(records[r.cell][r.seed]) for r in runs}
    body = (
        f"### The second pre-registered test (GRPO on the digits testbed)\n\nWritten by "
        f"`{tables.command_line(__file__, sys.argv[1:])}` on {tables.machine_line()}; {len(runs)} finished "
        f"runs of {len(every)}. Design: [{REGISTRATION.removeprefix('docs/')}]"
        f"({REGISTRATION.removeprefix('docs/')}).\n\n"
        f"**Held-out** ({held['start']['questions']} distinct `test` texts, {HELD_OUT.k} answers each at "
        f"temperature {HELD_OUT.temperature:g}), start {100 * pre.start:.1f}%. Gates first, then the primary "
        "comparisons (Holm over the two):\n\n"
        + tables.preregistered_table(pre.comparisons, pre.gates)
        + "\n\nSecondary arms against uniform, those with two or more finished seeds (paired by seed; Holm "
        "within the secondary family; read under the gates above):\n\n"
        + (
            tables.preregistered_table(secondary.comparisons, None, label="secondary comparison")
            if secondary.comparisons
            else "(none yet)"
        )
        + "\n\n"
        + tables.comparisons_plot(
            {"primary": pre.comparisons, "secondary": secondary.comparisons},
            (ROOT / "docs" if args.write else RUNS) / "results_digits_comparisons.png",
            "digits testbed (GRPO): held-out mean@4, each arm minus its reference, paired by seed",
        )
        + f"\n\nHeld-out per arm and level:\n\n{tables.reevaluation_table(held, runs, ['mean@k', 'pass@1'])}"
        + f"\n\nTraining pool (all {config.num_questions} questions, the same settings; not a held-out "
        f"result):\n\n{tables.reevaluation_table(pool, runs, ['mean@k', 'pass@1'])}"
        + f"\n\nIn-training curves, paired with uniform by seed:\n\n{tables.cells_table(summaries, budgets)}"
        + "\n\nShares of the groups trained on (registered: a selector's discarded candidates do not count), "
        "then of the questions attempted for training, by arm:\n\n"
        + f"{tables.shares_table(summaries, trained=True)}\n"
        + "\nThe primary arms' curves (each secondary run draws its own, `curves.png` in its folder):\n"
        + tables.plot_links(
            [r.out for r in runs if r.arm in PRIMARY],
            ROOT / "docs" if args.write else RUNS,
            "digits",
            "digits testbed (GRPO), primary arms: mean, min-max over seeds",
        )
    )
    print(body)
    (RUNS / "analysis.json").write_text(
        json.dumps({"held_out": held, "train_pool": pool, "shares": shares}, indent=1, default=str)
    )
    if args.write:
        tables.write_section("digits-grid", body)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("gate", "grid", "analyse"))
    ap.add_argument(
        "--set", action="append", default=[], help="key=value: change one preset field (repeatable)"
    )
    ap.add_argument("--workers", type=int, default=1, help="runs at a time (one per core, one thread each)")
    ap.add_argument("--write", action="store_true", help="write the stage's table into docs/results.md")
    ap.add_argument("--only", nargs="+", default=None, help="grid: run only these arms (the others wait)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    {"gate": gate, "grid": run_grid, "analyse": analyse}[args.stage](args)
    print(f"{args.stage}: {(time.perf_counter() - start) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main))

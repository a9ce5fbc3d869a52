"""The pre-registered test (docs/preregistration.md): learnability against uniform and compute-matched uniform
in the paper's regime on the testbed. Three stages, each resumable (finished runs are reused, cut ones resumed):

    python scripts/faithful.py presweep            # uniform only: the learning rate, by the registered rule
    python scripts/faithful.py grid                # the arms: primary x 8 seeds, then secondary x 5
    python scripts/faithful.py analyse --write     # gates, Holm-adjusted comparisons, tables into docs/results.md

Settings are the `faithful` preset (agents/presets.py); the grid refuses to start before the pre-sweep has
chosen the learning rate and the preset holds it. Output goes to runs/faithful/. Two runs at a time, one torch
thread each (`--workers`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # research/ is not installed

import mathenv  # noqa: E402, F401  (registers MathReasoning-v0)
from agents.algos.grpo import GRPOConfig  # noqa: E402
from agents.cli.args import exit_on_user_error  # noqa: E402
from agents.cli.evaluate import evaluate_questions  # noqa: E402
from agents.models.policy import resolve  # noqa: E402
from agents.presets import FAITHFUL  # noqa: E402
from mathenv.arithmetic import generate  # noqa: E402
from mathenv.errors import UserError  # noqa: E402
from research.experiments import grid, tables  # noqa: E402
from research.experiments.analysis import (  # noqa: E402
    holm_across,
    needs_more_seeds,
    preregistered,
    shares_by_buffer_age,
    summarise_cells,
    training_shares,
)
from research.experiments.heldout import check_held_out, normalise_question  # noqa: E402
from research.experiments.reevaluate import EvalSet, reevaluate, restore_archive, saving_to  # noqa: E402

RUNS = Path("runs/faithful")
DOCS = Path(__file__).resolve().parent.parent / "docs"
#: the grid's finished runs' results (config, metrics, summary, scores; not checkpoints), committed: the grid and
#: the analysis restore them first (research.experiments.archive.save_results), as runs/ is not in git
ARCHIVE = DOCS.parent / "research" / "results" / "faithful"
#: the registered pre-sweep: uniform at these rates, seeds never used by the grid
PRESWEEP_RATES = (1e-5, 3e-5, 1e-4, 3e-4)
PRESWEEP_SEEDS = (100, 101)
#: the learning rate the pre-sweep chose (docs/preregistration.md, "Measurements fixed by the rules" and amendment
#: 1: by training-pool accuracy, the held-out validation set having moved under no rate); None until it has run:
#: the grid refuses to start without it
CHOSEN_RATE: float | None = 3e-4
PRIMARY, PRIMARY_SEEDS = ("uniform", "uniform_cm", "learnability"), 8
SECONDARY, SECONDARY_SEEDS = ("learnability_filter", "posterior"), 5
#: the primary metric: k answers per question at the authors' evaluation temperature
HELD_OUT = EvalSet("test", None, k=4, temperature=0.35, top_p=1.0, pool_size=1800, distinct=True)
TRAIN_POOL = EvalSet("train", None, k=4, temperature=0.35, top_p=1.0)


def base_config(**changes: Any) -> GRPOConfig:
    values = {k: v for k, v in FAITHFUL.items() if k != "algo"}
    values["model"] = resolve(values["model"])  # the warm start, built once here rather than by every worker
    return GRPOConfig(**{**values, **changes})


def validation_questions(config: GRPOConfig) -> list[Any]:
    """The pre-sweep's validation set: distinct test texts of another draw, none of them held out."""
    held = {
        normalise_question(q.question) for q in generate(1800, levels=config.levels, split="test", seed=0)
    }
    out, seen = [], set()
    for q in generate(1000, levels=config.levels, split="test", seed=1):
        key = normalise_question(q.question)
        if key not in held and key not in seen:
            seen.add(key)
            out.append(q)
    return out


def presweep(args: argparse.Namespace) -> None:
    runs = [
        grid.Run(
            "grpo",
            f"uniform-lr{lr:g}",
            seed,
            base_config(
                learning_rate=lr,
                seed=seed,
                out=str(RUNS / "presweep" / f"lr{lr:g}-s{seed}"),
                progress=False,
                tensorboard=False,
            ),
        )
        for seed in PRESWEEP_SEEDS
        for lr in PRESWEEP_RATES
    ]
    print(
        f"pre-sweep: {len(runs)} uniform runs, {args.workers} at a time, into {RUNS / 'presweep'}", flush=True
    )
    grid.run_grid(
        runs,
        args.workers,
        1,
        on_done=lambda r, i, n: print(f"[{i}/{n}] {r.run.out} {r.seconds:.0f}s", flush=True),
    )
    config = runs[0].config
    questions = validation_questions(config)
    check_held_out(
        questions,
        [q for q in generate(config.num_questions, levels=config.levels, split="train")],
        "pre-sweep validation set",
    )
    env = gym.make("MathReasoning-v0", questions=questions, instruction=config.instruction).unwrapped
    validation: dict[str, float] = {}
    for name, model, folder in [("start", config.model, RUNS / "presweep")] + [
        (r.out.name, r.final_policy(), r.out) for r in runs
    ]:
        cache = Path(folder) / ("start_validation.json" if name == "start" else "validation.json")
        if not cache.exists():
            result = evaluate_questions(
                str(model),
                env,
                np.arange(len(questions)),
                k=4,
                temperature=0.35,
                top_p=1.0,
                max_new_tokens=config.max_new_tokens,
                batch_size=config.generation_batch_size,
                seed=0,
                device="cpu",
            )
            cache.write_text(json.dumps(result))
        validation[name] = json.loads(cache.read_text())["mean@k"]
    policies = {
        "start": (config.model, RUNS / "presweep"),
        **{r.out.name: (r.final_policy(), r.out) for r in runs},
    }
    pool = {
        name: s["mean@k"] for name, s in reevaluate(policies, config, TRAIN_POOL, args.workers, 1).items()
    }
    rates = sorted({r.config.learning_rate for r in runs})
    by_rate = {lr: [r.out.name for r in runs if r.config.learning_rate == lr] for lr in rates}
    registered = choose({lr: float(np.mean([validation[n] for n in names])) for lr, names in by_rate.items()})
    amended = choose({lr: float(np.mean([pool[n] for n in names])) for lr, names in by_rate.items()})
    pct = lambda xs: ", ".join(f"{100 * x:.1f}%" for x in xs)  # noqa: E731
    lines = [
        "| learning rate | validation (held-out texts), per seed | mean | training pool, per seed | mean |",
        "|---|---|---|---|---|",
        f"| start | {pct([validation['start']])} | | {pct([pool['start']])} | |",
    ]
    for lr, names in by_rate.items():
        v, t = [validation[n] for n in names], [pool[n] for n in names]
        lines.append(f"| {lr:g} | {pct(v)} | {100 * np.mean(v):.1f}% | {pct(t)} | {100 * np.mean(t):.1f}% |")
    body = (
        f"### Pre-sweep (uniform only)\n\nWritten by `{tables.command_line(__file__, sys.argv[1:])}` on "
        f"{tables.machine_line()}; accuracy of 4 samples at temperature 0.35 on the {len(questions)} "
        f"validation questions (held-out texts, none in the held-out set) and on the "
        f"{config.num_questions}-question training pool.\n\n"
        + "\n".join(lines)
        + f"\n\nThe registered rule (validation) chooses **{registered:g}**; amendment 1 of "
        f"docs/preregistration.md (training pool) chooses **{amended:g}**.\n"
    )
    print(body)
    if args.write:
        tables.write_section("faithful-presweep", body)


def choose(means: dict[float, float]) -> float:
    """The registered choice: the highest mean, and of rates within 1 point of it the smaller."""
    best = max(means.values())
    return min(lr for lr, m in means.items() if m >= best - 0.01)


def arms(config: GRPOConfig) -> tuple[list[grid.Arm], list[grid.Arm]]:
    learn = grid.learnability_options(config.questions_per_step, config.num_questions, preset="recommended")
    every = grid.standard_arms("grpo", PRIMARY + SECONDARY, config, learn)
    return [a for a in every if a.name in PRIMARY], [a for a in every if a.name in SECONDARY]


def planned() -> list[grid.Run]:
    """Primary arms for seeds 0-7, then secondary for 0-4, seed by seed (a grid cut short stays balanced)."""
    if CHOSEN_RATE is None:
        raise UserError(
            "the learning rate is not chosen yet: run `python scripts/faithful.py presweep` first, "
            "then set CHOSEN_RATE in scripts/faithful.py and the faithful preset to its choice"
        )
    config = base_config(learning_rate=CHOSEN_RATE)
    primary, secondary = arms(config)
    runs = grid.plan({"grpo": config}, {"grpo": primary}, PRIMARY_SEEDS, RUNS / "grid")
    return runs + grid.plan({"grpo": config}, {"grpo": secondary}, SECONDARY_SEEDS, RUNS / "grid")


def run(args: argparse.Namespace) -> None:
    runs = planned()
    print(f"grid: {len(runs)} runs, {args.workers} at a time, into {RUNS / 'grid'}", flush=True)
    grid.run_grid(runs, args.workers, 1, on_done=grid.print_done, archive=ARCHIVE)


def analyse(args: argparse.Namespace) -> None:
    every = planned()
    restore_archive(every, RUNS, ARCHIVE)
    runs = [r for r in every if grid.finished(r)]
    if not runs:
        raise UserError("no finished run of the grid yet: python scripts/faithful.py grid")
    config = runs[0].config
    policies = {"start": (config.model, RUNS), **{r.name: (r.final_policy(), r.out) for r in runs}}
    save = saving_to(ARCHIVE, runs, RUNS)
    held = reevaluate(policies, config, HELD_OUT, args.workers, 1, on_scored=save)
    pool = reevaluate(policies, config, TRAIN_POOL, args.workers, 1, on_scored=save)
    # amendment 1: two primary metrics, each with its own gates, Holm over the four comparisons together
    pre = holm_across({"held_out": preregistered(held, runs), "train_pool": preregistered(pool, runs)})
    extend = needs_more_seeds(pre["train_pool"].comparisons[1])
    lines = [
        f"**Held-out** ({held['start']['questions']} distinct "
        f"held-out texts; the paper's question), start {100 * pre['held_out'].start:.1f}%:\n",
        tables.preregistered_table(pre["held_out"].comparisons, pre["held_out"].gates),
        f"\n**Training pool** ({config.num_questions} questions the arms train on; not a held-out result), "
        f"start {100 * pre['train_pool'].start:.1f}%:\n",
        tables.preregistered_table(pre["train_pool"].comparisons, pre["train_pool"].gates),
        "\nHolm's correction runs over the four primary comparisons. Seed extension (learnability minus "
        f"compute-matched uniform on the training pool): {'**needed**: run seeds 8-11' if extend else 'not needed'}.",
    ]
    records = grid.records_by_cell(runs)
    summaries, budgets = summarise_cells(records)
    shares = {r.name: training_shares(records[r.cell][r.seed]) for r in runs}
    body = (
        f"### The pre-registered test (GRPO)\n\nWritten by `{tables.command_line(__file__, sys.argv[1:])}` on "
        f"{tables.machine_line()}; {len(runs)} finished runs of {len(every)}. Design: "
        f"[docs/preregistration.md](preregistration.md).\n\n"
        + "\n".join(lines)
        + f"\n\nHeld-out ({HELD_OUT.k} samples at {HELD_OUT.temperature}, and greedy), per arm and level:\n\n"
        + tables.reevaluation_table(held, runs, ["mean@k", "pass@1"])
        + f"\n\nTraining pool (all {config.num_questions} questions, the same settings):\n\n"
        + tables.reevaluation_table(pool, runs, ["mean@k", "pass@1"])
        + f"\n\nIn-training curves (200 held-out questions every {config.eval_every} iterations), paired with "
        f"uniform by seed:\n\n{tables.cells_table(summaries, budgets)}\n\nShares of the questions attempted "
        f"for training, by arm:\n\n{tables.shares_table(summaries)}\n"
        + _by_buffer_age(runs, records, shares)
        + tables.plot_links(
            [r.out for r in runs],
            DOCS if args.write else RUNS,
            "faithful",
            "pre-registered test (GRPO): mean and min-max over seeds",
        )
    )
    print(body)
    (RUNS / "analysis.json").write_text(
        json.dumps({"held_out": held, "train_pool": pool, "shares": shares}, indent=1, default=str)
    )
    if args.write:
        tables.write_section("faithful", body)


def _by_buffer_age(
    runs: list[grid.Run],
    records: dict[str, dict[int, list[dict[str, Any]]]],
    shares: dict[str, dict[str, float]],
) -> str:
    """The learnability arm's shares by buffer age (exploratory, not registered): do its picks go stale?"""
    by_run = {r.name: shares_by_buffer_age(records[r.cell][r.seed]) for r in runs if r.arm == "learnability"}
    by_run = {name: ages for name, ages in by_run.items() if ages}
    if not by_run:
        return ""
    uniform = [shares[r.name]["zero_advantage"] for r in runs if r.arm == "uniform"]
    reference = f" (uniform, no buffer: {np.mean(uniform) * 100:.1f}% over training)" if uniform else ""
    return (
        "\nLearnability's training shares by the age of its buffer (exploratory, not registered): the "
        f"zero-advantage share{reference} by iterations since the buffer's last refresh:\n\n"
        f"{tables.buffer_age_table(by_run)}\n"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("presweep", "grid", "analyse"))
    ap.add_argument("--workers", type=int, default=2, help="runs at a time (one per core, one thread each)")
    ap.add_argument("--write", action="store_true", help="write the stage's table into docs/results.md")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    {"presweep": presweep, "grid": run, "analyse": analyse}[args.stage](args)
    print(f"{args.stage}: {(time.perf_counter() - start) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main))

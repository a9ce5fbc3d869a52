"""Reproduce the paper's comparison: learnability vs uniform sampling, at equal steps and at equal compute.

    python scripts/reproduce.py --preset testbed     # the testbed policy: 52 runs (GRPO 5 seeds, PPO/VinePPO 3)
    python scripts/reproduce.py                      # SmolLM2-135M-Instruct on arithmetic: 3 curricula x 3 seeds
    python scripts/reproduce.py --preset testbed --algos grpo --arms uniform learnability --seeds 2 --steps 40

A thin grid over research.experiments. Training settings are parsed exactly as `python -m agents.train` parses
them (`--preset`, default `smollm2-cpu`; `--config FILE.json`; any config field as a flag, e.g. `--steps 40`);
the flags below are the grid's own. Each (algorithm, arm, seed) is one run under `--runs` (finished runs are
reused, cut ones resumed, a folder trained under other settings refused). `uniform_cm` is the compute-matched
uniform baseline: it spends what learnability spends on probe attempts on more questions per step, counting
every attempt the algorithm generates (VinePPO's rollouts of each added question included). The script writes
a table of the runs' own held-out curves (paired with uniform by seed: final, area under the curve, steps to a
common target, equal compute per algorithm, training shares) and, with `--reevaluate N`, every final policy
and the start scored on one common held-out set (k sampled answers plus greedy, per level; checked disjoint
from the training pool), to docs/results.md (`--write`) and curves to docs/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # research/ is not installed

from agents.cli.args import exit_on_user_error  # noqa: E402
from agents.curves import plot  # noqa: E402
from agents.models.policy import resolve  # noqa: E402
from mathenv.errors import UserError  # noqa: E402
from research.experiments import grid, tables  # noqa: E402
from research.experiments.analysis import summarise_cells  # noqa: E402
from research.experiments.reevaluate import EvalSet, reevaluate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: the grid's own defaults per preset: which algorithms and arms, seeds per algorithm, where runs go, the
#: common re-evaluation. The testbed grid's were fixed with its settings (agents.presets.TESTBED).
GRIDS: dict[str, dict[str, Any]] = {
    "testbed": {
        "algos": ["grpo", "ppo", "vineppo"],
        "arms": ["uniform", "learnability", "learnability_filter", "uniform_cm", "posterior"],
        "seeds": {"grpo": 5, "ppo": 3, "vineppo": 3},
        "workers": 2,
        "runs": "runs/reproduce/testbed",
        "reevaluate": 2000,
        "k": 4,
        "tag": "testbed",
    },
    "smollm2-cpu": {
        "algos": ["grpo"],
        "arms": ["uniform", "learnability", "posterior"],
        "seeds": {"grpo": 3},
        "workers": 2,
        "runs": "runs/reproduce/arithmetic",
        "reevaluate": 200,
        "k": 1,
        "tag": "arithmetic-smollm2",
    },
}
DEFAULT_PRESET = "smollm2-cpu"
#: VinePPO: 4 Monte-Carlo completions per state in the grid (the reference's 9 would cost twice as much)
ALGO_DEFAULTS = {"vineppo": {"vine_rollouts": 4}}
#: VinePPO's Monte-Carlo completions per training attempt on the testbed (vine_rollouts 4), measured by the
#: first testbed grid (a8d254b: 859 attempts per step under learnability = 128 training + 51 probe + 680
#: rollouts, i.e. 5.3 per training attempt; 5.5 under the 22-question uniform): what each question added to
#: VinePPO's compute-matched uniform costs on top of its own attempts. The table's attempts per step checks it.
ROLLOUT_COST = {"vineppo": 5.4}


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Any other option is a training setting of python -m agents.train.",
    )
    ap.add_argument("--algos", nargs="+", default=None, help="algorithms (default: the preset's grid)")
    ap.add_argument(
        "--arms",
        nargs="+",
        default=None,
        help="uniform, learnability, learnability_filter, uniform_cm, posterior (default: the preset's grid)",
    )
    ap.add_argument("--seeds", nargs="+", default=None, help="seeds: N for every algorithm, or ALGO=N each")
    ap.add_argument(
        "--learnability-options",
        type=json.loads,
        default=None,
        help="JSON overriding the learnability buffer (e.g. '{\"probe_attempts\": 16}'); use --tag",
    )
    ap.add_argument("--workers", type=int, default=None, help="runs at a time (one per core)")
    ap.add_argument(
        "--threads", type=int, default=None, help="torch threads per run (default: cores / workers)"
    )
    ap.add_argument("--runs", type=Path, default=None, help="where run folders go")
    ap.add_argument(
        "--reevaluate",
        type=int,
        default=None,
        metavar="N",
        help="score every final policy and the start on one common held-out set of N questions (0: no)",
    )
    ap.add_argument("--reevaluate-k", type=int, default=None, help="sampled answers per question")
    ap.add_argument("--reevaluate-temperature", type=float, default=1.0, help="their temperature")
    ap.add_argument("--reevaluate-top-p", type=float, default=1.0, help="their top-p")
    ap.add_argument(
        "--train-subset",
        type=int,
        default=0,
        metavar="N",
        help="also score them on a fixed subset of N questions of the training pool",
    )
    ap.add_argument("--tag", default=None, help="name of the docs/results.md section and plot files")
    ap.add_argument(
        "--write",
        action="store_true",
        help="write the section into docs/results.md and the plots "
        "into docs/ (default: print, plots into --runs)",
    )
    ap.add_argument("--only-finished", action="store_true", help="train nothing: summarise the finished runs")
    args, rest = ap.parse_known_args(argv)
    if not any(t == "--preset" or t.startswith("--preset=") for t in rest):
        rest = ["--preset", DEFAULT_PRESET, *rest]
    preset = (
        rest[rest.index("--preset") + 1]
        if "--preset" in rest
        else next(t for t in rest if t.startswith("--preset=")).split("=", 1)[1]
    )
    defaults = GRIDS.get(preset, {**GRIDS[DEFAULT_PRESET], "tag": None})
    for key, flag in (
        ("algos", "algos"),
        ("arms", "arms"),
        ("workers", "workers"),
        ("reevaluate", "reevaluate"),
        ("k", "reevaluate_k"),
    ):
        if getattr(args, flag) is None:
            setattr(args, flag, defaults[key])
    args.runs = args.runs or Path(defaults["runs"])
    args.tag = args.tag or defaults["tag"] or args.runs.name or "grid"
    seeds = dict(defaults["seeds"])
    for token in args.seeds or []:
        algo, _, n = token.rpartition("=")
        if not n.isdigit():
            raise UserError(f"--seeds takes N or ALGO=N, got {token!r}")
        seeds.update({algo: int(n)} if algo else {a: int(n) for a in args.algos})
    args.seeds = {a: seeds.get(a, max(seeds.values())) for a in args.algos}
    return args, rest


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = parse(argv)
    base = grid.configs_from_argv(rest, args.algos, ALGO_DEFAULTS)
    first = next(iter(base.values()))
    if first.model in ("testbed", "smollm2"):  # resolved once here, not by every worker at once
        base = {a: type(c)(**{**asdict(c), "model": resolve(c.model)}) for a, c in base.items()}
        first = next(iter(base.values()))
    learn = grid.learnability_options(
        first.questions_per_step, first.num_questions or 2000, args.learnability_options
    )
    arms = {a: grid.standard_arms(a, args.arms, c, learn, ROLLOUT_COST.get(a, 0.0)) for a, c in base.items()}
    runs = grid.plan(base, arms, args.seeds, args.runs)
    missing: list[str] = []
    if args.only_finished:
        missing = [r.name for r in runs if not grid.finished(r)]
        runs = [r for r in runs if grid.finished(r)]
    print(f"{len(runs)} runs, {args.workers} at a time, into {args.runs}", flush=True)
    t0 = time.perf_counter()
    grid.run_grid(
        runs,
        args.workers,
        args.threads,
        on_done=grid.print_done,
    )
    wall = time.perf_counter() - t0
    records = grid.records_by_cell(runs)
    summaries, budgets = summarise_cells(records)
    step_seconds = sum(
        x.get("time/step", 0.0) for by_seed in records.values() for recs in by_seed.values() for x in recs
    )
    tag = args.tag
    docs = ROOT / "docs" if args.write else args.runs
    pngs = _plots(runs, tag, docs)
    command = tables.command_line(__file__, argv)
    settings = {k: v for k, v in asdict(first).items() if v is not None and k not in ("out", "seed", "algo")}
    body = (
        f"### {tag}\n\nWritten by `{command}` on {tables.machine_line()}; {len(runs)} runs; this call trained "
        f"for {wall / 60:.1f} min of wall time (finished runs are reused; {args.workers} at a time; "
        f"{step_seconds / 60:.1f} min of training steps summed over the runs).\n\nSettings: "
        f"`{json.dumps(settings, default=str)}`; learnability: `{json.dumps(learn)}`.\n\n"
        f"Held-out pass@1 on each seed's own {first.eval_questions}-question subset, paired with uniform by "
        f"seed:\n\n{tables.cells_table(summaries, budgets)}\n\nShares of the questions attempted for "
        f"training, by arm:\n\n{tables.shares_table(summaries)}\n\n"
        + "\n".join(f"![{p.stem}]({p.name})" for p in pngs)
        + "\n"
    )
    raw: dict[str, Any] = {"budgets": budgets}
    if args.reevaluate:
        t1 = time.perf_counter()
        policies = {"start": (first.model, args.runs), **{r.name: (r.final_policy(), r.out) for r in runs}}
        held = EvalSet(
            "test", args.reevaluate, args.reevaluate_k, args.reevaluate_temperature, args.reevaluate_top_p
        )
        threads = args.threads or grid.threads_per_worker(args.workers, first.device)
        scores = reevaluate(policies, first, held, args.workers, threads)
        metrics = ["mean@k", "pass@1"] if args.reevaluate_k else ["pass@1"]
        body += (
            f"\nEvery final policy and the start on one common held-out set of {args.reevaluate} questions "
            f"(disjoint from the training pool; mean@k: {args.reevaluate_k} answers sampled per question at "
            f"temperature {args.reevaluate_temperature}, top-p {args.reevaluate_top_p}; pass@1: greedy); "
            f"{(time.perf_counter() - t1) / 60:.1f} min in this call (cached scores are read):\n\n"
            f"{tables.reevaluation_table(scores, runs, metrics)}\n"
        )
        raw["reevaluate"] = scores
        if args.train_subset:
            pool = EvalSet(
                "train",
                args.train_subset,
                args.reevaluate_k,
                args.reevaluate_temperature,
                args.reevaluate_top_p,
            )
            train_scores = reevaluate(policies, first, pool, args.workers, threads)
            body += (
                f"\nThe same on a fixed subset of {args.train_subset} questions of the training pool:\n\n"
                f"{tables.reevaluation_table(train_scores, runs, metrics)}\n"
            )
            raw["train_subset"] = train_scores
    if missing:
        body += f"\nNot run (unfinished when this table was written): {', '.join(missing)}.\n"
    print(body)
    args.runs.mkdir(parents=True, exist_ok=True)
    (args.runs / "summary.json").write_text(json.dumps(raw, indent=2, default=str))
    if args.write:
        tables.write_section(f"reproduce-{tag}", body)


def _plots(runs: list[grid.Run], tag: str, folder: Path) -> list[Path]:
    """Mean and min-max curves over seeds per algorithm (left out when matplotlib is not installed)."""
    pngs = []
    for algo in dict.fromkeys(r.algo for r in runs):
        for x in ("step", "compute"):
            png = folder / f"results_{tag}_{algo}_{x}.png"
            try:
                plot(
                    [r.out for r in runs if r.algo == algo],
                    png,
                    x=x,
                    smooth=3,
                    title=f"{tag}: {algo}, mean and min-max over seeds",
                )
            except ImportError:
                return pngs
            pngs.append(png)
    return pngs


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main))

"""Tune the *uniform* baseline on the testbed before any curriculum is compared against it.

    python scripts/sweep_baseline.py                       # stage A: GRPO, every setting x 3 seeds
    python scripts/sweep_baseline.py --stage B --write     # stage B: the chosen setting with PPO and VinePPO

A comparison of curricula means nothing while RL under uniform sampling does not improve the policy, so this
sweep comes first and touches no other curriculum. Every setting in `STAGES` was written down before any of
them ran, and every one is reported (docs/results.md, section `sweep-uniform`), whatever it gives.

Each run trains the testbed's warm-started policy with uniform sampling; its final policy and the start are
scored on one common held-out set (2,000 questions, levels 1-6, checked disjoint from the training pool): greedy pass@1 and the accuracy of 4 answers
sampled at temperature 1 (the training temperature: what RL optimises). Changes are paired with the start,
so the interval is over seeds of training only.

The bar (fixed in advance): greedy *and* sampled accuracy rise, each with its 95% t-interval over 3 seeds
above zero. Selection rule (fixed in advance): among stage-A settings that clear the bar, the one with the
largest mean sampled gain; within 0.5 points of it, the one with the fewest attempts per step. The chosen
setting is then frozen in `agents/presets.py` (TESTBED) and stage B runs it with PPO and VinePPO.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # research/ is not installed

from agents.cli.args import exit_on_user_error  # noqa: E402
from agents.models.policy import resolve  # noqa: E402

#: what every sweep run shares: the testbed preset (warm start, levels 1-6, bare-question prompt, 8 attempts per
from mathenv.errors import UserError  # noqa: E402
from research.experiments import grid, stats, tables  # noqa: E402
from research.experiments.analysis import training_shares  # noqa: E402
from research.experiments.reevaluate import EvalSet, reevaluate  # noqa: E402

#: what every sweep run shares: the testbed preset (warm start, levels 1-6, bare-question prompt, 8 attempts per
#: question, 64 new tokens) with 60 updates at a constant learning rate unless a setting says otherwise
BASE_ARGV = ["--preset", "testbed", "--steps", "60", "--warmup-ratio", "0", "--lr-schedule", "constant"]
ALGO_DEFAULTS = {"vineppo": {"vine_rollouts": 4}}

#: fresh questions: the generator is unlimited, so a 20,000-question pool is barely revisited in 60 steps
FRESH = 20_000
WARMUP_COSINE = {"warmup_ratio": 0.1, "lr_schedule": "cosine"}

#: every setting tried, by stage; written before any ran
STAGES: dict[str, dict[str, dict[str, Any]]] = {
    "A": {  # GRPO: learning rate and schedule, questions per step, pool, a KL anchor
        "A0 previous (3e-4 constant, 16 q, pool 300)": {
            "learning_rate": 3e-4,
            "questions_per_step": 16,
            "num_questions": 300,
        },
        "A1 3e-4 warmup+cosine, 16 q, fresh": {
            "learning_rate": 3e-4,
            "questions_per_step": 16,
            "num_questions": FRESH,
            **WARMUP_COSINE,
        },
        "A2 1e-4 warmup+cosine, 16 q, fresh": {
            "learning_rate": 1e-4,
            "questions_per_step": 16,
            "num_questions": FRESH,
            **WARMUP_COSINE,
        },
        "A3 3e-5 warmup+cosine, 16 q, fresh": {
            "learning_rate": 3e-5,
            "questions_per_step": 16,
            "num_questions": FRESH,
            **WARMUP_COSINE,
        },
        "A4 1e-4 warmup+cosine, 64 q, fresh": {
            "learning_rate": 1e-4,
            "questions_per_step": 64,
            "num_questions": FRESH,
            **WARMUP_COSINE,
        },
        "A5 3e-5 warmup+cosine, 64 q, fresh": {
            "learning_rate": 3e-5,
            "questions_per_step": 64,
            "num_questions": FRESH,
            **WARMUP_COSINE,
        },
        "A6 1e-4 warmup+cosine, 16 q, pool 300": {
            "learning_rate": 1e-4,
            "questions_per_step": 16,
            "num_questions": 300,
            **WARMUP_COSINE,
        },
        "A7 1e-4 warmup+cosine, 16 q, fresh, KL 1e-3": {
            "learning_rate": 1e-4,
            "questions_per_step": 16,
            "num_questions": FRESH,
            "kl_coef": 1e-3,
            **WARMUP_COSINE,
        },
        "A8 1e-4 warmup+cosine, 16 q, fresh, 120 steps": {
            "learning_rate": 1e-4,
            "questions_per_step": 16,
            "num_questions": FRESH,
            "steps": 120,
            **WARMUP_COSINE,
        },
    },
}


def chosen_setting(runs: Path) -> str:
    """Stage A's chosen setting (its selection rule's output, runs/.../stage_A.json); stage B runs it."""
    path = runs / "stage_A.json"
    if not path.exists():
        raise UserError(f"{path} not found: run stage A first (python scripts/sweep_baseline.py --stage A)")
    chosen = json.loads(path.read_text())["chosen"]
    if chosen is None:
        raise UserError("no stage-A setting cleared the bar: there is nothing to freeze for stage B")
    return chosen.split(" | ")[0]


def arms(stage: str, only: list[str] | None) -> list[grid.Arm]:
    """One uniform arm per setting of the stage, named by its id (A0, A1, ...)."""
    return [
        grid.Arm(name.split(" ", 1)[0], "uniform", overrides=setting)
        for name, setting in STAGES[stage].items()
        if not only or name.split(" ", 1)[0] in only
    ]


def table(runs: list[grid.Run], scores: dict[str, dict], start: dict) -> tuple[str, dict[str, Any]]:
    """One row per (setting, algorithm): final accuracy and its change from the start (the start is one policy
    on one common set, so the interval is over seeds of training only)."""
    names = {name.split(" ", 1)[0]: name for name in STAGES.get("A", {}) | STAGES.get("B", {})}
    headers = [
        "setting",
        "algorithm",
        "seeds",
        "attempts per step",
        "greedy pass@1 (%)",
        "greedy change",
        "sampled accuracy (%)",
        "sampled change",
        "clears the bar",
        "train reward, last 5 steps",
        "zero-advantage share",
        "minutes per run",
    ]
    rows, raw = [], {}
    levels = sorted(start.get("per_level") or {}, key=int)
    level_rows = [["start", "", ""] + [tables.fmt(start["per_level"][lv]["pass@1"]) for lv in levels]]
    for cell, by_seed in grid.by_cell(r for r in runs if r.name in scores).items():
        algo, arm = cell.split("-", 1)
        members = [(run, scores[run.name]) for run in by_seed.values()]
        greedy = [s["pass@1"] - start["pass@1"] for _, s in members]
        sampled = [s["mean@k"] - start["mean@k"] for _, s in members]
        records = [run.records() for run, _ in members]
        reward = [
            float(np.mean([r["train/reward"] for r in recs[-5:] if "train/reward" in r])) for recs in records
        ]
        zero = [training_shares(recs)["zero_advantage"] for recs in records]
        minutes = [sum(r.get("time/step", 0.0) for r in recs) / 60 for recs in records]
        config = members[0][0].config
        per_step = config.questions_per_step * config.attempts_per_question
        (g, gh), (s, sh) = stats.mean_ci(greedy), stats.mean_ci(sampled)
        clears = bool(math.isfinite(gh) and math.isfinite(sh) and g - gh > 0 and s - sh > 0)
        setting = names.get(arm, arm)
        raw[f"{setting} | {algo}"] = {
            "greedy_change": greedy,
            "sampled_change": sampled,
            "clears": clears,
            "attempts_per_step": per_step,
            "reward": reward,
            "zero": zero,
        }
        rows.append(
            [
                setting,
                algo,
                len(members),
                per_step,
                tables.fmt_values([x["pass@1"] for _, x in members]),
                tables.fmt(g, gh),
                tables.fmt_values([x["mean@k"] for _, x in members]),
                tables.fmt(s, sh),
                "yes" if clears else "no",
                tables.fmt_values(reward),
                tables.fmt_values(zero),
                f"{np.mean(minutes):.1f}",
            ]
        )
        if levels:
            level_rows.append(
                [setting, algo, len(members)]
                + [
                    tables.fmt_values(
                        [x["per_level"][lv]["pass@1"] - start["per_level"][lv]["pass@1"] for _, x in members]
                    )
                    for lv in levels
                ]
            )
    body = tables.markdown_table(headers, rows)
    if levels:
        body += (
            "\n\nGreedy pass@1 by level on the same set: the start's, then each setting's change (points):\n\n"
            + tables.markdown_table(
                ["setting", "algorithm", "seeds"] + [f"level {lv}" for lv in levels], level_rows
            )
        )
    return body, raw


def choose(raw: dict[str, Any]) -> str | None:
    """The selection rule fixed in advance (module docstring); None when no setting clears the bar."""
    cleared = {k: v for k, v in raw.items() if v["clears"] and k.startswith("A") and k.endswith("| grpo")}
    if not cleared:
        return None
    best = max(float(np.mean(v["sampled_change"])) for v in cleared.values())
    close = [k for k, v in cleared.items() if float(np.mean(v["sampled_change"])) >= best - 0.005]
    return min(
        close, key=lambda k: (cleared[k]["attempts_per_step"], -float(np.mean(cleared[k]["sampled_change"])))
    )


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--stage", default="A", help=f"which settings: {sorted(STAGES)} (B: stage A's chosen setting)"
    )
    ap.add_argument("--algos", nargs="+", default=None, help="default: grpo for A; ppo and vineppo for B")
    ap.add_argument("--only", nargs="*", default=None, help="setting ids to run (e.g. A2 A4); default all")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="runs at a time (one per core)")
    ap.add_argument("--reevaluate", type=int, default=2000, help="questions in the common held-out set")
    ap.add_argument("--runs", type=Path, default=Path("runs/sweep"))
    ap.add_argument("--write", action="store_true", help="write the table into docs/results.md")
    args, rest = ap.parse_known_args(argv)
    if args.stage == "B":  # the chosen stage-A setting, with the other algorithms
        name = chosen_setting(args.runs)
        STAGES["B"] = {name.replace("A", "B", 1): STAGES["A"][name]}
    if args.stage not in STAGES:
        raise UserError(f"--stage must be one of {sorted(STAGES)} (B: stage A's chosen setting)")
    algos = args.algos or (["grpo"] if args.stage == "A" else ["ppo", "vineppo"])
    base = grid.configs_from_argv([*BASE_ARGV, *rest], algos, ALGO_DEFAULTS)
    base = {a: type(c)(**{**asdict(c), "model": resolve(c.model)}) for a, c in base.items()}
    runs = grid.plan(base, {a: arms(args.stage, args.only) for a in algos}, args.seeds, args.runs)
    runs.sort(key=lambda r: -r.config.questions_per_step)  # longest first
    print(f"stage {args.stage}: {len(runs)} runs, {args.workers} at a time", flush=True)
    t0 = time.perf_counter()
    grid.run_grid(
        runs, args.workers, on_done=lambda r, i, n: print(f"[train {i}/{n}] {r.run.name}", flush=True)
    )
    train_minutes = (time.perf_counter() - t0) / 60
    first = next(iter(base.values()))
    t1 = time.perf_counter()
    # the pre-declared bar: sampled at temperature 1, the training temperature (what RL optimises)
    held = EvalSet("test", args.reevaluate, k=4, temperature=1.0)
    policies = {"start": (first.model, args.runs), **{r.name: (r.final_policy(), r.out) for r in runs}}
    scores = reevaluate(
        policies, first, held, args.workers, grid.threads_per_worker(args.workers, first.device)
    )
    start = scores.pop("start")
    body, raw = table(runs, scores, start)
    chosen = choose(raw) if args.stage == "A" else None
    text = (
        f"### Stage {args.stage}\n\nWritten by `{tables.command_line(__file__, argv)}` on "
        f"{tables.machine_line()}: {len(runs)} runs, {train_minutes:.0f} min training and "
        f"{(time.perf_counter() - t1) / 60:.0f} min evaluation in this call (finished runs and cached scores "
        f"are reused). Common held-out set: {args.reevaluate} questions (disjoint from the training pool); "
        f"start: greedy {tables.fmt(start['pass@1'])}%, sampled {tables.fmt(start['mean@k'])}%. Shared "
        f"settings: `{' '.join(BASE_ARGV + rest)}`.\n\n{body}\n"
    )
    if args.stage == "A":
        text += (
            f"\nSelection rule applied: {'chosen: ' + chosen if chosen else 'no setting clears the bar'}.\n"
        )
    print(text)
    args.runs.mkdir(parents=True, exist_ok=True)
    (args.runs / f"stage_{args.stage}.json").write_text(json.dumps({"raw": raw, "chosen": chosen}, indent=2))
    (args.runs / f"stage_{args.stage}.md").write_text(text)
    if args.write:
        tables.write_section(f"sweep-uniform-{args.stage}", text)


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main))

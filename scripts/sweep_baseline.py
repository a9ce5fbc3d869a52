"""Tune the *uniform* baseline on the testbed before any curriculum is compared against it.

    python scripts/sweep_baseline.py                       # stage A: GRPO, every setting x 3 seeds
    python scripts/sweep_baseline.py --stage B --write     # stage B: the chosen setting with PPO and VinePPO

A comparison of curricula means nothing while RL under uniform sampling does not improve the policy, so this
sweep comes first and touches no other curriculum. Every setting in `STAGES` was written down before any of
them ran, and every one is reported (docs/results.md, section `sweep-uniform`), whatever it gives.

Each run trains the testbed's warm-started policy with uniform sampling; its final policy and the start are
scored on one common held-out set (2,000 questions, levels 1-6): greedy pass@1 and the accuracy of 4 answers
sampled at temperature 1 (the training temperature: what RL optimises). Changes are paired with the start,
so the interval is over seeds of training only.

The bar (fixed in advance): greedy *and* sampled accuracy rise, each with its 95% t-interval over 3 seeds
above zero. Selection rule (fixed in advance): among stage-A settings that clear the bar, the one with the
largest mean sampled gain; within 0.5 points of it, the one with the fewest attempts per step. The chosen
setting is then frozen in `scripts/reproduce.py` (TESTBED) and stage B runs it with PPO and VinePPO.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from reproduce import _finished, check_settings, ci, fmt, reevaluate_one, run_one, threads_per_worker  # noqa: E402

#: what every sweep run shares: the testbed (warm start, levels 1-6, bare-question prompt, 8 attempts per
#: question, 64 new tokens, 60 updates), uniform sampling, no KL unless a setting says so
BASE: dict[str, Any] = {
    "dataset": "arithmetic", "levels": [1, 2, 3, 4, 5, 6], "instruction": "", "curriculum": "uniform",
    "attempts_per_question": 8, "max_new_tokens": 64, "temperature": 1.0, "steps": 60, "kl_coef": 0.0,
    "eval_every": 20, "eval_questions": 200, "eval_samples": 2, "checkpoint_every": 20,
    "micro_batch_size": 64, "generation_batch_size": 128, "progress": False, "tensorboard": False,
}

#: fresh questions: the generator is unlimited, so a 20,000-question pool is barely revisited in 60 steps
FRESH = 20_000
WARMUP_COSINE = {"warmup_ratio": 0.1, "lr_schedule": "cosine"}

#: every setting tried, by stage; written before any ran
STAGES: dict[str, dict[str, dict[str, Any]]] = {
    "A": {  # GRPO: learning rate and schedule, questions per step, pool, a KL anchor
        "A0 previous (3e-4 constant, 16 q, pool 300)": {"learning_rate": 3e-4, "questions_per_step": 16,
                                                        "num_questions": 300},
        "A1 3e-4 warmup+cosine, 16 q, fresh": {"learning_rate": 3e-4, "questions_per_step": 16,
                                               "num_questions": FRESH, **WARMUP_COSINE},
        "A2 1e-4 warmup+cosine, 16 q, fresh": {"learning_rate": 1e-4, "questions_per_step": 16,
                                               "num_questions": FRESH, **WARMUP_COSINE},
        "A3 3e-5 warmup+cosine, 16 q, fresh": {"learning_rate": 3e-5, "questions_per_step": 16,
                                               "num_questions": FRESH, **WARMUP_COSINE},
        "A4 1e-4 warmup+cosine, 64 q, fresh": {"learning_rate": 1e-4, "questions_per_step": 64,
                                               "num_questions": FRESH, **WARMUP_COSINE},
        "A5 3e-5 warmup+cosine, 64 q, fresh": {"learning_rate": 3e-5, "questions_per_step": 64,
                                               "num_questions": FRESH, **WARMUP_COSINE},
        "A6 1e-4 warmup+cosine, 16 q, pool 300": {"learning_rate": 1e-4, "questions_per_step": 16,
                                                  "num_questions": 300, **WARMUP_COSINE},
        "A7 1e-4 warmup+cosine, 16 q, fresh, KL 1e-3": {"learning_rate": 1e-4, "questions_per_step": 16,
                                                        "num_questions": FRESH, "kl_coef": 1e-3,
                                                        **WARMUP_COSINE},
        "A8 1e-4 warmup+cosine, 16 q, fresh, 120 steps": {"learning_rate": 1e-4, "questions_per_step": 16,
                                                          "num_questions": FRESH, "steps": 120, **WARMUP_COSINE},
    },
}


def chosen_setting(runs: Path) -> str:
    """Stage A's chosen setting (its selection rule's output, runs/.../stage_A.json); stage B runs it."""
    path = runs / "stage_A.json"
    if not path.exists():
        raise SystemExit(f"{path} not found: run stage A first (python scripts/sweep_baseline.py --stage A)")
    chosen = json.loads(path.read_text())["chosen"]
    if chosen is None:
        raise SystemExit("no stage-A setting cleared the bar: there is nothing to freeze for stage B")
    return chosen.split(" | ")[0]


def _slug(name: str) -> str:
    return name.split(" ", 1)[0]


def jobs_for(stage: str, algos: list[str], seeds: int, runs: Path, model: str, threads: int,
             only: list[str] | None) -> list[dict[str, Any]]:
    out = []
    for name, setting in STAGES[stage].items():
        if only and _slug(name) not in only:
            continue
        for algo in algos:
            for seed in range(seeds):
                run = f"{algo}-uniform-s{seed}"
                job = {**BASE, **setting, "algo": algo, "seed": seed, "model": model, "name": run,
                       "out": str(runs / _slug(name) / run), "threads": threads}
                if algo == "vineppo":
                    job["vine_rollouts"] = 4
                out.append({"setting": name, **job})
    return out


def _train(job: dict[str, Any]) -> dict[str, Any]:
    job = dict(job)
    setting = job.pop("setting")
    return {"setting": setting, **run_one(job)}


def _evaluate_jobs(jobs: list[dict[str, Any]], model: str, runs: Path, n: int, threads: int) -> list[dict]:
    common = {"dataset": "arithmetic", "split": "test", "data_path": None, "levels": BASE["levels"],
              "num_questions": n, "k": 4, "temperature": 1.0, "max_new_tokens": BASE["max_new_tokens"],
              "batch_size": 128, "seed": 0, "device": None, "instruction": BASE["instruction"]}
    out = [{**common, "model": model, "threads": threads, "cache": str(runs / f"reevaluate_start_{n}.json")}]
    for job in jobs:
        policy = Path(job["out"]) / "checkpoints" / f"step_{job['steps']:06d}" / "policy"
        out.append({**common, "model": str(policy), "threads": threads,
                    "cache": str(Path(job["out"]) / f"reevaluate_{n}.json")})
    return out


def _map(fn, items: list, workers: int, label: str) -> list:
    results = []
    if workers > 1:
        with mp.get_context("spawn").Pool(workers) as pool:
            for i, r in enumerate(pool.imap(fn, items), 1):
                results.append(r)
                print(f"[{label} {i}/{len(items)}]", flush=True)
    else:
        for i, item in enumerate(items, 1):
            results.append(fn(item))
            print(f"[{label} {i}/{len(items)}]", flush=True)
    return results


def table(jobs: list[dict[str, Any]], scores: list[dict], start: dict) -> tuple[str, dict[str, Any]]:
    """One row per (setting, algorithm): final accuracy and its change from the start (paired by seed)."""
    from _benchtable import markdown_table

    groups: dict[tuple[str, str], list[tuple[dict, dict]]] = {}
    for job, score in zip(jobs, scores, strict=True):
        groups.setdefault((job["setting"], job["algo"]), []).append((job, score))
    headers = ["setting", "algorithm", "seeds", "attempts per step", "greedy pass@1 (%)", "greedy change",
               "sampled accuracy (%)", "sampled change", "clears the bar", "train reward, last 5 steps",
               "zero-advantage share", "minutes per run"]
    rows, raw = [], {}
    levels = sorted(start.get("per_level") or {}, key=int)
    level_rows = [["start", "", ""] + [fmt(start["per_level"][lv]["pass@1"], math.nan) for lv in levels]]
    for (setting, algo), members in groups.items():
        greedy = [s["pass@1"] - start["pass@1"] for _, s in members]
        sampled = [s["mean@k"] - start["mean@k"] for _, s in members]
        records = [[json.loads(x) for x in (Path(j["out"]) / "metrics.jsonl").read_text().splitlines() if x.strip()]
                   for j, _ in members]
        reward = [float(np.mean([r["train/reward"] for r in recs[-5:] if "train/reward" in r])) for recs in records]
        zero = [float(np.mean([r["train/frac_zero_advantage"] for r in recs if "train/frac_zero_advantage" in r]))
                for recs in records]
        minutes = [sum(r.get("time/step", 0.0) for r in recs) / 60 for recs in records]
        per_step = members[0][0]["questions_per_step"] * members[0][0]["attempts_per_question"]
        (g, gh), (s, sh) = ci(greedy), ci(sampled)
        clears = bool(math.isfinite(gh) and math.isfinite(sh) and g - gh > 0 and s - sh > 0)
        raw[f"{setting} | {algo}"] = {"greedy_change": greedy, "sampled_change": sampled, "clears": clears,
                                      "attempts_per_step": per_step, "reward": reward, "zero": zero}
        rows.append([setting, algo, len(members), per_step, fmt(*ci([x["pass@1"] for _, x in members])),
                     fmt(g, gh), fmt(*ci([x["mean@k"] for _, x in members])), fmt(s, sh),
                     "yes" if clears else "no", fmt(*ci(reward)), fmt(*ci(zero)), f"{np.mean(minutes):.1f}"])
        if levels:
            level_rows.append([setting, algo, len(members)] + [
                fmt(*ci([x["per_level"][lv]["pass@1"] - start["per_level"][lv]["pass@1"] for _, x in members]))
                for lv in levels])
    body = markdown_table(headers, rows)
    if levels:
        body += ("\n\nGreedy pass@1 by level on the same set: the start's, then each setting's change (points):\n\n"
                 + markdown_table(["setting", "algorithm", "seeds"] + [f"level {lv}" for lv in levels], level_rows))
    return body, raw


def choose(raw: dict[str, Any]) -> str | None:
    """The selection rule fixed in advance (module docstring); None when no setting clears the bar."""
    cleared = {k: v for k, v in raw.items() if v["clears"] and k.startswith("A") and k.endswith("| grpo")}
    if not cleared:
        return None
    best = max(float(np.mean(v["sampled_change"])) for v in cleared.values())
    close = [k for k, v in cleared.items() if float(np.mean(v["sampled_change"])) >= best - 0.005]
    return min(close, key=lambda k: (cleared[k]["attempts_per_step"], -float(np.mean(cleared[k]["sampled_change"]))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="A", help=f"which settings: {sorted(STAGES)}")
    ap.add_argument("--algos", nargs="+", default=None, help="default: grpo for A; ppo and vineppo for B")
    ap.add_argument("--only", nargs="*", default=None, help="setting ids to run (e.g. A2 A4); default all")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="runs at a time (one per core)")
    ap.add_argument("--reevaluate", type=int, default=2000, help="questions in the common held-out set")
    ap.add_argument("--runs", type=Path, default=Path("runs/sweep"))
    ap.add_argument("--write", action="store_true", help="write the table into docs/results.md")
    args = ap.parse_args()
    if args.stage == "B":  # the chosen stage-A setting, with the other algorithms
        name = chosen_setting(args.runs)
        STAGES["B"] = {name.replace("A", "B", 1): STAGES["A"][name]}
    if args.stage not in STAGES:
        raise SystemExit(f"--stage must be one of {sorted(STAGES)} (B: stage A's chosen setting)")
    algos = args.algos or (["grpo"] if args.stage == "A" else ["ppo", "vineppo"])
    from agents.warm_start import warm_start

    model = str(warm_start(threads=1))
    threads = threads_per_worker(args.workers)
    jobs = jobs_for(args.stage, algos, args.seeds, args.runs, model, threads, args.only)
    for job in jobs:
        check_settings(Path(job["out"]), {k: v for k, v in job.items() if k != "setting"})
    todo = [j for j in jobs if not _finished(Path(j["out"]), j["steps"])]
    todo.sort(key=lambda j: -j["questions_per_step"])  # longest first
    print(f"stage {args.stage}: {len(jobs)} runs ({len(todo)} to train), {args.workers} at a time", flush=True)
    t0 = time.perf_counter()
    _map(_train, todo, args.workers, "train")
    train_minutes = (time.perf_counter() - t0) / 60
    evals = _evaluate_jobs(jobs, model, args.runs, args.reevaluate, threads)
    t1 = time.perf_counter()
    scores = _map(reevaluate_one, evals, args.workers, "evaluate")
    start, scores = scores[0], scores[1:]
    body, raw = table(jobs, scores, start)
    chosen = choose(raw) if args.stage == "A" else None
    from _benchtable import command_line, machine_line

    command = command_line(__file__)

    text = (f"### Stage {args.stage}\n\nWritten by `{command.strip()}` on {machine_line()}: {len(jobs)} runs, "
            f"{train_minutes:.0f} min training and {(time.perf_counter() - t1) / 60:.0f} min evaluation in this "
            f"call (finished runs and cached scores are reused). Common held-out set: {args.reevaluate} "
            f"questions; start: greedy {fmt(start['pass@1'], math.nan)}%, sampled {fmt(start['mean@k'], math.nan)}%."
            f" Shared settings: `{json.dumps(BASE)}`.\n\n{body}\n")
    if args.stage == "A":
        text += f"\nSelection rule applied: {'chosen: ' + chosen if chosen else 'no setting clears the bar'}.\n"
    print(text)
    args.runs.mkdir(parents=True, exist_ok=True)
    (args.runs / f"stage_{args.stage}.json").write_text(json.dumps({"raw": raw, "chosen": chosen}, indent=2))
    (args.runs / f"stage_{args.stage}.md").write_text(text)
    if args.write:
        from reproduce import write_results

        write_results(f"sweep-uniform-{args.stage}", text)


if __name__ == "__main__":
    main()

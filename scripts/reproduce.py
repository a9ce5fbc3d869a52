"""Reproduce the paper's comparison: learnability vs uniform sampling, at equal steps and at equal compute.

    python scripts/reproduce.py --testbed          # the testbed policy: 52 runs (GRPO 5 seeds, PPO/VinePPO 3)
    python scripts/reproduce.py                    # SmolLM2-135M-Instruct on arithmetic: 3 curricula x 3 seeds
    python scripts/reproduce.py --dataset gsm8k --data-path ../shared/data/gsm8k/train.jsonl \\
        --eval-data-path ../shared/data/gsm8k/test.jsonl
    python scripts/reproduce.py --device cuda --steps 200 --questions-per-step 64   # on a GPU

Each (algorithm, curriculum, seed) is one training run under `--runs` (finished runs are reused, cut ones
resumed). `uniform_cm` is the compute-matched uniform baseline: it spends what learnability spends on probe
attempts on more questions per step, so both generate the same number of attempts per step. The script
writes a table (mean and 95% interval over seeds: held-out pass@1 at the final step and at fixed compute
budgets, the share of trained questions with zero advantage) to docs/results.md and curves to docs/.
`--reevaluate 2000` adds a second table: every final policy and the starting one scored on one common
held-out set (the per-seed subsets logged during training are small and differ by seed).
`--probe-attempts`, `--buffer-size`, `--num-candidates` change the learnability buffer, `--tag` keeps such a
variant's table in its own section.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

RESULTS = ROOT / "docs" / "results.md"
T975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}  # t quantiles by df


#: The testbed grid's settings, frozen from the uniform-only sweep before any curriculum ran on them
#: (scripts/sweep_baseline.py stage A, setting A8, picked by its pre-declared rule: lr 1e-4 with 10% warmup
#: and cosine decay, 16 fresh questions per step from a 20,000-question pool, 120 updates; docs/results.md).
TESTBED: dict[str, Any] = dict(
    algos=["grpo", "ppo", "vineppo"],
    curricula=["uniform", "learnability", "learnability_filter", "uniform_cm", "posterior"],
    seeds=5, ppo_seeds=3, vineppo_seeds=3, attempts=8, steps=120, questions_per_step=16, num_questions=20_000,
    max_new_tokens=64, learning_rate=1e-4, warmup_ratio=0.1, lr_schedule="cosine", warmup_steps=0, kl_coef=0.0,
    eval_every=20, eval_questions=200, eval_samples=2, micro_batch_size=64, generation_batch_size=128,
    vine_rollouts=4, workers=2, runs=Path("runs/reproduce/testbed"), reevaluate=2000, reevaluate_k=4)
#: The real model (SmolLM2-135M-Instruct) on arithmetic levels 1-3: the longest run that fits about two hours
#: on the 2-core CPU (3 curricula x 3 seeds x 12 steps of 8 questions x 4 attempts, two runs at a time, one
#: thread each), then every final policy and the start greedy and sampled once on 200 common held-out
#: questions. Fixed before any of these runs; the earlier one-seed 8-step run used the same optimiser settings.
REAL_MODEL: dict[str, Any] = dict(
    algos=["grpo"], curricula=["uniform", "learnability", "posterior"], seeds=3, ppo_seeds=None, vineppo_seeds=1,
    attempts=4, steps=12, questions_per_step=8, num_questions=1000, max_new_tokens=64, learning_rate=1e-5,
    warmup_ratio=0.0, lr_schedule="constant", warmup_steps=0, kl_coef=0.0, eval_every=6, eval_questions=64,
    eval_samples=1, micro_batch_size=8, generation_batch_size=32, vine_rollouts=4, workers=2, runs=None,
    reevaluate=200, reevaluate_k=1)


def learnability_options(questions_per_step: int, pool: int, **override: int | None) -> dict[str, Any]:
    """The paper's `very_fast` buffer (T=5, N=128, K=64, L=8, rho=0.5 at its batch of 64 questions), scaled to
    `questions_per_step` by `curricula.buffer_options` (N = 2 N_l, K = N_l), the one place that scales it.
    `override` (num_candidates, buffer_size, probe_attempts; None keeps the default) tests the buffer; the
    options are checked against the pool of `pool` questions here, before any run starts."""
    import curricula

    options = curricula.buffer_options("very_fast", questions_per_step)
    options.update({key: v for key, v in override.items() if v is not None})
    curricula.make("learnability", pool, batch_size=questions_per_step, **options)
    return options


def _learn(args: argparse.Namespace) -> dict[str, Any]:
    return learnability_options(args.questions_per_step, args.num_questions,
                                num_candidates=getattr(args, "num_candidates", None),
                                buffer_size=getattr(args, "buffer_size", None),
                                probe_attempts=getattr(args, "probe_attempts", None))


#: the curricula VinePPO runs in the grid: its Monte-Carlo rollouts multiply every attempt's cost, and the
#: filters attempt 4x the questions, so VinePPO x filter costs 4x a VinePPO run (left out: too slow here)
VINEPPO_CURRICULA = ("uniform", "learnability", "uniform_cm", "posterior")


def cells(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One dict of config overrides per run: every algorithm x curriculum, `uniform_cm` (the compute-matched
    uniform baseline: learnability's probe attempts spent on more questions per step) for every algorithm."""
    out = []
    n, G = args.questions_per_step, args.attempts
    learn = _learn(args)
    probe_per_step = learn["num_candidates"] * learn["probe_attempts"] / learn["refresh_every"]
    n_matched = round(n + probe_per_step / G)  # uniform_cm: same attempts per step as learnability
    seeds = {"grpo": args.seeds, "ppo": getattr(args, "ppo_seeds", None) or args.seeds,
             "vineppo": min(args.seeds, args.vineppo_seeds)}
    for algo in args.algos:
        for curriculum in args.curricula:
            if algo == "vineppo" and curriculum not in VINEPPO_CURRICULA:
                continue
            for seed in range(seeds[algo]):
                over: dict[str, Any] = {"algo": algo, "seed": seed, "curriculum": curriculum}
                if curriculum == "learnability":
                    over["curriculum_options"] = learn
                elif curriculum == "learnability_filter":
                    over["curriculum_options"] = {"ratio": 4}
                elif curriculum == "uniform_cm":
                    over.update(curriculum="uniform", questions_per_step=n_matched)
                over["name"] = f"{algo}-{curriculum}-s{seed}"
                out.append(over)
    return out


def base_config(args: argparse.Namespace) -> dict[str, Any]:
    c: dict[str, Any] = {
        "dataset": args.dataset, "data_path": args.data_path, "eval_data_path": args.eval_data_path,
        "levels": args.levels, "num_questions": args.num_questions, "steps": args.steps,
        "questions_per_step": args.questions_per_step, "attempts_per_question": args.attempts,
        "max_new_tokens": args.max_new_tokens, "learning_rate": args.learning_rate, "warmup_steps": args.warmup_steps,
        "warmup_ratio": args.warmup_ratio, "lr_schedule": args.lr_schedule, "kl_coef": args.kl_coef,
        "eval_every": args.eval_every, "eval_questions": args.eval_questions, "eval_samples": args.eval_samples,
        "checkpoint_every": args.eval_every,
        "micro_batch_size": args.micro_batch_size, "generation_batch_size": args.generation_batch_size,
        "instruction": args.instruction, "device": args.device, "progress": False, "tensorboard": False, "temperature": 1.0,
    }
    if args.algos and "vineppo" in args.algos:
        c["vine_rollouts"] = args.vine_rollouts
    return c


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one cell (in a worker process); reuse a finished run, resume a cut one."""
    import torch

    torch.set_num_threads(job.pop("threads"))
    from agents.algorithms import get as get_algorithm
    from agents.trainer import Trainer

    out = Path(job["out"])
    if _finished(out, job["steps"]):
        return {"name": job["name"], "out": str(out), "reused": True}
    if (out / "metrics.jsonl").exists():
        job["resume"] = True
    name = job.pop("name")
    cls = get_algorithm(job["algo"]).config_class
    fields = {f for f in cls.__dataclass_fields__}
    config = cls(**{k: v for k, v in job.items() if k in fields})
    start = time.perf_counter()
    Trainer(config).train()
    return {"name": name, "out": str(out), "seconds": time.perf_counter() - start}


def ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of a 95% t interval (nan when one value)."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    if v.size == 1:
        return float(v[0]), math.nan
    return float(v.mean()), float(T975[min(v.size - 1, 9)] * v.std(ddof=1) / math.sqrt(v.size))


def fmt(mean: float, half: float, pct: bool = True) -> str:
    if not math.isfinite(mean):
        return "–"
    m = 100 * mean if pct else mean
    if not math.isfinite(half):
        return f"{m:.1f}"
    return f"{m:.1f} ± {100 * half if pct else half:.1f}"


def at_budget(records: list[dict], budget: float) -> float | None:
    """Held-out pass@1 interpolated at `budget` attempts generated (None when the run did not get there)."""
    pts = [(r.get("compute/attempts_total", 0), r["eval/pass@1"]) for r in records if r.get("eval/pass@1") is not None]
    pts = [(0.0 if i == 0 else x, y) for i, (x, y) in enumerate(pts)]
    if not pts or pts[-1][0] < budget:
        return None
    xs, ys = zip(*pts, strict=True)
    return float(np.interp(budget, xs, ys))


def reach(records: list[dict], target: float, x_key: str, metric: str = "eval/pass@1") -> float | None:
    """First x (`step` or `compute/attempts_total`) at which the run's held-out `metric` reaches `target`,
    linearly interpolated between its evaluations; None when it never does."""
    pts = [(0.0 if i == 0 else float(r.get(x_key, 0)), r[metric])
           for i, r in enumerate(x for x in records if x.get(metric) is not None)]
    if not pts:
        return None
    if pts[0][1] >= target:
        return pts[0][0]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if y1 >= target:
            return x0 + (x1 - x0) * (target - y0) / (y1 - y0)
    return None


def _to_uniform_final(key: str, groups: dict[str, dict[int, list[dict]]], x_key: str, metric: str
                      ) -> tuple[list[float], int, int]:
    """Per seed, uniform's x at its final step over the cell's x to reach uniform's final `metric` (the same
    seed's held-out subset): > 1 means fewer steps/attempts than uniform. (ratios, seeds reached, seeds)."""
    base = key.split("-", 1)[0] + "-uniform"
    if base not in groups or base == key:
        return [], 0, 0
    ratios, paired = [], 0
    for seed, recs in groups[key].items():
        uni = groups[base].get(seed)
        if uni is None or uni[-1].get(metric) is None:
            continue
        paired += 1
        x = reach(recs, uni[-1][metric], x_key, metric)
        if x is not None and x > 0:
            ratios.append(float(uni[-1].get(x_key, uni[-1]["step"])) / x)
    return ratios, len(ratios), paired


def _paired(a: dict[int, float | None], b: dict[int, float | None]) -> list[float]:
    """a - b over the seeds both have: the same seed means the same initial policy and held-out subset, so
    the difference removes the subset-to-subset spread that dominates each column's interval."""
    return [a[k] - b[k] for k in sorted(a) if k in b and a[k] is not None and b[k] is not None]


def threads_per_worker(workers: int, device: str | None = None) -> int:
    """Torch threads per worker process: the machine's cores shared out on a CPU (torch threads spin when
    oversubscribed), one on a GPU."""
    return max(1, (os.cpu_count() or 1) // workers) if device in (None, "cpu") else 1


def _threads(args: argparse.Namespace) -> int:
    return args.threads or threads_per_worker(args.workers, args.device)


def _cell(name: str) -> tuple[str, int]:
    """'grpo-learnability-s2' -> ('grpo-learnability', 2)."""
    key, seed = re.match(r"(.*)-s(\d+)$", name).groups()
    return key, int(seed)


def _vs_uniform(key: str, by_key: dict[str, dict[int, float | None]]) -> tuple[list[float], str]:
    """The cell's per-seed values minus its algorithm's uniform run of the same seed, and the table entry."""
    base = key.split("-", 1)[0] + "-uniform"
    if base == key:
        return [], "(reference)"
    diffs = _paired(by_key[key], by_key[base]) if base in by_key else []
    return diffs, fmt(*ci(diffs)) if diffs else "–"


def summarise(runs: list[dict[str, Any]]) -> tuple[str, dict, list[float], float]:
    """Markdown table over cells, the raw numbers, the equal-compute budgets (what the cheapest run reached by
    its last step, and half of it) and the runs' summed step time in seconds."""
    groups: dict[str, dict[int, list[dict]]] = {}
    last, seconds = [], 0.0
    for r in runs:
        key, seed = _cell(r["name"])
        recs = [json.loads(x) for x in (Path(r["out"]) / "metrics.jsonl").read_text().splitlines() if x.strip()]
        groups.setdefault(key, {})[seed] = recs
        last.append(recs[-1]["compute/attempts_total"])
        seconds += sum(x.get("time/step", 0.0) for x in recs)
    budgets = [float(math.floor(min(last) / 2)), float(min(last))]
    headers = ["algorithm / curriculum", "seeds", "pass@1 at step 0 (%)", "final pass@1 (equal steps)",
               "final minus step 0 (same seed)", "final minus uniform's (same seed)"]
    headers += [f"pass@1 at {b:,.0f} attempts (equal compute)" for b in budgets]
    headers += [f"{what} to reach uniform's final pass@1: uniform's / this cell's (median; seeds reached)"
                for what in ("steps", "attempts")]
    headers += ["train reward, last 5 steps", "zero-advantage share of trained groups", "attempts per step"]
    rows, raw = [], {}
    finals = {key: {k: s[-1].get("eval/pass@1") for k, s in seeds.items()} for key, seeds in groups.items()}
    for key, by_seed in groups.items():
        seeds = list(by_seed.values())
        first = [s[0].get("eval/pass@1") for s in seeds]
        final = [s[-1].get("eval/pass@1") for s in seeds]
        gain = _paired(finals[key], {k: s[0].get("eval/pass@1") for k, s in by_seed.items()})
        vs_uniform, vs_uniform_entry = _vs_uniform(key, finals)
        per_budget = [[at_budget(s, b) for s in seeds] for b in budgets]
        reward = [float(np.mean([r["train/reward"] for r in s[-5:] if "train/reward" in r])) for s in seeds]
        zero = [float(np.mean([r.get("curriculum/frac_all_solved_of_kept", 0) + r.get("curriculum/frac_none_solved_of_kept", 0)
                               for r in s[1:] if r.get("curriculum/frac_all_solved_of_kept") is not None])) for s in seeds]
        per_step = [s[-1]["compute/attempts_total"] / s[-1]["step"] for s in seeds]
        speedups = []
        for x_key in ("step", "compute/attempts_total"):
            ratios, reached, paired = _to_uniform_final(key, groups, x_key, "eval/pass@1")
            speedups.append("(reference)" if key.endswith("-uniform") else
                            f"{np.median(ratios):.2f}x ({reached}/{paired})" if ratios else f"not reached (0/{paired})")
        raw[key] = {"first": first, "final": final, "gain": gain, "vs_uniform": vs_uniform, "budgets": per_budget,
                    "reward": reward, "zero": zero}
        rows.append([key.replace("-", " / ", 1), len(seeds), fmt(*ci(first)), fmt(*ci(final)), fmt(*ci(gain)),
                     vs_uniform_entry]
                    + [fmt(*ci([x for x in b if x is not None])) + ("" if all(x is not None for x in b) else " (some runs short)")
                       for b in per_budget]
                    + speedups + [fmt(*ci(reward)), fmt(*ci(zero)), f"{np.mean(per_step):.0f}"])
    from _benchtable import markdown_table

    return markdown_table(headers, rows), raw, budgets, seconds


def reevaluate_one(job: dict[str, Any]) -> dict[str, Any]:
    """Greedy pass@1 and sampled accuracy of one policy on the common held-out set (in a worker process);
    cached next to the run, so a second call costs nothing."""
    import torch

    torch.set_num_threads(job.pop("threads"))
    cache = Path(job.pop("cache"))
    if cache.exists():
        saved = json.loads(cache.read_text())
        if saved.get("settings") == job:
            return saved
    from agents.evaluate import evaluate

    result = {"settings": dict(job), **evaluate(**job)}
    cache.write_text(json.dumps(result, indent=2))
    return json.loads(cache.read_text())  # as a later call reads it (level keys become strings)


def reevaluate(results: list[dict[str, Any]], model: str, args: argparse.Namespace) -> tuple[str, dict]:
    """Every run's final policy and the starting policy on one held-out set of `--reevaluate` questions, the
    same for every run: the per-seed subsets the runs log (`eval_questions`) are small and differ by seed, so
    their spread can hide a few points of real difference. Returns a markdown table and the raw numbers."""
    common = dict(dataset=args.dataset, split="test", data_path=args.eval_data_path, levels=args.levels,
                  num_questions=args.reevaluate, k=args.reevaluate_k, temperature=1.0,
                  max_new_tokens=args.max_new_tokens, batch_size=args.generation_batch_size, seed=0,
                  device=args.device, instruction=args.instruction)
    threads = _threads(args)
    jobs = [{**common, "model": model, "threads": threads,
             "cache": str(args.runs / f"reevaluate_start_{args.reevaluate}.json")}]
    names = ["start"]
    for r in results:
        policy = Path(r["out"]) / "checkpoints" / f"step_{args.steps:06d}" / "policy"
        if not policy.exists():
            print(f"re-evaluation: {policy} is missing, {r['name']} left out", flush=True)
            continue
        jobs.append({**common, "model": str(policy), "threads": threads,
                     "cache": str(Path(r["out"]) / f"reevaluate_{args.reevaluate}.json")})
        names.append(r["name"])
    print(f"re-evaluating {len(jobs)} policies on {args.reevaluate} common held-out questions ...", flush=True)
    if args.workers > 1:
        with mp.get_context("spawn").Pool(args.workers) as pool:
            scores = pool.map(reevaluate_one, jobs)
    else:
        scores = [reevaluate_one(j) for j in jobs]
    by_name = dict(zip(names, scores, strict=True))
    start = by_name.pop("start")
    k = args.reevaluate_k
    groups: dict[str, dict[int, dict]] = {}
    for name, score in by_name.items():
        key, seed = _cell(name)
        groups.setdefault(key, {})[seed] = score
    headers = ["algorithm / curriculum", "seeds", "greedy pass@1 (%)", "minus the start's", "minus uniform's (same seed)"]
    if k:
        headers += [f"sampled accuracy, {k} per question (%)", "minus the start's", "minus uniform's (same seed)"]
    rows: list[list[Any]] = [["start (every run's initial policy)", 1, fmt(start["pass@1"], math.nan), "", ""]
                             + ([fmt(start["mean@k"], math.nan), "", ""] if k else [])]
    raw: dict[str, Any] = {"start": {"pass@1": start["pass@1"], "mean@k": start.get("mean@k"),
                                     "per_level": start.get("per_level")}}
    metrics = ["pass@1"] + (["mean@k"] if k else [])
    by_metric = {m: {key: {s: v[m] for s, v in by_seed.items()} for key, by_seed in groups.items()} for m in metrics}
    for key, by_seed in sorted(groups.items()):
        row: list[Any] = [key.replace("-", " / ", 1), len(by_seed)]
        raw[key] = {}
        for metric in metrics:
            values = by_metric[metric][key]
            vs_uniform, vs_uniform_entry = _vs_uniform(key, by_metric[metric])
            gain = [v - start[metric] for v in values.values()]
            row += [fmt(*ci(list(values.values()))), fmt(*ci(gain)), vs_uniform_entry]
            raw[key][metric] = {"values": values, "vs_uniform": vs_uniform}
        rows.append(row)
    from _benchtable import markdown_table

    table = markdown_table(headers, rows)
    levels = sorted(start.get("per_level") or {}, key=int)
    if levels:  # where a change comes from: the frontier gaining, or what was solved being forgotten
        level_rows: list[list[Any]] = [["start (greedy pass@1, %)", ""] + [fmt(start["per_level"][lv]["pass@1"], math.nan)
                                                                          for lv in levels]]
        for key, by_seed in sorted(groups.items()):
            deltas = [[v["per_level"][lv]["pass@1"] - start["per_level"][lv]["pass@1"] for v in by_seed.values()]
                      for lv in levels]
            level_rows.append([key.replace("-", " / ", 1), len(by_seed)] + [fmt(*ci(d)) for d in deltas])
            raw[key]["per_level_change"] = {lv: d for lv, d in zip(levels, deltas, strict=True)}
        n = {lv: start["per_level"][lv]["questions"] for lv in levels}
        table += ("\n\nGreedy pass@1 by difficulty level on the same set: the start's, then each cell's change from it "
                  "(percentage points):\n\n" + markdown_table(
                      ["algorithm / curriculum", "seeds"] + [f"level {lv} ({n[lv]} q)" for lv in levels], level_rows))
    return table, raw


def write_results(section: str, body: str) -> None:
    from _benchtable import write_section

    header = ("# Results: learnability vs uniform\n\nEach section is written by `scripts/reproduce.py` with the "
              "command named in it; rerun the command to refresh it.\n")
    if not RESULTS.exists():
        RESULTS.write_text(header)
    write_section(section, body, doc=RESULTS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testbed", action="store_true", help="the tiny warm-started policy (multi-seed)")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--dataset", default="arithmetic")
    ap.add_argument("--data-path", default=None)
    ap.add_argument("--eval-data-path", default=None)
    ap.add_argument("--levels", type=int, nargs="*", default=None)
    ap.add_argument("--algos", nargs="+", default=None)
    ap.add_argument("--curricula", nargs="+", default=None)
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--vineppo-seeds", type=int, default=None, help="VinePPO costs more: fewer seeds")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--questions-per-step", type=int, default=None)
    ap.add_argument("--attempts", type=int, default=None)
    ap.add_argument("--num-questions", type=int, default=None)
    ap.add_argument("--max-new-tokens", type=int, default=None)
    ap.add_argument("--learning-rate", type=float, default=None)
    ap.add_argument("--warmup-steps", type=int, default=None)
    ap.add_argument("--warmup-ratio", type=float, default=None)
    ap.add_argument("--lr-schedule", default=None, choices=("constant", "linear", "cosine"))
    ap.add_argument("--kl-coef", type=float, default=None)
    ap.add_argument("--vine-rollouts", type=int, default=None)
    ap.add_argument("--eval-samples", type=int, default=None, help="answers sampled per held-out question during "
                                                                    "training, besides the greedy one")
    ap.add_argument("--num-candidates", type=int, default=None, help="learnability: questions probed per refresh")
    ap.add_argument("--buffer-size", type=int, default=None, help="learnability: most learnable questions kept")
    ap.add_argument("--probe-attempts", type=int, default=None, help="learnability: attempts estimating each p")
    ap.add_argument("--eval-every", type=int, default=None)
    ap.add_argument("--eval-questions", type=int, default=None)
    ap.add_argument("--micro-batch-size", type=int, default=None)
    ap.add_argument("--generation-batch-size", type=int, default=None)
    ap.add_argument("--instruction", default=None, help="prompt text after each question (default: the env's; "
                                                         "the testbed: what its warm start used)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--workers", type=int, default=None, help="runs in parallel (testbed: 2, one per core)")
    ap.add_argument("--runs", type=Path, default=None, help="where run folders go")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per run (default: cores / workers)")
    ap.add_argument("--tag", default=None, help="name of the docs/results.md section and plot files (default: "
                                                 "testbed, or dataset-model): keeps a variant's table beside the main one")
    ap.add_argument("--write", action="store_true", help="write the section into docs/results.md and the plots into "
                                                          "docs/ (default: print the table, plots into --runs)")
    ap.add_argument("--ppo-seeds", type=int, default=None, help="seeds of PPO cells (default: --seeds)")
    ap.add_argument("--reevaluate", type=int, default=None, metavar="N",
                    help="also score every run's final policy and the starting policy on one held-out set of N "
                         "questions, the same for all (cached in each run folder)")
    ap.add_argument("--reevaluate-k", type=int, default=None, help="sampled answers per question in --reevaluate "
                                                                     "(0: greedy only; testbed 4, real model 1)")
    ap.add_argument("--only-finished", action="store_true",
                    help="train nothing: summarise the runs that already reached --steps, list the others")
    args = ap.parse_args()
    testbed = args.testbed
    defaults = dict(TESTBED if testbed else REAL_MODEL)
    if defaults["runs"] is None:
        defaults["runs"] = Path("runs/reproduce") / args.dataset
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if testbed:
        # the testbed policy: agents.warm_start's default (0.5M parameters, arithmetic levels 1-6)
        from agents.warm_start import WARM_START_DEFAULTS, warm_start, warm_start_instruction

        print(f"warm start {WARM_START_DEFAULTS} (cached after the first run) ...", flush=True)
        model = str(warm_start())
        if args.instruction is None:
            args.instruction = warm_start_instruction(model)
        if args.levels is None:
            args.levels = list(WARM_START_DEFAULTS["levels"])
    else:
        model = args.model
        if args.levels is None and args.dataset == "arithmetic":
            args.levels = [1, 2, 3]
    base = base_config(args)
    jobs = []
    for cell in cells(args):
        job = {**base, **cell, "model": model, "out": str(args.runs / cell["name"]),
               "threads": _threads(args)}
        jobs.append(job)
    # the cells with the most seeds first (GRPO, then PPO, then VinePPO), so a grid cut short by the clock
    # still holds the comparison's core with as many seeds in every curriculum (seed by seed)
    rank = {"grpo": 0, "ppo": 1, "vineppo": 2}
    jobs.sort(key=lambda j: (rank.get(j["algo"], 3), j["seed"]))
    for job in jobs:  # before any training: a stale folder stops the whole call, not one worker
        check_settings(Path(job["out"]), job)
    missing: list[str] = []
    if args.only_finished:
        done = [j for j in jobs if _finished(Path(j["out"]), args.steps)]
        missing = [j["name"] for j in jobs if j not in done]
        jobs = done
    print(f"{len(jobs)} runs x {args.steps} steps, {args.workers} at a time, into {args.runs}", flush=True)
    start = time.perf_counter()
    results = []
    if args.workers > 1:
        with mp.get_context("spawn").Pool(args.workers) as pool:
            for i, r in enumerate(pool.imap_unordered(run_one, jobs), 1):
                results.append(r)
                print(f"[{i}/{len(jobs)}] {_done(r)}", flush=True)
    else:
        for i, job in enumerate(jobs, 1):
            r = run_one(dict(job))
            results.append(r)
            print(f"[{i}/{len(jobs)}] {_done(r)}", flush=True)
    wall = time.perf_counter() - start
    results.sort(key=lambda r: r["name"])
    table, raw, budgets, step_seconds = summarise(results)
    from plot import plot

    tag = args.tag or ("testbed" if testbed else f"{args.dataset}-{Path(model).name}")
    pngs = []
    for algo in args.algos:
        runs = [Path(r["out"]) for r in results if r["name"].startswith(algo + "-")]
        if not runs:
            continue
        for x in ("step", "compute"):
            png = (ROOT / "docs" if args.write else args.runs) / f"results_{tag}_{algo}_{x}.png"
            plot(runs, png, x=x, smooth=3, title=f"{tag}: {algo}, mean and min-max over seeds")
            pngs.append(png)
    from _benchtable import command_line, machine_line

    command = command_line(__file__)

    settings = {k: v for k, v in asdict_safe(base).items() if v is not None}
    body = (f"### {'Testbed' if testbed else 'Real model'}: {tag}\n\nWritten by `{command.strip()}` on "
            f"{machine_line()}; {len(jobs)} runs; this call trained for {wall / 60:.1f} min of wall time (finished runs "
            f"are reused, not retrained; {args.workers} at a time; {step_seconds / 60:.1f} min of training steps summed over the runs, evaluations not counted).\n\nModel `{Path(model).name if testbed else model}`; settings: `{json.dumps(settings)}`; "
            f"learnability: `{json.dumps(_learn(args))}`.\n\n"
            f"{table}\n\n" + "\n".join(f"![{p.stem}]({p.name})" for p in pngs) + "\n")
    if args.reevaluate:
        t0 = time.perf_counter()
        table2, raw2 = reevaluate(results, model, args)
        body += (f"\nRe-evaluated on one held-out set of {args.reevaluate} questions, the same for every run (seed 0; "
                 f"greedy pass@1, and the accuracy of {args.reevaluate_k} sampled answers per question at temperature "
                 f"1): the table above scores each seed on its own {args.eval_questions}-question subset. This took "
                 f"{(time.perf_counter() - t0) / 60:.1f} min in this call (scores already cached in the run folders "
                 f"are read, not recomputed).\n\n{table2}\n")
    else:
        raw2 = None
    if missing:
        body += f"\nNot run (out of time when this table was written): {', '.join(missing)}.\n"
    print(body)
    (args.runs / "summary.json").write_text(json.dumps({"budgets": budgets, "raw": raw, "reevaluate": raw2}, indent=2))
    if args.write:
        write_results(f"reproduce-{tag}", body)


#: config fields a run may change between calls and still be reused or resumed: the run-only bookkeeping
#: (agents.config.RUN_ONLY_FIELDS), and more steps extend a run
def _may_differ() -> frozenset[str]:
    from agents.config import RUN_ONLY_FIELDS

    return RUN_ONLY_FIELDS | {"steps", "threads"}


def check_settings(out: Path, job: dict[str, Any]) -> None:
    """Refuse to reuse or resume a run folder trained with other settings (another warm start, learning rate,
    curriculum, ...): its numbers would land in this table under the wrong label."""
    from agents.checkpoint import differences

    saved_path = out / "config.json"
    if not saved_path.exists():
        return
    differ = differences(json.loads(saved_path.read_text()), job, _may_differ())
    if differ:
        raise SystemExit(f"{out} holds a run with other settings ({', '.join(differ)}). Pass --runs with a new "
                         f"folder, or delete {out} to train it again.")


def _finished(out: Path, steps: int) -> bool:
    metrics = out / "metrics.jsonl"
    if not metrics.exists():
        return False
    return any(json.loads(x).get("step", 0) >= steps for x in metrics.read_text().splitlines() if x.strip())


def _done(r: dict[str, Any]) -> str:
    return f"{r['name']} " + ("reused" if r.get("reused") else f"{r['seconds']:.0f}s")


def asdict_safe(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


if __name__ == "__main__":
    main()

"""What a finished training run says about itself: held-out accuracy before and after, the share of question
groups that gave no learning signal, where a step's seconds went, and where its files are. Every run prints
it at the end and writes it as summary.json beside metrics.jsonl; it is computed from the whole metrics.jsonl,
so a resumed run reports from its true start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.core import metrics as M

SUMMARY = "summary.json"


def _mean(records: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in records if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def summarize(
    records: list[dict[str, Any]], config: dict[str, Any], files: dict[str, str | None], wall_seconds: float
) -> dict[str, Any]:
    """The summary of a run from its metric records (step 0 first), its config and its files."""
    evals = [r for r in records if r.get(M.EVAL_PASS1) is not None]
    before = evals[0] if evals and evals[0][M.STEP] == 0 else None
    after = evals[-1] if evals and evals[-1][M.STEP] > 0 else None
    steps = [r for r in records if r[M.STEP] > 0]
    held_out = {
        "questions": (after or before or {}).get(M.EVAL_QUESTIONS),
        "greedy_pass@1": {
            "before": before and before.get(M.EVAL_PASS1),
            "after": after and after.get(M.EVAL_PASS1),
        },
        "sampled_accuracy": {
            "before": before and before.get(M.EVAL_SAMPLED),
            "after": after and after.get(M.EVAL_SAMPLED),
        },
        "temperature": config.get("eval_temperature") or config.get("temperature"),  # what it was sampled at
    }
    return {
        "run": {k: config.get(k) for k in ("algo", "curriculum", "model", "dataset", "seed", "out")},
        "steps": steps[-1][M.STEP] if steps else 0,
        "wall_seconds_this_call": round(wall_seconds, 1),
        "held_out": held_out,
        "frac_zero_advantage": _mean(steps, M.TRAIN_ZERO_ADVANTAGE),
        "train_reward": {
            "first_step": steps[0].get(M.TRAIN_REWARD) if steps else None,
            "last_step": steps[-1].get(M.TRAIN_REWARD) if steps else None,
        },
        "seconds_per_step": {name: _mean(steps, f"time/{name}") for name in (*M.TIMERS, "step")},
        "attempts_generated": steps[-1].get(M.ATTEMPTS_TOTAL) if steps else 0,
        "files": files,
    }


def _pct(v: float | None) -> str:
    return "   –  " if v is None else f"{100 * v:5.1f}%"


def format_summary(s: dict[str, Any]) -> str:
    """The summary as the lines a run prints when it ends."""
    run, ho, t = s["run"], s["held_out"], s["seconds_per_step"]
    lines = [
        f"== {run['algo']} / {run['curriculum']} on {Path(str(run['model'])).name} ({run['dataset']}, seed "
        f"{run['seed']}): {s['steps']} steps, {s['wall_seconds_this_call']:.0f} s =="
    ]
    if ho["questions"]:
        lines += [
            f"held-out accuracy on {ho['questions']} questions   before   after",
            f"  greedy pass@1                         {_pct(ho['greedy_pass@1']['before'])}  "
            f"{_pct(ho['greedy_pass@1']['after'])}",
        ]
        if ho["sampled_accuracy"]["before"] is not None or ho["sampled_accuracy"]["after"] is not None:
            lines.append(
                f"  sampled at temperature {ho['temperature']:<4}          "
                f"{_pct(ho['sampled_accuracy']['before'])}  {_pct(ho['sampled_accuracy']['after'])}"
            )
    if s["frac_zero_advantage"] is not None:
        lines.append(
            f"zero-advantage groups: {100 * s['frac_zero_advantage']:.0f}% of the questions attempted for "
            f"training had all attempts right or all wrong (no learning signal)"
        )
    if t["step"] is not None:
        lines.append(
            f"time per step: {t['step']:.2f} s = generation {t['generation']:.2f} + scoring "
            f"{t['scoring']:.2f} + learning {t['learning']:.2f}"
        )
    names = {
        "metrics": "metrics",
        "tensorboard": "TensorBoard",
        "checkpoint": "checkpoint",
        "curves": "curves",
        "summary": "this summary",
    }
    for key, name in names.items():
        if s["files"].get(key):
            lines.append(f"  {name + ':':14} {s['files'][key]}")
    if s["files"].get("curves_missing"):
        lines.append(f"  {'curves:':14} {s['files']['curves_missing']}")
    return "\n".join(lines)

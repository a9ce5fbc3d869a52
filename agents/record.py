"""A run's record keeping: what the trainer (agents/trainer.py) does, written down.

The compute counters (cumulative attempts and tokens, checkpointed) and the timers of the current step (the
rollout worker, agents/rollout.py, adds what it generates and scores; the trainer the sequences it trains on),
one metric record per step (metrics.jsonl and TensorBoard, agents.core.metrics) with the `train/` metrics of
the step's training attempts, the progress bar and the lines for the user, and at the end the curves
(agents.curves) and the summary (agents.summary).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from agents import checkpoint
from agents.core import metrics as M
from agents.core.config import TrainConfig
from agents.curves import plot
from agents.summary import SUMMARY, format_summary, summarize
from curricula.statistics import SOLVED_REWARD, learnability, solved_extremes


def train_metrics(
    parts: list[np.ndarray], responses: list[list[int]], truncated: list[bool], groups_kept: int
) -> dict[str, float]:
    """The `train/` metrics of a step's training attempts: the (n, G) rewards of each training request of the
    step (every question attempted, kept by the curriculum or not; NaN where a row had fewer attempts), their
    `responses` and which were `truncated`."""
    width = max(p.shape[1] for p in parts)
    rewards = np.concatenate(
        [np.pad(p, ((0, 0), (0, width - p.shape[1])), constant_values=np.nan) for p in parts]
    )
    finished = np.isfinite(rewards)  # a request with per-question attempts pads its rows with NaN
    tried = finished.sum(axis=1)
    solved = ((rewards >= SOLVED_REWARD) & finished).sum(axis=1)
    share = solved / np.maximum(tried, 1)
    all_solved, none_solved = solved_extremes(solved, tried)
    spread = np.nanmax(rewards, axis=1) - np.nanmin(rewards, axis=1)
    return {
        M.TRAIN_REWARD: float(np.nanmean(rewards)),
        M.TRAIN_ACCURACY: float(solved.sum() / max(1, tried.sum())),
        M.TRAIN_ALL_SOLVED: float(np.mean(all_solved)),
        M.TRAIN_NONE_SOLVED: float(np.mean(none_solved)),
        M.TRAIN_ZERO_ADVANTAGE: float(np.mean(spread == 0)),
        M.TRAIN_LEARNABILITY: float(np.mean(learnability(share))),
        M.TRAIN_RESPONSE_TOKENS: float(np.mean([len(r) for r in responses])),
        M.TRAIN_TRUNCATED: float(np.mean(truncated)),
        M.TRAIN_QUESTIONS: len(rewards),
        M.TRAIN_GROUPS_KEPT: groups_kept,
    }


def progress_line(record: dict[str, Any], steps: int) -> str:
    """The one-line progress record printed instead of a bar when the output is not a terminal."""
    line = (
        f"step {record[M.STEP]}/{steps}  train reward {record[M.TRAIN_REWARD]:.3f}  zero-advantage "
        f"{record[M.TRAIN_ZERO_ADVANTAGE]:.2f}"
    )
    if record.get(M.EVAL_PASS1) is not None:
        line += f"  held-out pass@1 {record[M.EVAL_PASS1]:.3f}"
    return line + f"  {record[M.TIME_STEP]:.1f} s/step  {record[M.ATTEMPTS_TOTAL]:,} attempts"


class RunRecord:
    """Counters, timers, the metrics log and the progress bar of one run in `out`."""

    def __init__(self, config: TrainConfig, out: Path) -> None:
        self.config, self.out = config, out
        self.counters: dict[str, int] = dict.fromkeys(M.COMPUTE, 0)
        self.timers: dict[str, float] = dict.fromkeys(M.TIMERS, 0.0)  # seconds of this step so far
        self._logger: M.MetricsLogger | None = None
        self._bar: Any = None

    # ---- during a step ----------------------------------------------------------------------------------

    def step_record(self, step: int, seconds: float, stats: dict[str, Any]) -> dict[str, Any]:
        """The metric record of a step that took `seconds`: its stats, where its seconds went (learning: all but
        generation and scoring), and the compute so far; the timers then start again for the next step."""
        self.timers["learning"] = seconds - self.timers["generation"] - self.timers["scoring"]
        record = {M.STEP: step, **stats}
        record.update({f"time/{k}": v for k, v in self.timers.items()})
        record[M.TIME_STEP] = seconds
        self.timers = dict.fromkeys(M.TIMERS, 0.0)
        record.update({f"compute/{k}": v for k, v in self.counters.items()})
        record[M.ATTEMPTS_TOTAL] = (
            self.counters["attempts_train"] + self.counters["attempts_probe"] + self.counters["attempts_vine"]
        )
        return record

    # ---- the run ----------------------------------------------------------------------------------------

    def say(self, line: str) -> None:
        """A line for the user, above the progress bar when there is one."""
        if self._bar is not None:
            tqdm.write(line)
        else:
            print(line, flush=True)

    def first_evaluation(self, evaluate: Callable[[], dict[str, Any]], questions: int) -> dict[str, Any]:
        """The step-0 evaluation (none without held-out questions), minutes for a real model: said before and
        after, with or without a terminal."""
        c = self.config
        if not questions:
            return {}
        if c.progress:
            self.say(
                f"scoring the starting policy on {questions} held-out questions ({questions * (1 + c.eval_samples)} "
                f"answers: greedy and {c.eval_samples} sampled each) ..."
            )
        began = time.perf_counter()
        result = evaluate()
        if c.progress:
            self.say(
                f"held-out before training: pass@1 {result[M.EVAL_PASS1]:.3f} ({time.perf_counter() - began:.0f} s)"
            )
        return result

    def open(self, step: int, resumed: bool) -> None:
        """Start the metrics log (after a resume, from `step` on) and the progress bar."""
        c = self.config
        self._logger = M.MetricsLogger(
            self.out, c.loggers(), resume_step=step if resumed else None, config=dataclasses.asdict(c)
        )
        # a bar only on a terminal: in a log file each refresh is one more line (213 KB for `make run`), so
        # there a line every `log_every` steps (see log). No tqdm at all without a bar: its lock is shared with
        # forked processes, and one killed while holding it would block this process's next bar
        self._bar = (
            tqdm(total=c.steps, initial=step, desc=f"{c.algo}/{c.curriculum}")
            if c.progress and sys.stderr.isatty()
            else None
        )

    def log(self, record: dict[str, Any]) -> None:
        """Write a record; a training step's also moves the progress bar."""
        assert self._logger is not None, "open() first"
        self._logger.log(record)
        step, c = record[M.STEP], self.config
        if self._bar is not None and step > 0:
            self._bar.update(1)
            self._bar.set_postfix(
                reward=f"{record[M.TRAIN_REWARD]:.2f}", zero_adv=f"{record[M.TRAIN_ZERO_ADVANTAGE]:.2f}"
            )
        elif c.progress and step > 0 and (step % c.log_every == 0 or step == c.steps):
            print(progress_line(record, c.steps), flush=True)

    def finish(self, wall_seconds: float) -> dict[str, Any]:
        """Close the log, draw the curves, write summary.json and print the summary (see agents.summary)."""
        c = self.config
        if self._bar is not None:
            self._bar.close()
        assert self._logger is not None, "open() first"
        self._logger.close()
        ckpts = checkpoint.checkpoint_dirs(self.out)
        tensorboard_dir = self._logger.tensorboard_dir
        files: dict[str, str | None] = {
            "metrics": str(self.out / "metrics.jsonl"),
            "summary": str(self.out / SUMMARY),
            "tensorboard": str(tensorboard_dir) if tensorboard_dir else None,
            "checkpoint": str(ckpts[-1]) if ckpts else None,
        }
        if c.plot:
            try:
                files["curves"] = str(
                    plot(
                        [self.out],
                        self.out / "curves.png",
                        title=f"{c.algo} / {c.curriculum}, {Path(c.model).name}",
                    )
                )
            except ImportError:
                files["curves_missing"] = (
                    f"not drawn: pip install matplotlib, then python -m agents.plots {self.out}"
                )
        summary = summarize(
            M.read_records(self.out / "metrics.jsonl"), dataclasses.asdict(c), files, wall_seconds
        )
        checkpoint.write_json(self.out / SUMMARY, summary)
        print(format_summary(summary), flush=True)
        return summary

"""What a curriculum reports about its training batches and its compute: the `curriculum/` metrics of
`Curriculum.diagnostics`, and `solved_extremes`, the one definition of an all-solved or none-solved group,
used here and by the trainer (agents/trainer.py, the `train/` shares).

Batch metrics describe the groups of the latest training batch that were *kept* for training (their names say
so: `..._of_kept`); a batch can take several train reports (filters, dynamic sampling), so they are summed
over the iteration's reports and closed when the batch is done.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from curricula.statistics import learnability

ITERATION = "curriculum/iteration"
ALL_SOLVED_OF_KEPT = "curriculum/frac_all_solved_of_kept"
NONE_SOLVED_OF_KEPT = "curriculum/frac_none_solved_of_kept"
BATCH_LEARNABILITY = "curriculum/batch_learnability"
BATCH_ACCURACY = "curriculum/batch_accuracy"
KEPT_FRACTION = "curriculum/kept_fraction"
POOL_LEARNABILITY = "curriculum/pool_learnability"
FRAC_SEEN = "curriculum/frac_seen"
BUFFER_SIZE = "curriculum/buffer_size"
BUFFER_AGE = "curriculum/buffer_age"
BUFFER_LEARNABILITY = "curriculum/buffer_learnability"
P_HIST = "curriculum/p_hist"
TRAIN_ATTEMPTS = "curriculum/train_attempts"
PROBE_ATTEMPTS = "curriculum/probe_attempts"
DISCARDED_ATTEMPTS = "curriculum/discarded_attempts"
TOTAL_ATTEMPTS = "curriculum/total_attempts"

#: the training batch's running sums, over every train report of an iteration (a batch can take several)
BATCH_SUMS = ("groups", "kept", "all_solved", "none_solved", "learnability", "solved", "tried")


def solved_extremes(solved: np.ndarray, tried: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per group of attempts: were all of its finished attempts solved (p = 1), were none (p = 0)? A group with
    no finished attempt is neither. Callers divide the counts by the groups they speak of and say which in the
    metric's name (the trainer: the questions attempted; `BatchStats`: the groups kept)."""
    attempted = tried > 0
    return attempted & (solved == tried), attempted & (solved == 0)


class BatchStats:
    """Attempt counts by phase, and the kept groups' shares of the latest complete training batch."""

    #: state_dict key -> attribute (the keys curricula have always saved under)
    STATE = {"_counts": "counts", "_batch": "batch", "_pending_batch": "pending"}

    def __init__(self) -> None:
        self.counts = {"train": 0, "probe": 0, "discarded": 0}
        self.batch = {
            "frac_all_solved": math.nan,
            "frac_none_solved": math.nan,
            "learnability": math.nan,
            "accuracy": math.nan,
            "kept_fraction": math.nan,
        }
        self.pending = dict.fromkeys(BATCH_SUMS, 0.0)  # sums over the train reports of this iteration

    def add(
        self,
        phase: str,
        solved: np.ndarray,
        tried: np.ndarray,
        keep: np.ndarray,
        hold: np.ndarray | None = None,
    ) -> None:
        """Count one report's attempts; add a train report's kept groups to the batch's running sums. Held
        groups (`Feedback.hold`) are neither kept nor discarded: they count when their group is completed."""
        if phase == "probe":
            self.counts["probe"] += int(tried.sum())
            return
        waiting = np.zeros(len(tried), dtype=bool) if hold is None else hold
        self.counts["train"] += int(tried.sum())
        self.counts["discarded"] += int(tried[~keep & ~waiting].sum())
        acc = self.pending
        attempted = (tried > 0) & ~waiting
        rows = keep & attempted
        all_solved, none_solved = solved_extremes(solved[rows], tried[rows])
        share = solved[rows] / tried[rows]
        acc["groups"] += int(attempted.sum())
        acc["kept"] += int(rows.sum())
        acc["all_solved"] += int(all_solved.sum())
        acc["none_solved"] += int(none_solved.sum())
        acc["learnability"] += float(np.sum(learnability(share)))
        acc["solved"] += int(solved[rows].sum())
        acc["tried"] += int(tried[rows].sum())

    def close(self) -> None:
        """The training batch is complete: its sums become the batch metrics."""
        acc, self.pending = self.pending, dict.fromkeys(BATCH_SUMS, 0.0)
        kept = acc["kept"]
        if not kept:
            self.batch = dict.fromkeys(self.batch, math.nan)
            self.batch["kept_fraction"] = 0.0 if acc["groups"] else math.nan
            return
        self.batch = {
            "frac_all_solved": acc["all_solved"] / kept,
            "frac_none_solved": acc["none_solved"] / kept,
            "learnability": acc["learnability"] / kept,
            "accuracy": acc["solved"] / acc["tried"],
            "kept_fraction": kept / acc["groups"],
        }

    def batch_metrics(self) -> dict[str, float]:
        b = self.batch
        return {
            ALL_SOLVED_OF_KEPT: b["frac_all_solved"],
            NONE_SOLVED_OF_KEPT: b["frac_none_solved"],
            BATCH_LEARNABILITY: b["learnability"],
            BATCH_ACCURACY: b["accuracy"],
            KEPT_FRACTION: b["kept_fraction"],
        }

    def count_metrics(self) -> dict[str, int]:
        c = self.counts
        return {
            TRAIN_ATTEMPTS: c["train"],
            PROBE_ATTEMPTS: c["probe"],
            DISCARDED_ATTEMPTS: c["discarded"],
            TOTAL_ATTEMPTS: c["train"] + c["probe"],
        }

    def state_dict(self) -> dict[str, Any]:
        return {key: getattr(self, attr) for key, attr in self.STATE.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, attr in self.STATE.items():
            setattr(self, attr, state[key])

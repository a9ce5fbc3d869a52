"""The curriculum's bookkeeping, one room: what it keeps per question and what it reports about its batches.

Per question, in numpy arrays sized to the pool (16 bytes per question), never in per-question Python
objects: attempts, successes, the iteration last seen, and p, the share solved in the question's latest
group of attempts; plus the histogram of p and the pool's summed p(1 - p), kept incrementally so that
diagnostics never scan the pool (`QuestionStats`).

Per batch and in compute (`BatchStats`): the `curriculum/` metrics of `Curriculum.diagnostics`, and
`solved_extremes`, the one definition of an all-solved or none-solved group, used here and by the trainer
(agents/record.py, the `train/` shares). Batch metrics describe the groups of the latest training batch that
were *kept* for training (their names say so: `..._of_kept`); a batch can take several train reports
(filters, dynamic sampling), so they are summed over the iteration's reports and closed when the batch is
done. `diagnostics` puts a curriculum's metrics together; `save_state` / `load_state` are its `state_dict` /
`load_state_dict`, under the keys curricula have always saved.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

P_BINS = 10
#: an attempt counts as solved at a reward of at least this (the verifier's rewards: 1 right, 0 wrong): the
#: curricula's default `solved_threshold` and the trainer's train/accuracy and all- and none-solved shares
SOLVED_REWARD = 0.5


def learnability(p: np.ndarray | float) -> np.ndarray | float:
    """p(1 - p): the variance of a Bernoulli(p) reward, zero when every attempt agrees (the paper's score)."""
    return p * (1.0 - p)


def p_bins(p: np.ndarray) -> np.ndarray:
    """The histogram bin (of P_BINS over [0, 1]) of each p."""
    return np.minimum((p * P_BINS).astype(np.int64), P_BINS - 1)


class QuestionStats:
    """The statistics of a pool of `num_questions` questions (ids 0..n-1)."""

    #: state_dict key -> attribute (the keys curricula have always saved under)
    STATE = {
        "attempts": "attempts",
        "successes": "successes",
        "last_seen": "last_seen",
        "p": "p",
        "_p_hist": "p_hist",
        "_seen": "seen",
        "_learnability_sum": "learnability_sum",
    }

    def __init__(self, num_questions: int) -> None:
        n = num_questions
        self.attempts = np.zeros(n, dtype=np.int32)
        self.successes = np.zeros(n, dtype=np.int32)
        self.last_seen = np.full(n, -1, dtype=np.int32)  # iteration of the question's latest attempts
        self.p = np.full(
            n, np.nan, dtype=np.float32
        )  # share solved in the question's latest group of attempts
        self.p_hist = np.zeros(P_BINS, dtype=np.int64)
        self.seen = 0
        self.learnability_sum = 0.0

    def record(self, uniq: np.ndarray, a: np.ndarray, s: np.ndarray, iteration: int) -> None:
        """Add `a` attempts and `s` successes, made at `iteration`, to the questions `uniq` (unique); p becomes
        s / a and last_seen `iteration`, except where a question holds newer evidence (a late report of an
        older group adds its counts but leaves the newer estimate)."""
        newer = self.last_seen[uniq] <= iteration
        self.attempts[uniq] += a.astype(np.int32)
        self.successes[uniq] += s.astype(np.int32)
        uniq, a, s = uniq[newer], a[newer], s[newer]
        new_p = (s / a).astype(np.float32)
        old_p = self.p[uniq]
        was_seen = ~np.isnan(old_p)
        np.subtract.at(self.p_hist, p_bins(old_p[was_seen]), 1)
        np.add.at(self.p_hist, p_bins(new_p), 1)
        self.learnability_sum += float(
            learnability(new_p.astype(np.float64)).sum()
            - learnability(old_p[was_seen].astype(np.float64)).sum()
        )
        self.seen += int((~was_seen).sum())
        self.p[uniq] = new_p
        self.last_seen[uniq] = iteration

    def pool_learnability(self) -> float:
        """Mean p(1 - p) over the questions seen so far (nan before any)."""
        return self.learnability_sum / self.seen if self.seen else float("nan")

    def state_dict(self) -> dict[str, Any]:
        return {key: getattr(self, attr) for key, attr in self.STATE.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, attr in self.STATE.items():
            setattr(self, attr, state[key])


def array_nbytes(root: Any) -> int:
    """Bytes of the numpy arrays under `root` (dicts, lists and tuples followed, each array once): what a
    curriculum's bookkeeping costs in memory (`Curriculum.state_nbytes`)."""
    total, seen, stack = 0, set(), [root]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, np.ndarray):
            total += x.nbytes
        elif isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(v for v in x if isinstance(v, (np.ndarray, dict, list, tuple)))
    return total


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
        done: bool = False,
    ) -> None:
        """Count one report's attempts; add a train report's kept groups to the batch's running sums, and
        `close` them when the report completes the batch (`done`). Held groups (`Feedback.hold`) are neither
        kept nor discarded: they count when their group is completed."""
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
        if done:
            self.close()

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


def diagnostics(
    stats: QuestionStats, batch: BatchStats, iteration: int, buffer: tuple[int, int, float]
) -> dict[str, Any]:
    """`Curriculum.diagnostics`: the pool's and the latest batch's metrics, and the curriculum's `buffer`
    (size, iterations since it was built, its mean learnability)."""
    size, age, buffer_learnability = buffer
    return {
        ITERATION: iteration,
        POOL_LEARNABILITY: stats.pool_learnability(),
        FRAC_SEEN: stats.seen / len(stats.p),
        BUFFER_SIZE: size,
        BUFFER_AGE: age,
        BUFFER_LEARNABILITY: buffer_learnability,
        P_HIST: stats.p_hist.copy(),
        **batch.batch_metrics(),
        **batch.count_metrics(),
    }


def save_state(curriculum: Any) -> dict[str, Any]:
    """A curriculum's `state_dict`: its name, pool size, options and RNG, both statistics, and the attributes
    its class names in `_base_state` and `_state_keys`, all copied."""
    cur = curriculum
    state = {
        "name": cur.name,
        "num_questions": cur.num_questions,
        "config": dict(cur.config),
        "rng": copy.deepcopy(cur.rng.bit_generator.state),
    }
    state.update(copy.deepcopy(cur.stats.state_dict()))
    state.update(copy.deepcopy(cur.batch_stats.state_dict()))
    for key in cur._base_state + cur._state_keys:
        state[key] = copy.deepcopy(getattr(cur, key))
    return state


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return a == b


def load_state(curriculum: Any, state: dict[str, Any]) -> None:
    """Restore `save_state` output into a curriculum built with the same name, pool size and options (else a
    ValueError naming what differs)."""
    cur = curriculum
    if state.get("name") != cur.name or state.get("num_questions") != cur.num_questions:
        raise ValueError(
            f"state is for {state.get('name')!r} over {state.get('num_questions')} questions; "
            f"this curriculum is {cur.name!r} over {cur.num_questions}"
        )
    saved = state.get("config", {})
    diff = sorted(
        k
        for k in set(saved) | set(cur.config)
        if k not in saved or k not in cur.config or not _same(saved[k], cur.config[k])
    )
    if diff:
        raise ValueError(
            f"state was saved with different options {diff}; build the curriculum with "
            f"the options it was saved with"
        )
    cur.stats.load_state_dict(copy.deepcopy({k: state[k] for k in QuestionStats.STATE}))
    cur.batch_stats.load_state_dict(copy.deepcopy({k: state[k] for k in BatchStats.STATE}))
    for key in cur._base_state + cur._state_keys:
        setattr(cur, key, copy.deepcopy(state[key]))
    cur.rng.bit_generator.state = copy.deepcopy(state["rng"])

"""Every final policy of a grid and the starting policy scored on one common question set: the per-seed subsets
runs log during training are small and differ by seed, so their spread can hide a few points of difference.

A set is a fixed random subset of a split (the held-out split, or the training pool for training-pool
accuracy); each policy answers every question greedily and `k` times sampled at `temperature` / `top_p`
(pass@1, mean@k, maj@k, overall and per level: agents.eval_policy). A held-out set is checked against the
training pool first (research.experiments.heldout). Scores are cached in each run folder, keyed by every
setting, so a second call costs nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import mathenv  # noqa: F401  (registers MathReasoning-v0)
from agents.cli.evaluate import evaluate_questions
from agents.core.config import TrainConfig
from agents.eval_policy import subset
from agents.rollout import env_kwargs
from research.experiments.archive import restore_results, save_results
from research.experiments.grid import restore_runs, worker_pool
from research.experiments.heldout import check_held_out, normalise_question, training_pool


@dataclass(frozen=True)
class EvalSet:
    """Which questions every policy answers, and how: `num_questions` (None: all) of `split` (`"train"`: the
    runs' training pool), drawn with `seed`; `k` answers sampled per question at `temperature` / `top_p`
    besides the greedy one. `pool_size` loads that many questions of a held-out split first (None: the
    dataset's default; the training pool is always the runs' own), `distinct` keeps the first occurrence of
    each question text (normalised), so a question that recurs is not weighted twice."""

    split: str = "test"
    num_questions: int | None = 2000
    k: int = 4
    temperature: float = 0.35
    top_p: float = 1.0
    seed: int = 0
    pool_size: int | None = None
    distinct: bool = False

    @property
    def tag(self) -> str:
        """The name of this set's cache files."""
        return (
            f"reevaluate_{self.split}_{self.num_questions or 'all'}"
            + (f"_of{self.pool_size}" if self.pool_size else "")
            + ("_distinct" if self.distinct else "")
            + f"_k{self.k}_t{self.temperature:g}_p{self.top_p:g}_s{self.seed}"
        )


def question_ids(config: TrainConfig, eval_set: EvalSet) -> tuple[dict[str, Any], list[int]]:
    """The env keywords and question ids of `eval_set` for runs of `config`; a held-out set is refused when
    it shares a question with the training pool."""
    split = config.eval_split if eval_set.split == "test" else eval_set.split
    kwargs = env_kwargs(config, split)
    if eval_set.pool_size is not None and split != "train":
        kwargs["num_questions"] = eval_set.pool_size
    env = gym.make("MathReasoning-v0", **kwargs).unwrapped
    candidates = np.arange(env.num_questions)
    if eval_set.distinct:
        first: dict[str, int] = {}
        for i, q in enumerate(env.questions):
            first.setdefault(normalise_question(q.question), i)
        candidates = np.asarray(sorted(first.values()))
    ids = [int(candidates[i]) for i in subset(candidates.size, eval_set.num_questions, eval_set.seed)]
    if split != "train":
        check_held_out(
            [env.questions[i] for i in ids],
            training_pool(config),
            f"re-evaluation set ({len(ids)} questions of split {split!r})",
        )
    return kwargs, ids


def cached(job: Mapping[str, Any]) -> dict[str, Any] | None:
    """The job's score from its cache file when that was written under the same settings, else None."""
    cache = Path(job["cache"])
    if not cache.exists():
        return None
    saved = json.loads(cache.read_text())
    settings = {k: v for k, v in job.items() if k not in ("threads", "cache")}
    return saved if saved.get("settings") == settings else None


def score_one(job: dict[str, Any]) -> dict[str, Any]:
    """One policy on the set (in a worker process), read from its cache when the settings match."""
    saved = cached(job)
    if saved is not None:
        return saved
    job = dict(job)
    torch.set_num_threads(job.pop("threads"))
    cache = Path(job.pop("cache"))
    env = gym.make("MathReasoning-v0", **job["env"]).unwrapped
    s = job["set"]
    result = evaluate_questions(
        job["model"],
        env,
        np.asarray(job["ids"]),
        k=s["k"],
        temperature=s["temperature"],
        top_p=s["top_p"],
        max_new_tokens=job["max_new_tokens"],
        batch_size=job["batch_size"],
        seed=s["seed"],
        device=job["device"],
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"settings": job, **result}, indent=2))
    return json.loads(cache.read_text())  # as a later call reads it (level keys become strings)


def reevaluate(
    policies: Mapping[str, tuple[str | Path, str | Path]],
    config: TrainConfig,
    eval_set: EvalSet,
    workers: int = 1,
    threads: int = 1,
    on_scored: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Score each policy (`name: (model, cache folder)`; a model given as a Path is a saved policy) on `eval_set` built from `config`'s pools (its
    dataset, levels, instruction, training pool); returns `name: score` (agents.eval_policy's result, with
    `pass@1`, `mean@k`, `per_level`). A policy whose model folder is missing is read from its cache (a run
    restored from an archive keeps its scores, not its checkpoints), else left out (and named). `on_scored(name)`
    is called as each policy's score is in its cache (to save it at once: a long re-evaluation cut short keeps
    what it scored)."""
    kwargs, ids = question_ids(config, eval_set)
    common = {
        "env": json.loads(json.dumps(kwargs)),
        "ids": ids,
        "set": asdict(eval_set),
        "max_new_tokens": config.max_new_tokens,
        "batch_size": config.generation_batch_size,
        "device": config.device,
    }
    names, jobs = [], []
    for name, (model, folder) in policies.items():
        job = {
            **common,
            "model": str(model),
            "threads": threads,
            "cache": str(Path(folder) / f"{eval_set.tag}.json"),
        }
        if isinstance(model, Path) and not model.exists() and cached(job) is None:
            print(f"re-evaluation: {model} is missing and not scored before, {name} left out", flush=True)
            continue
        names.append(name)
        jobs.append(job)
    scores = {}
    with contextlib.ExitStack() as stack:
        if workers > 1 and len(jobs) > 1:
            pool = stack.enter_context(worker_pool(min(workers, len(jobs))))
            scored = pool.imap(score_one, jobs)  # in order, each as soon as it and those before it are done
        else:
            scored = map(score_one, jobs)
        for name, score in zip(names, scored, strict=True):
            scores[name] = score
            if on_scored is not None:
                on_scored(name)
    return scores


def restore_archive(runs: Sequence[Any], start_folder: str | Path, archive: str | Path) -> None:
    """A grid's runs (research.experiments.grid.Run) and the start policy's scores back from `archive`."""
    restore_runs(runs, archive)
    restore_results(start_folder, Path(archive) / "start")


def saving_to(archive: str | Path, runs: Sequence[Any], start_folder: str | Path) -> Callable[[str], None]:
    """An `on_scored` for `reevaluate`: each scored policy's results into `archive` at once (a run under its
    name, the start policy under `start`), so an analysis cut short keeps what it scored."""
    folders = {"start": (start_folder, Path(archive) / "start")}
    folders.update({run.name: (run.out, Path(archive) / run.name) for run in runs})

    def save(name: str) -> None:
        save_results(*folders[name])

    return save


def per_seed(
    scores: Mapping[str, Mapping[str, Any]],
    runs: Sequence[Any],
    metric: str = "mean@k",
    level: str | None = None,
) -> dict[str, dict[int, float]]:
    """`cell: {seed: score}` from `reevaluate`'s scores of `runs` (research.experiments.grid.Run, scored under
    their names); `level` reads one difficulty level's score."""
    out: dict[str, dict[int, float]] = {}
    for run in runs:
        score = scores.get(run.name)
        if score is None:
            continue
        value = score["per_level"][str(level)][metric] if level is not None else score[metric]
        out.setdefault(run.cell, {})[run.seed] = float(value)
    return out

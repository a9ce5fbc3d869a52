"""A grid of training runs: algorithms x arms x seeds, one run folder each, run a few at a time (one process
per core), resumable: a finished run is reused, a cut one continues through the trainer's `--resume`, and a
folder trained under other settings is refused rather than mixed into a table under the wrong label.

An *arm* is what a comparison varies: a curriculum, its options, and config overrides (the compute-matched
uniform arm raises `questions_per_step`). Settings shared by every arm come from the same config machinery as
`python -m agents.train` (`configs_from_argv`: algorithm defaults < `--preset` < `--config` JSON < flags).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import curricula
from agents.algos.registry import get as get_algorithm
from agents.checkpoint import differences, holds_run
from agents.cli.train import build_config, option_flag
from agents.core.config import RUN_ONLY_FIELDS, TrainConfig
from agents.core.metrics import read_records
from agents.rollout import env_kwargs
from agents.run_checks import check_run
from agents.trainer import train
from mathenv.errors import UserError
from research.experiments.archive import restore_results, save_results
from research.experiments.heldout import check_held_out, held_out_pool, training_pool
from research.experiments.stats import compute_matched_questions, probe_attempts_per_step


class RunSettingsError(UserError):
    """A run folder holds a run trained with other settings than the grid asks for."""


@dataclass(frozen=True)
class Arm:
    """One arm of a comparison: its name in tables and run folders, the curriculum (a name of
    curricula.CURRICULA), the curriculum's options, and any other config fields it changes."""

    name: str
    curriculum: str = "uniform"
    curriculum_options: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """One training run of the grid: `algo-arm-sSEED` in its own folder."""

    algo: str
    arm: str
    seed: int
    config: TrainConfig

    @property
    def name(self) -> str:
        return run_name(self.algo, self.arm, self.seed)

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    @property
    def cell(self) -> str:
        """The run's table row: algorithm and arm."""
        return f"{self.algo}-{self.arm}"

    def final_policy(self) -> Path:
        """Where the trainer saves the policy of the last step."""
        return self.out / "checkpoints" / f"step_{self.config.steps:06d}" / "policy"

    def records(self) -> list[dict[str, Any]]:
        return read_records(self.out / "metrics.jsonl")


def learnability_options(
    questions_per_step: int, pool: int, override: Mapping[str, Any] | None = None, preset: str = "very_fast"
) -> dict[str, Any]:
    """The paper's buffer `preset` (`very_fast`: T=5, N=128, K=64 at its batch of 64; `recommended`: T=50,
    N=1280, K=256; L=8, rho=0.5) scaled to `questions_per_step` by curricula.buffer_options (N / N_l and
    K / N_l kept), with `override` (a `preset` key there picks the preset); checked against a pool of `pool`
    questions here, before any run starts."""
    override = dict(override or {})
    preset = override.pop("preset", preset)
    options = {**curricula.buffer_options(preset, questions_per_step), **override}
    curricula.make("learnability", pool, batch_size=questions_per_step, **options)
    return options


#: the arms VinePPO runs: its rollouts multiply every attempt's cost, and the filter attempts 4x the questions,
#: so VinePPO x filter costs 4x a VinePPO run
VINEPPO_ARMS = ("uniform", "learnability", "uniform_cm", "posterior")


def standard_arms(
    algo: str, names: Sequence[str], config: TrainConfig, learn: Mapping[str, Any], rollout_cost: float = 0.0
) -> list[Arm]:
    """The comparison's usual arms for one algorithm, by name: uniform, learnability (options `learn`),
    learnability_filter, posterior, and uniform_cm, the compute-matched uniform baseline: as many attempts
    per step as learnability's training + probe attempts, each added question costing its G attempts and
    `rollout_cost` more per attempt (VinePPO's Monte-Carlo rollouts)."""
    matched = compute_matched_questions(
        config.questions_per_step, config.attempts_per_question, probe_attempts_per_step(learn), rollout_cost
    )
    arms = {
        "uniform": Arm("uniform"),
        "learnability": Arm("learnability", "learnability", dict(learn)),
        "learnability_filter": Arm("learnability_filter", "learnability_filter", {"ratio": 4}),
        "uniform_cm": Arm("uniform_cm", "uniform", overrides={"questions_per_step": matched}),
        "posterior": Arm("posterior", "posterior"),
    }
    unknown = [n for n in names if n not in arms]
    if unknown:
        raise UserError(f"unknown arm(s) {unknown}; choose from {sorted(arms)}")
    return [arms[n] for n in names if algo != "vineppo" or n in VINEPPO_ARMS]


def run_name(algo: str, arm: str, seed: int) -> str:
    return f"{algo}-{arm}-s{seed}"


#: config fields a run may change between calls and still be reused or resumed: how it is logged or chunked
#: (agents.core.config.RUN_ONLY_FIELDS), and more steps extend a run
MAY_DIFFER = RUN_ONLY_FIELDS | {"steps"}


def configs_from_argv(
    argv: Sequence[str], algos: Iterable[str], algo_defaults: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, TrainConfig]:
    """One base config per algorithm, parsed as `python -m agents.train` parses its command line (`--preset`,
    `--config`, every config field as a flag). A flag of one algorithm's own fields (`--vine-rollouts`)
    applies to that algorithm only; `algo_defaults` are an algorithm's values unless a flag sets them."""
    argv = list(argv)
    out = {}
    for algo in algos:
        cls = get_algorithm(algo).config_class
        own = {f.name for f in dataclasses.fields(cls)}
        every = set(own)
        for other in algos:
            every |= {f.name for f in dataclasses.fields(get_algorithm(other).config_class)}
        foreign = {option_flag(n) for n in every - own}
        kept, skip = [], False
        for token in argv:
            if token.startswith("--"):
                skip = token.split("=", 1)[0] in foreign
            if not skip:
                kept.append(token)
        config = build_config(["--algo", algo, *kept])
        given = {token.split("=", 1)[0] for token in kept if token.startswith("--")}
        defaults = {
            k: v for k, v in (algo_defaults or {}).get(algo, {}).items() if option_flag(k) not in given
        }
        out[algo] = dataclasses.replace(config, **defaults) if defaults else config
    return out


def plan(
    base: Mapping[str, TrainConfig],
    arms: Mapping[str, Sequence[Arm]],
    seeds: Mapping[str, int] | int,
    runs_dir: str | Path,
) -> list[Run]:
    """Every run of the grid, algorithm by algorithm (in `base`'s order), seed by seed within it: a grid cut
    short by the clock holds every arm with as many seeds as possible. `arms[algo]` lists the algorithm's arms
    (compute matching differs by algorithm), `seeds` counts seeds per algorithm (or for all)."""
    runs = []
    for algo, config in base.items():
        n = seeds if isinstance(seeds, int) else seeds[algo]
        for seed in range(n):
            for arm in arms[algo]:
                values = {
                    **dataclasses.asdict(config),
                    "curriculum": arm.curriculum,
                    "curriculum_options": dict(arm.curriculum_options),
                    **arm.overrides,
                    "seed": seed,
                    "out": str(Path(runs_dir) / run_name(algo, arm.name, seed)),
                    "progress": False,
                    "tensorboard": False,
                }
                run_config = type(config)(**values)
                check_run(run_config)
                runs.append(Run(algo, arm.name, seed, run_config))
    return runs


def threads_per_worker(workers: int, device: str | None = None) -> int:
    """Torch threads per worker process: the machine's cores shared out on a CPU (torch threads spin when
    oversubscribed), one on a GPU."""
    return max(1, (os.cpu_count() or 1) // workers) if device in (None, "cpu") else 1


def finished(run: Run) -> bool:
    """Whether the run's metrics reach its last step."""
    path = run.out / "metrics.jsonl"
    return path.exists() and any(r.get("step", 0) >= run.config.steps for r in read_records(path))


def check_settings(run: Run) -> None:
    """Refuse to reuse or resume a run folder trained with other settings (another warm start, learning rate,
    curriculum, ...): its numbers would land in the table under the wrong label."""
    saved = run.out / "config.json"
    if not saved.exists():
        return
    differ = differences(json.loads(saved.read_text()), dataclasses.asdict(run.config), MAY_DIFFER)
    if differ:
        raise RunSettingsError(
            f"{run.out} holds a run with other settings ({'; '.join(differ)}). Pass another "
            f"runs folder, or delete {run.out} to train it again"
        )


def check_held_out_sets(runs: Iterable[Run]) -> None:
    """Every run's held-out split against its training pool (once per distinct pair)."""
    seen = set()
    for run in runs:
        key = json.dumps(
            [env_kwargs(run.config, "train"), env_kwargs(run.config, run.config.eval_split)],
            sort_keys=True,
            default=str,
        )
        if key in seen or run.config.eval_questions == 0:
            continue
        seen.add(key)
        check_held_out(
            held_out_pool(run.config),
            training_pool(run.config),
            f"held-out split {run.config.eval_split!r} of run {run.name}",
        )


@dataclass
class RunResult:
    run: Run
    reused: bool
    seconds: float = 0.0


def train_run(job: tuple[int, str, dict[str, Any], int]) -> tuple[int, float]:
    """Train one run in a worker process (continuing it through the trainer's resume when its folder holds a
    cut one); returns the job's index and its seconds."""
    index, algo, values, threads = job
    torch.set_num_threads(threads)
    config = get_algorithm(algo).config_class(**{**values, "resume": holds_run(values["out"])})
    start = time.perf_counter()
    train(config)
    return index, time.perf_counter() - start


def end_with_parent(parent: int, every: float = 1.0) -> None:
    """Pool initializer: the worker ends once the process that started it is gone (a grid killed by `kill`
    left its workers training and holding their runs' locks; now a restarted grid resumes their runs)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def worker_pool(workers: int) -> Any:
    """`workers` spawned processes that end with this one (`end_with_parent`)."""
    return mp.get_context("spawn").Pool(workers, initializer=end_with_parent, initargs=(os.getpid(),))


def run_grid(
    runs: Sequence[Run],
    workers: int = 1,
    threads: int | None = None,
    on_done: Callable[[RunResult, int, int], None] | None = None,
    archive: str | Path | None = None,
) -> list[RunResult]:
    """Train every unfinished run of `runs`, `workers` at a time (spawned processes, `threads` torch threads
    each; default: the cores shared out). Checks first, before any training: every run folder's settings and
    every held-out split against its training pool. With `archive` (a folder kept in git), every run is first
    restored from it and copied into it once finished, so the grid continues from its last commit in a new
    checkout, where the runs folder (ignored by git) is gone. Returns one result per run, in `runs`' order."""
    if archive is not None:
        restored = restore_runs(runs, archive)
        if restored:
            print(f"restored {len(restored)} runs from {archive}", flush=True)
        save_runs(runs, archive)  # finished before they were archived
    for run in runs:
        check_settings(run)
    check_held_out_sets(runs)
    threads = threads or threads_per_worker(workers, runs[0].config.device if runs else None)
    results = {run.name: RunResult(run, reused=True) for run in runs if finished(run)}
    todo = [run for run in runs if run.name not in results]
    jobs = [(i, run.algo, dataclasses.asdict(run.config), threads) for i, run in enumerate(todo)]
    done = 0

    def record(i: int, seconds: float) -> None:
        nonlocal done
        done += 1
        results[todo[i].name] = RunResult(todo[i], reused=False, seconds=seconds)
        if archive is not None:
            save_results(todo[i].out, Path(archive) / todo[i].name)
        if on_done:
            on_done(results[todo[i].name], done, len(todo))

    if workers > 1 and len(todo) > 1:
        with worker_pool(min(workers, len(todo))) as pool:
            for i, seconds in pool.imap_unordered(train_run, jobs):  # reported as each finishes
                record(i, seconds)
    else:
        for job in jobs:
            record(*train_run(job))
    return [results[run.name] for run in runs]


def by_cell(runs: Iterable[Run]) -> dict[str, dict[int, Run]]:
    """Runs grouped by table row (`algo-arm`), then by seed."""
    out: dict[str, dict[int, Run]] = {}
    for run in runs:
        out.setdefault(run.cell, {})[run.seed] = run
    return out


def records_by_cell(runs: Iterable[Run]) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """Each run's metric records (its metrics.jsonl read once), by table row then seed: what
    research.experiments.analysis.summarise_cells reads."""
    return {cell: {s: r.records() for s, r in seeds.items()} for cell, seeds in by_cell(runs).items()}


def restore_runs(runs: Iterable[Run], archive: str | Path) -> list[str]:
    """Every run's saved results back from `archive`/<run name>; returns the names of those that got any."""
    return [run.name for run in runs if restore_results(run.out, Path(archive) / run.name)]


def save_runs(runs: Iterable[Run], archive: str | Path) -> None:
    """Every finished run's results into `archive`/<run name> (see `save_results`)."""
    for run in runs:
        if finished(run):
            save_results(run.out, Path(archive) / run.name)


def print_done(result: RunResult, i: int, n: int) -> None:
    """`run_grid`'s progress line for a finished run: `[i/n] name seconds`."""
    print(f"[{i}/{n}] {result.run.name} {result.seconds:.0f}s", flush=True)

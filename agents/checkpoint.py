"""The run folder: checkpoints that resume a run exactly (the policy as safetensors; in trainer.pt the
optimiser, extra modules, the curriculum, every RNG, the counters and the config), and the guards that keep
one folder to one run.

A checkpoint is written to a hidden folder and renamed into place, so a crash mid-save leaves the previous
one intact; a checkpoint that cannot be read (cut off, empty) is skipped for the one before it, with a
message saying so. A new run refuses a folder that holds another (unless told to overwrite it), and a resume
refuses a checkpoint trained with other settings, naming them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.models.policy import quiet_transformers
from mathenv.errors import UserError

TRAINER_STATE = "trainer.pt"
POLICY_DIR = "policy"
CONFIG = "config.json"
#: what a training run writes into its folder; --overwrite deletes exactly these, nothing else there
RUN_FILES = (CONFIG, "metrics.jsonl", "summary.json", "curves.png")
RUN_DIRS = ("checkpoints", "tensorboard", "wandb")


class RunFolderError(UserError):
    """--out holds another run, or its checkpoint was trained with other settings."""


def write_text(path: str | Path, text: str) -> Path:
    """Write aside and rename into place: a crash (kill -9 included) never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2))


def holds_run(out: str | Path) -> bool:
    """A run has written metrics or checkpoints here (a config.json alone is a start that never got going)."""
    return (Path(out) / "metrics.jsonl").exists() or bool(checkpoint_dirs(out))


def differences(saved: dict[str, Any], current: dict[str, Any], may_differ: Iterable[str]) -> list[str]:
    """'field: saved there, current now' for every field both configs hold that differs, outside
    `may_differ`."""
    skip = set(may_differ)
    return [
        f"{k} {saved[k]!r} there, {current[k]!r} now"
        for k in sorted(set(saved) & set(current))
        if k not in skip and saved[k] != current[k]
    ]


def check_resume(
    out: str | Path, saved: dict[str, Any], current: dict[str, Any], may_differ: Iterable[str]
) -> None:
    """Refuse to continue a run under other settings (a GRPO checkpoint resumed as VinePPO, another model)."""
    diff = differences(saved, current, may_differ)
    if diff:
        raise RunFolderError(
            f"--resume: {out} was trained with other settings ({'; '.join(diff)}). Resume with "
            f"the same options (they are in {Path(out) / CONFIG}), or pass another --out"
        )


def check_run_folder(
    out: str | Path, config: dict[str, Any], *, resume: bool, overwrite: bool, may_differ: Iterable[str]
) -> None:
    """Before anything loads: a new run must not land on another run's files (unless `overwrite`); a resume
    must have the settings the folder's config.json records (the checkpoint's own copy is checked on load)."""
    out = Path(out)
    if resume:
        try:
            saved = json.loads((out / CONFIG).read_text())
        except (OSError, ValueError):
            return  # nothing (readable) recorded: the checkpoint's config is checked when it loads
        check_resume(out, saved, config, may_differ)
    elif holds_run(out) and not overwrite:
        found = [name for name in ("metrics.jsonl",) if (out / name).exists()]
        if checkpoint_dirs(out):
            found.append(f"{len(checkpoint_dirs(out))} checkpoint(s)")
        raise RunFolderError(
            f"{out} already holds a run ({', '.join(found)}); pass --resume to continue it, "
            f"--overwrite to replace it, or another --out"
        )


def clear_run(out: str | Path) -> None:
    """Delete what an earlier run wrote into `out` (only the files a run writes)."""
    out = Path(out)
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for name in RUN_DIRS:
        shutil.rmtree(out / name, ignore_errors=True)


def rng_state() -> dict[str, Any]:
    """Every random stream a run draws from: torch (and CUDA), numpy's global, Python's."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_dirs(out: str | Path) -> list[Path]:
    """The run's checkpoint folders, oldest first."""
    root = Path(out) / "checkpoints"
    return sorted(p for p in root.glob("step_*") if (p / TRAINER_STATE).exists()) if root.exists() else []


def save(
    out: str | Path, step: int, policy: torch.nn.Module, tokenizer: Any, state: dict[str, Any], keep: int
) -> Path:
    """Write checkpoints/step_<step> (policy and `state`), then drop all but the `keep` newest."""
    root = Path(out) / "checkpoints"
    final = root / f"step_{step:06d}"
    tmp = root / f".tmp_step_{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with quiet_transformers():
        policy.save_pretrained(tmp / POLICY_DIR)
    tokenizer.save_pretrained(tmp / POLICY_DIR)
    torch.save(state, tmp / TRAINER_STATE)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in checkpoint_dirs(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(trainer state, policy weights) of one checkpoint folder; raises ValueError naming the file when it
    cannot be read."""
    from safetensors.torch import load_file

    try:
        state = torch.load(path / TRAINER_STATE, weights_only=False)
        weights: dict[str, torch.Tensor] = {}
        files = sorted((path / POLICY_DIR).glob("*.safetensors"))
        if not files:
            raise FileNotFoundError(f"no *.safetensors in {path / POLICY_DIR}")
        for f in files:
            weights.update(load_file(f))
    except Exception as e:  # a cut-off or empty file: torch/safetensors say little about which
        raise ValueError(f"checkpoint {path} cannot be read ({type(e).__name__}: {e})") from e
    return state, weights


def load_latest(
    out: str | Path, report: Callable[[str], None] | None = None
) -> tuple[Path, dict[str, Any], dict[str, torch.Tensor]] | None:
    """The newest readable checkpoint of a run (path, state, weights), or None when there is none; an
    unreadable newer one is skipped with a message that names it (to `report`, else as a warning)."""
    for path in reversed(checkpoint_dirs(out)):
        try:
            state, weights = load(path)
        except ValueError as e:
            message = f"{e}; falling back to the checkpoint before it"
            if report is None:
                warnings.warn(message, stacklevel=2)
            else:
                report(message)
            continue
        return path, state, weights
    return None

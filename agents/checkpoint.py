"""Checkpoints that resume a run exactly: the policy (safetensors), and in trainer.pt the optimiser, extra
modules, the curriculum, every RNG and the counters.

A checkpoint is written to a hidden folder and renamed into place, so a crash mid-save leaves the previous
one intact; a checkpoint that cannot be read (cut off, empty) is skipped for the one before it, with a
message saying so.
"""

from __future__ import annotations

import random
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

TRAINER_STATE = "trainer.pt"
POLICY_DIR = "policy"


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


def save(out: str | Path, step: int, policy: torch.nn.Module, tokenizer: Any, state: dict[str, Any],
         keep: int) -> Path:
    """Write checkpoints/step_<step> (policy and `state`), then drop all but the `keep` newest."""
    root = Path(out) / "checkpoints"
    final = root / f"step_{step:06d}"
    tmp = root / f".tmp_step_{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
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


def load_latest(out: str | Path) -> tuple[Path, dict[str, Any], dict[str, torch.Tensor]] | None:
    """The newest readable checkpoint of a run (path, state, weights), or None when there is none; an
    unreadable newer one is skipped with a warning that names it."""
    for path in reversed(checkpoint_dirs(out)):
        try:
            state, weights = load(path)
        except ValueError as e:
            warnings.warn(f"{e}; falling back to the checkpoint before it", stacklevel=2)
            continue
        return path, state, weights
    return None

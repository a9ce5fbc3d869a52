"""The run folder: checkpoints that resume a run exactly (the policy as safetensors; in trainer.pt the
optimiser, extra modules, the curriculum, every RNG, the counters and the config), and the guards that keep
one folder to one run.

A checkpoint is written to a hidden folder and renamed into place, so a crash mid-save leaves the previous
one intact; a checkpoint that cannot be read (cut off, empty) is skipped for the one before it, with a
message saying so. A new run refuses a folder that holds another (unless told to overwrite it), a resume
refuses a folder that holds no run (a typo in --out) and a checkpoint trained with other settings, naming
them, and `RunLock` keeps a second process from training into a folder while one is.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import json
import os
import random
import shutil
import socket
import sys
import time
import warnings
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mathenv.errors import UserError

if TYPE_CHECKING:
    import torch

TRAINER_STATE = "trainer.pt"
POLICY_DIR = "policy"
CONFIG = "config.json"
#: held (POSIX record lock) by the process training into the folder; names it, for whoever finds it locked
LOCK = ".lock"
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
        require_run(out)
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


def require_run(out: str | Path) -> None:
    """--resume needs a run in `out`: its config.json or a checkpoint. Else `out` is most likely a typo, and
    training from scratch there (minutes, a config.json that later resumes pick up) is not what was asked."""
    out = Path(out)
    if (out / CONFIG).exists() or checkpoint_dirs(out):
        return
    parent = out.parent if str(out.parent) != "" else Path(".")
    runs = sorted(p.name for p in parent.glob("*") if p.is_dir() and (p / CONFIG).exists())
    close = difflib.get_close_matches(out.name, runs, n=1)
    hint = f"did you mean {parent / close[0]}? " if close else ""
    if runs and not close:
        shown = ", ".join(str(parent / r) for r in runs[:5]) + (", ..." if len(runs) > 5 else "")
        hint = f"runs in {parent}: {shown}; "
    raise RunFolderError(
        f"--resume: {out} holds no run (no {CONFIG}, no checkpoint); {hint}pass the --out of the run to "
        f"continue, or drop --resume to start a new one there"
    )


class RunLock:
    """One training process per run folder: a POSIX lock on `out/.lock`, which names its holder (pid, host,
    start, command). The kernel releases it when the process ends, however it ends, so a lock left by a killed
    process is taken over (and said); forked children (the verifier's helper) do not inherit it. Within one
    process it is shared: trainers built one after another on the same folder (tests, the quickstart) pass.
    Released by `release()`, else when the object is collected or the process exits; a folder that `created`
    says the start made is removed then if nothing but the lock was written into it (a start that failed)."""

    _held: dict[str, list[int]] = {}  # resolved lock path -> [pid, fd, holders] of this process

    def __init__(self, out: str | Path, created: bool = False) -> None:
        self.path = Path(out) / LOCK
        self.created = created
        self._release: weakref.finalize | None = None

    def acquire(self) -> str | None:
        """Take the lock (a RunFolderError naming the holder when another process has it); a line to say
        when a killed process had left it behind, else None."""
        if self._release is not None and self._release.alive:
            return None
        key, said = str(self.path.resolve()), None
        held = self._held.get(key)
        if held and held[0] == os.getpid():  # (a forked child inherits the table, not the lock)
            held[2] += 1
        else:
            fd, said = self._take()
            self._held[key] = [os.getpid(), fd, 1]
        self._release = weakref.finalize(self, RunLock._let_go, key, self.path, self.created)
        return said

    def release(self) -> None:
        if self._release is not None:
            self._release()

    def _take(self) -> tuple[int, str | None]:
        for _ in range(20):  # retried while a releasing holder unlinks the file under us
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _describe(os.pread(fd, 4096, 0))
                os.close(fd)
                raise RunFolderError(
                    f"{self.path.parent} is in use: another process is training into it ({holder}, lock "
                    f"{self.path}); wait for it to end or stop it, or pass another --out"
                ) from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = os.pread(fd, 4096, 0)
            record = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                "command": " ".join(sys.argv),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
            if not previous.strip():
                return fd, None
            return fd, (
                f"{self.path}: taking over the lock of a process that ended without releasing it "
                f"({_describe(previous)}; killed?)"
            )
        raise RunFolderError(f"{self.path}: could not take the lock (it kept changing); try again")

    @staticmethod
    def _let_go(key: str, path: Path, created: bool) -> None:
        held = RunLock._held.get(key)
        if not held or held[0] != os.getpid():
            return
        held[2] -= 1
        if held[2] > 0:
            return
        del RunLock._held[key]
        with contextlib.suppress(OSError):
            if os.stat(path).st_ino == os.fstat(held[1]).st_ino:
                path.unlink()
        os.close(held[1])
        if created:
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # only when empty: a start that failed before writing anything


def claim_run_folder(
    out: str | Path,
    config: dict[str, Any],
    *,
    resume: bool,
    overwrite: bool,
    may_differ: Iterable[str],
    report: Callable[[str], None] = print,
) -> RunLock:
    """`check_run_folder`, then the folder made and locked for this process (see RunLock); a lock a killed
    process left is taken over and reported."""
    check_run_folder(out, config, resume=resume, overwrite=overwrite, may_differ=may_differ)
    out = Path(out)
    lock = RunLock(out, created=not out.exists())
    out.mkdir(parents=True, exist_ok=True)
    said = lock.acquire()
    if said:
        report(said)
    return lock


def _describe(content: bytes) -> str:
    """The holder a lock file names, in words."""
    try:
        h = json.loads(content.decode())
        return f"pid {h['pid']} on {h['host']}, started {h['started']}: {h['command']}"
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "a process that has not written its name yet"


def clear_run(out: str | Path) -> None:
    """Delete what an earlier run wrote into `out` (only the files a run writes)."""
    out = Path(out)
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for name in RUN_DIRS:
        shutil.rmtree(out / name, ignore_errors=True)


def rng_state() -> dict[str, Any]:
    """Every random stream a run draws from: torch (and CUDA), numpy's global, Python's."""
    import torch  # here, as in the functions below: the folder checks run before torch loads

    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

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
    import torch

    from agents.models.hf import quiet_transformers

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
    import torch
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

"""A run's results kept in git: the runs folder is ignored by git and a new checkout does not have it, so a grid
copies each finished run's small files (config, summary, re-evaluation scores, metrics gzipped; never its
checkpoints) into a committed folder and restores them from there first.

A config's model path under the user's home is saved as `~/...` and expanded on restore, so an archive written
on one machine is reused on another whose home differs (the grid refuses a run folder whose settings, model
path included, differ from the grid's).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

#: the files of a run folder that are archived (metrics.jsonl too, gzipped)
ARCHIVED = ("config.json", "summary.json", "reevaluate_*.json")
METRICS = "metrics.jsonl"
CONFIG = "config.json"
#: config fields that hold a local path: saved relative to the home folder
PATH_FIELDS = ("model",)


def _config_bytes(data: bytes, home_to: str, home_from: str) -> bytes:
    """The config with every path field under `home_from` rewritten under `home_to`; other bytes unchanged."""
    config = json.loads(data)
    changed = False
    for key in PATH_FIELDS:
        value = config.get(key)
        if isinstance(value, str) and (value == home_from or value.startswith(home_from.rstrip("/") + "/")):
            config[key] = home_to + value[len(home_from.rstrip("/")) :]
            changed = True
    return (json.dumps(config, indent=2)).encode() if changed else data


def save_results(folder: str | Path, dest: str | Path) -> list[Path]:
    """Copy `folder`'s results (ARCHIVED, and metrics.jsonl gzipped) into `dest`; returns the files written.
    Byte-for-byte the same for the same results (gzip without a time stamp), so a second call changes nothing
    that git sees."""
    folder, dest = Path(folder), Path(dest)
    written = []
    sources = [p for pattern in ARCHIVED for p in sorted(folder.glob(pattern))]
    metrics = folder / METRICS
    for path in sources + ([metrics] if metrics.exists() else []):
        data = path.read_bytes()
        target = dest / path.name
        if path.name == METRICS:
            data, target = gzip.compress(data, mtime=0), dest / f"{METRICS}.gz"
        elif path.name == CONFIG:
            data = _config_bytes(data, "~", str(Path.home()))
        if target.exists() and target.read_bytes() == data:
            continue
        dest.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written


def restore_results(folder: str | Path, dest: str | Path) -> list[Path]:
    """Put a run's saved results (see `save_results`) back into `folder`: every file it lacks, and the metrics
    when the folder's are shorter (a run cut before its archived copy finished). Files the folder already has
    are kept, so newer results are never overwritten by older ones. Returns the files written."""
    folder, dest = Path(folder), Path(dest)
    written = []
    for saved in sorted(dest.glob("*")) if dest.is_dir() else []:
        if saved.name == f"{METRICS}.gz":
            data, target = gzip.decompress(saved.read_bytes()), folder / METRICS
            if target.exists() and len(target.read_bytes().splitlines()) >= len(data.splitlines()):
                continue
        elif any(saved.match(pattern) for pattern in ARCHIVED):
            data, target = saved.read_bytes(), folder / saved.name
            if target.exists():
                continue
            if saved.name == CONFIG:
                data = _config_bytes(data, str(Path.home()), "~")
        else:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written

"""A run's results kept in git: the runs folder is ignored by git and a new checkout does not have it, so a grid
copies each finished run's small files (config, summary, re-evaluation scores, metrics gzipped; never its
checkpoints) into a committed folder and restores them from there first.

A path under the user's home in an archived file (the warm start in ~/.cache, a data file) is saved as
`$HOME/...` and put back under the local home on restore, so an archive written on one machine is reused on
another whose home differs: the grid refuses a run folder whose settings differ from its own, model path
included, and a re-evaluation's cache holds only under the settings it was scored with.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

#: the files of a run folder that are archived (metrics.jsonl too, gzipped)
ARCHIVED = ("config.json", "summary.json", "reevaluate_*.json")
METRICS = "metrics.jsonl"
#: what stands for the user's home in archived files
HOME_MARK = "$HOME"


def _rehome(data: bytes, old: str, new: str) -> bytes:
    """Every JSON string that is the folder `old` or a path in it, rewritten under `new`; all other bytes as
    they were (a textual swap, so a file saved twice is the same file). A home of `/` is left alone."""
    old, new = old.rstrip("/"), new.rstrip("/")
    if not old or not new:
        return data
    quoted = (json.dumps(old)[:-1], json.dumps(new)[:-1])  # '"/home/a' and '"$HOME', escaped as JSON writes
    for end in ("/", '"'):
        data = data.replace((quoted[0] + end).encode(), (quoted[1] + end).encode())
    return data


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
        else:
            data = _rehome(data, str(Path.home()), HOME_MARK)
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
            data = _rehome(data, HOME_MARK, str(Path.home()))
        else:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written

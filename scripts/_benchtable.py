"""Shared by the benchmark scripts: print a markdown table and write it into docs/benchmarks.md.

Each benchmark owns one section of docs/benchmarks.md, delimited by HTML comments, so several scripts can
rewrite their own results without touching the others'.
"""

from __future__ import annotations

import platform
import re
from datetime import date
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = "# Benchmarks\n\nEach section is written by the script named in it; rerun the script to refresh it.\n"


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    """Render rows as a GitHub markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line() -> str:
    """One line naming where the numbers were taken, so tables from different machines are not mixed up."""
    import os

    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}, measured {date.today().isoformat()}"
    )


def command_line(script: str, argv: list[str] | None = None) -> str:
    """The command that wrote a table, as a reader would retype it: `python scripts/NAME.py ARGS`."""
    import sys

    args = argv if argv is not None else sys.argv[1:]
    return " ".join(["python", f"scripts/{Path(script).name}", *args])


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the section `name` of docs/benchmarks.md with `body`."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = doc.read_text() if doc.exists() else HEADER
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)

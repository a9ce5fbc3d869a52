"""Shared by the benchmark scripts: print a markdown table and write it into docs/benchmarks.md.

Each benchmark owns one section of docs/benchmarks.md, delimited by HTML comments, so several scripts can
rewrite their own results without touching the others'.
"""

from __future__ import annotations

from pathlib import Path

from research.experiments import tables
from research.experiments.tables import command_line, machine_line, markdown_table  # noqa: F401  (re-exported)

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\nEach section is written by the script named in it; rerun the script to refresh it.\n"
)


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the section `name` of docs/benchmarks.md with `body`."""
    tables.write_section(name, body, doc=doc, header=HEADER)

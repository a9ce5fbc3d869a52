"""Every ```python and ```bash block of README.md and docs/*.md runs as written (issue 24), or says on the line
before it why it does not: `<!-- not run: reason -->` (a GPU, the hub, hours), or `<!-- tag: tests/x.py ... -->`
when another test runs it. Each block runs in a fresh folder whose `../shared/data` is the shared data, with
`python` the interpreter running the tests and this checkout's packages importable, offline. The README's
table of env keywords is checked against the code's signature."""

import ast
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA

import mathenv.env
from mathenv import MathReasoningEnv

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = re.compile(r"<!-- not run: (.*\S) -->")
ELSEWHERE = re.compile(r"<!-- ([\w-]+): (tests/\w+\.py)\b.* -->")


def blocks() -> list[tuple[str, int, str, str, str]]:
    """(file, line, language, code, marker line) of every python and bash block in the docs."""
    found = []
    for doc in DOCS:
        lines = doc.read_text().splitlines()
        i = 0
        while i < len(lines):
            m = re.fullmatch(r"```(python|bash)\s*", lines[i])
            if not m:
                i += 1
                continue
            end = lines.index("```", i + 1)
            before = next((line for line in reversed(lines[:i]) if line.strip()), "")
            found.append(
                (str(doc.relative_to(ROOT)), i + 1, m.group(1), "\n".join(lines[i + 1 : end]) + "\n", before)
            )
            i = end + 1
    return found


BLOCKS = blocks()
RUN = [b for b in BLOCKS if not NOT_RUN.fullmatch(b[4].strip()) and not ELSEWHERE.fullmatch(b[4].strip())]


def test_every_block_runs_here_or_says_why_not():
    assert len(BLOCKS) >= 15 and len(RUN) >= 6, (len(BLOCKS), len(RUN))
    for doc, line, _, _, marker in BLOCKS:
        other = ELSEWHERE.fullmatch(marker.strip())
        if other:  # run by another test, which must exist and find the block by its tag
            test = ROOT / other.group(2)
            assert test.exists() and other.group(1) in test.read_text(), f"{doc}:{line}: {marker}"


@pytest.mark.parametrize("doc,line,language,code,marker", RUN, ids=[f"{b[0]}:{b[1]}" for b in RUN])
def test_block_runs_as_written(doc, line, language, code, marker, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "$@"\n'
    )  # the venv's, by its own path
    (bin_dir / "python").chmod(0o755)
    if "../shared/data" in code:
        if not DATA.exists():
            pytest.skip(f"{DATA} not found: the shared data folder sits beside the checkout")
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "data").symlink_to(DATA)
    script = work / ("block.py" if language == "python" else "block.sh")
    script.write_text(code)
    command = (
        [sys.executable, script.name] if language == "python" else ["bash", "-euo", "pipefail", script.name]
    )
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "WANDB_MODE": "offline",
    }
    print(" ".join(command), "in", work)
    proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{doc}:{line} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


def _readme_keywords() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    table = text[text.index('Every keyword of `gym.make("MathReasoning-v0", ...)`') :]
    rows = {}
    for row in re.findall(r"^\| (`.+?`) \| `(.+?)` \|", table.split("\n\n")[1], re.M):
        for name in re.findall(r"`(\w+)`", row[0]):
            rows[name] = row[1]
    return rows


def test_the_readme_env_keyword_table_matches_the_signature():
    documented = _readme_keywords()
    params = {k: p for k, p in inspect.signature(MathReasoningEnv.__init__).parameters.items() if k != "self"}
    assert set(documented) == set(params), set(documented) ^ set(params)
    for name, text in documented.items():
        default = params[name].default
        try:
            value = ast.literal_eval(text)
        except ValueError:  # a constant's name
            value = getattr(mathenv.env, text)
        assert value == default and type(value) is type(default), (
            f"README says {name}={text}, code {default!r}"
        )

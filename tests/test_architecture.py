"""Issue 36's bars on the house's shape, computed afresh by scripts/architecture.py (the table in
docs/architecture.md), so that none can grow back silently: what `import agents.algos.grpo` loads, how many
files and file switches one GRPO step and the updates cross, the longest file, and import cycles (importlib's
included)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _architecture():
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location("architecture", ROOT / "scripts" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


A = _architecture()


@pytest.fixture(scope="module")
def measured():
    return A.measure()


@pytest.mark.parametrize("key", list(A.LIMITS))
def test_each_measure_is_within_its_limit(measured, key):
    assert measured[key] <= A.LIMITS[key], {
        k: v for k, v in measured.items() if k.startswith(key.split("_")[0])
    }


def test_an_algorithm_loads_only_the_core(measured):
    modules = measured["grpo_import_list"]
    assert all(m.startswith(("agents.core.", "agents.algos.grpo", "mathenv.errors")) for m in modules), (
        modules
    )


def test_no_file_is_over_the_bar():
    over = [f for n, f in A.longest_files(10) if n > A.LIMITS["longest_file_lines"]]
    assert over == [], over


def test_the_import_graph_reads_importlib_strings_and_function_level_imports(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text('import importlib\n\ndef f():\n    return importlib.import_module("pkg.b")\n')
    b.write_text("def g():\n    from pkg import a\n")
    modules = {"pkg.a", "pkg.b", "pkg"}
    assert A.imports("pkg.a", a, modules) == {"pkg.b"}
    assert A.imports("pkg.b", b, modules) == {"pkg.a"}

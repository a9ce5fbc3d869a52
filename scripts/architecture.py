"""The house's measures, against the limits issue 36 set: how much an algorithm drags in, how far a reader
travels to follow a training step, how long a file gets, and whether any modules import each other in a loop.

    python scripts/architecture.py            # the table
    python scripts/architecture.py --write    # ... and into docs/architecture.md

- `import agents.algos.grpo`: the project modules it loads (in a fresh interpreter); packages' `__init__`
  files are listed apart, not counted (they hold a docstring and lazily loaded names, nothing to read).
- One GRPO step and updates (`scripts/trace_step.py`): functions, files and file switches in first-call
  order; the step with and without the verifier's internals (mathenv/verify/).
- The longest file of the installed packages and research/ (tests and scripts aside).
- Import cycles over every import statement, at module level or inside a function, and every module named
  by a string in a module that calls `importlib.import_module`.
tests/test_architecture.py computes the same measures and holds them to `LIMITS`.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT)]
from trace_step import counts, trace  # noqa: E402

from research.experiments.tables import write_section  # noqa: E402

#: the importable packages (research/ is not installed but is imported by scripts and tests)
PACKAGES = ("mathenv", "curricula", "agents", "integrations", "research")
#: issue 36's bars: each measure at most this
LIMITS = {
    "grpo_import_modules": 6,
    "step_files": 14,
    "step_switches": 30,
    "step_switches_without_verifier": 22,
    "update_files": 3,
    "update_switches": 4,
    "vineppo_update_files": 6,
    "longest_file_lines": 400,
    "import_cycles": 0,
}


def loaded_by(module: str) -> tuple[list[str], list[str]]:
    """(project modules, project packages) a fresh interpreter has loaded after `import module`."""
    code = (
        f"import sys, json; import {module}; "
        f"print(json.dumps({{m: getattr(v, '__path__', None) is not None for m, v in sys.modules.items() "
        f"if m.split('.')[0] in {PACKAGES!r}}}))"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    return sorted(m for m, pkg in loaded.items() if not pkg), sorted(m for m, pkg in loaded.items() if pkg)


def source_files() -> dict[str, Path]:
    """Module name -> file, for every module of the packages (research/'s tests aside)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "tests" in parts:
                continue
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, modules: set[str]) -> set[str]:
    """The project modules `name` imports anywhere in its file (a name imported from a package resolves to
    the submodule when one has that name), plus those named by strings when it calls importlib."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    dynamic = False
    strings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + [base]
                ).strip(".")
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if sub in modules else base)
        elif isinstance(node, ast.Attribute) and node.attr == "import_module":
            dynamic = True
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.add(node.value)
    if dynamic:
        found.update(s for s in strings if s in modules)
    return {m for m in found if m in modules and m != name}


def cycles() -> list[list[str]]:
    """Every set of modules that import each other in a loop (strongly connected, more than one module)."""
    files = source_files()
    graph = {m: imports(m, p, set(files)) for m, p in files.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def longest_files(n: int = 3) -> list[tuple[int, str]]:
    lengths = [(len(p.read_text().splitlines()), str(p.relative_to(ROOT))) for p in source_files().values()]
    return sorted(lengths, reverse=True)[:n]


def measure() -> dict[str, object]:
    """Every measure, with what it was measured on."""
    modules, packages = loaded_by("agents.algos.grpo")
    step, update = trace("grpo")
    no_verifier = [c for c in step if not c[0].startswith("mathenv/verify/")]
    _, vine_update = trace("vineppo")
    s, u, nv, vu = counts(step), counts(update), counts(no_verifier), counts(vine_update)
    longest = longest_files()
    loops = cycles()
    return {
        "grpo_import_modules": len(modules),
        "grpo_import_list": modules,
        "grpo_import_packages": packages,
        "step_functions": s["functions"],
        "step_files": s["files"],
        "step_switches": s["switches"],
        "step_switches_without_verifier": nv["switches"],
        "update_functions": u["functions"],
        "update_files": u["files"],
        "update_switches": u["switches"],
        "update_file_list": list(dict.fromkeys(f for f, _ in update)),
        "vineppo_update_functions": vu["functions"],
        "vineppo_update_files": vu["files"],
        "vineppo_update_switches": vu["switches"],
        "longest_file_lines": longest[0][0],
        "longest_files": longest,
        "import_cycles": len(loops),
        "cycle_list": loops,
    }


def table(m: dict[str, object]) -> str:
    def row(what: str, value: object, key: str | None) -> str:
        limit = f"<= {LIMITS[key]}" if key else ""
        ok = "" if key is None else ("yes" if m[key] <= LIMITS[key] else "**no**")  # type: ignore[operator]
        return f"| {what} | {value} | {limit} | {ok} |"

    longest = ", ".join(f"{f} {n}" for n, f in m["longest_files"])  # type: ignore[union-attr]
    cycles_text = "; ".join(" <-> ".join(c) for c in m["cycle_list"]) or "none"  # type: ignore[union-attr]
    return "\n".join(
        [
            "| measure | value | limit | within |",
            "|---|---|---|---|",
            row(
                "project modules loaded by `import agents.algos.grpo` (packages' `__init__` aside)",
                f"{m['grpo_import_modules']}: {', '.join(m['grpo_import_list'])} "  # type: ignore[arg-type]
                f"(packages: {', '.join(m['grpo_import_packages'])})",  # type: ignore[arg-type]
                "grpo_import_modules",
            ),
            row("one GRPO step: functions", m["step_functions"], None),
            row("one GRPO step: files", m["step_files"], "step_files"),
            row("one GRPO step: file switches", m["step_switches"], "step_switches"),
            row(
                "one GRPO step: file switches without mathenv/verify/",
                m["step_switches_without_verifier"],
                "step_switches_without_verifier",
            ),
            row(
                "GRPO's update (`Trainer.learn`): files",
                f"{m['update_files']} ({', '.join(m['update_file_list'])}; "  # type: ignore[arg-type]
                f"{m['update_functions']} functions)",
                "update_files",
            ),
            row("GRPO's update: file switches", m["update_switches"], "update_switches"),
            row(
                "VinePPO's update: files",
                f"{m['vineppo_update_files']} ({m['vineppo_update_functions']} functions, "
                f"{m['vineppo_update_switches']} switches)",
                "vineppo_update_files",
            ),
            row(f"longest file, lines ({longest})", m["longest_file_lines"], "longest_file_lines"),
            row(f"import cycles, importlib included ({cycles_text})", m["import_cycles"], "import_cycles"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="write the table into docs/architecture.md")
    a = ap.parse_args(argv)
    text = table(measure())
    print(text)
    if a.write:
        doc = ROOT / "docs" / "architecture.md"
        write_section("architecture", text, doc=doc, header=doc.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

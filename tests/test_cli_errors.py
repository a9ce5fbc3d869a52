"""A user's mistakes on the command lines (issue 24): each ends with one line on stderr naming the option and
what to do, exit status 2, no usage block and no traceback. Run in-process for speed, and three of them as
real subprocesses (argparse's own exit path, the interpreter's traceback printing)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agents.cli import evaluate
from agents.cli.plots import main as plots_main
from agents.cli.quickstart import main as quickstart_main
from agents.cli.train import main as train_main

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--model", "tiny", "--no-progress", "--no-plot", "--eval-questions", "0", "--steps", "1"]

MISTAKES = [
    # (command, argv, text the one line must hold)
    ("train", ["--levels", "0"], "--levels 0: arithmetic has levels 1-10"),
    ("train", ["--levels", "11"], "--levels 11: arithmetic has levels 1-10"),
    ("train", ["--dataset", "math", "--data-path", "x.jsonl", "--levels", "6"], "math has levels 1-5"),
    ("train", ["--device", "gpu"], "--device 'gpu' is not a torch device"),
    ("train", ["--curriculum", "foo"], "argument --curriculum: invalid choice: 'foo'"),
    ("train", ["--curriculum-options", "{bad"], "argument --curriculum-options: '{bad' is not JSON"),
    (
        "train",
        ["--curriculum-options", "[1]"],
        "argument --curriculum-options: '[1]' is a JSON list, not an object",
    ),
    (
        "train",
        ["--model", "smollm3"],
        "--model 'smollm3' is neither a short name nor a local folder (did you mean 'smollm2'?)",
    ),
    ("train", ["--num-questions", "2", "--questions-per-step", "4"], "--questions-per-step 4"),
    ("train", ["--steps", "many"], "argument --steps: invalid int value"),
    ("evaluate", ["--levels", "0"], "--levels 0: arithmetic has levels 1-10"),
    ("evaluate", ["--device", "gpu"], "--device 'gpu' is not a torch device"),
    ("evaluate", ["--model", "smollm3"], "(did you mean 'smollm2'?)"),
    ("evaluate", ["--k", "x"], "argument --k: invalid int value"),
    ("plots", ["no/such/run"], "no/such/run: no such folder"),
    ("quickstart", ["--steps", "x"], "argument --steps: invalid int value"),
]
if not torch.cuda.is_available():
    MISTAKES.append(("train", ["--device", "cuda"], "--device cuda: this torch build has no CUDA"))
    MISTAKES.append(("evaluate", ["--device", "cuda"], "--device cuda: this torch build has no CUDA"))


def _run(command: str, argv: list[str], tmp_path: Path) -> int:
    if command == "train":
        return train_main([*TINY, "--out", str(tmp_path / "run"), *argv])
    if command == "evaluate":
        return evaluate.main(["--model", "tiny", "--num-questions", "4", "--k", "0", *argv])
    if command == "quickstart":
        return quickstart_main([*argv, "--out", str(tmp_path)])
    return plots_main([*argv, "--out", str(tmp_path / "c.png")])


def _one_line(err: str, message: str) -> None:
    assert err.startswith("error: ") and message in err, err
    assert err.count("\n") == 1, err  # one line: no usage block, no traceback, no warnings before it
    assert "usage:" not in err and "Traceback" not in err


@pytest.mark.parametrize("command,argv,message", MISTAKES, ids=[f"{c}:{' '.join(a)}" for c, a, _ in MISTAKES])
def test_a_mistake_is_one_line_and_status_2(command, argv, message, tmp_path, capsys):
    code = _run(command, argv, tmp_path)
    _one_line(capsys.readouterr().err, message)
    assert code == 2


@pytest.mark.parametrize(
    "argv,message",
    [
        (["agents.train", "--curriculum", "foo"], "invalid choice: 'foo'"),
        (["agents.evaluate", "--levels", "11"], "--levels 11"),
        (["agents.plots", "no/such/run"], "no such folder"),
        # an experiment script: a typo in an arm name is refused before the grid plans or trains anything
        (
            ["scripts/digits_testbed.py", "grid", "--only", "unifrom"],
            "--only unifrom: not an arm of the design",
        ),
    ],
)
def test_the_real_command_line_prints_one_line_and_exits_2(argv, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, *(argv if argv[0].endswith(".py") else ["-m", *argv])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "OMP_NUM_THREADS": "1"},
    )
    _one_line(proc.stderr, message)
    assert proc.returncode == 2 and proc.stdout == ""


def test_every_evaluate_option_has_help():
    actions = [a for a in evaluate._parser()._actions if a.option_strings]
    assert len(actions) >= 18
    missing = [a.option_strings[0] for a in actions if not (a.help or "").strip()]
    assert not missing, missing

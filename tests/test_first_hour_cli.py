"""A user's first hour, second pass (issue 35), on the real command lines as subprocesses: a resume of a folder
with no run, --report-to wandb without a login and a second process training into a busy folder each stop with
one line (exit 2) and leave nothing behind; a lock left by a killed process is taken over and said."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.core import metrics as M

ROOT = Path(__file__).resolve().parent.parent
#: a tiny run, in seconds: the random model on level-1 arithmetic
TINY = [
    "--preset",
    "tiny",
    "--levels",
    "1",
    "--instruction",
    "",
    "--max-new-tokens",
    "4",
    "--questions-per-step",
    "2",
    "--attempts-per-question",
    "2",
    "--eval-questions",
    "0",
    "--no-plot",
    "--report-to",
    "none",
]


def _env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment: no terminal, a HOME of its own (no W&B login, no caches of ours), offline."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


def _train(argv: list[str], home: Path, **popen) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agents.train", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(home),
        **popen,
    )


def _one_line(proc: subprocess.CompletedProcess, *texts: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr[-3000:]
    for text in texts:
        assert text in proc.stderr, (text, proc.stderr)


def test_resume_of_a_folder_with_no_run_stops_and_leaves_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    proc = _train([*TINY, "--out", str(tmp_path / "typo"), "--resume"], home)
    _one_line(proc, f"--resume: {tmp_path / 'typo'} holds no run", "drop --resume")
    assert not (tmp_path / "typo").exists()  # no config.json for a later resume to pick up
    # beside a real run, the message names it
    (tmp_path / "quickstart").mkdir()
    (tmp_path / "quickstart" / "config.json").write_text(json.dumps({"algo": "grpo"}))
    proc = _train(["--out", str(tmp_path / "quikstart"), "--resume"], home)
    _one_line(proc, f"did you mean {tmp_path / 'quickstart'}?")
    assert not (tmp_path / "quikstart").exists()


def test_report_to_wandb_without_a_login_is_one_line_and_leaves_nothing(tmp_path):
    import importlib.util

    assert importlib.util.find_spec("wandb"), "wandb is in the dev extra: make test installs it"
    home = tmp_path / "home"  # no ~/.netrc, no W&B settings; WANDB_MODE and WANDB_API_KEY unset
    home.mkdir()
    out = tmp_path / "run"
    argv = [*TINY, "--steps", "1", "--out", str(out), "--report-to", "wandb"]
    proc = _train(argv, home)
    _one_line(proc, "--report-to wandb: not logged in", "`wandb login`", "WANDB_MODE=offline")
    assert not out.exists()  # no half-made run folder


def _wait_for(predicate, proc: subprocess.Popen, what: str, limit: float = 600) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert proc.poll() is None, f"the first run ended before {what}: {proc.returncode}"
        assert time.monotonic() < deadline, f"no {what} within {limit} s"
        time.sleep(0.2)


def test_a_second_process_into_a_busy_folder_stops_and_a_killed_ones_lock_is_taken_over(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    out = tmp_path / "run"
    log = open(tmp_path / "first.log", "w")
    first = subprocess.Popen(
        [sys.executable, "-m", "agents.train", *TINY, "--steps", "100000", "--out", str(out)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_env(home),
    )
    try:

        def checkpointed() -> bool:
            return any((out / "checkpoints").glob("step_*/trainer.pt"))

        _wait_for(checkpointed, first, "a checkpoint")
        second = _train(["--out", str(out), "--resume"], home)
        assert first.poll() is None, "the first run must still be training"
        _one_line(second, f"{out} is in use: another process is training into it (pid {first.pid} ")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        log.close()
    assert (out / ".lock").exists()  # a killed process leaves its lock file behind
    done = max(int(p.name.split("_")[1]) for p in (out / "checkpoints").glob("step_*"))
    third = _train(["--out", str(out), "--resume", "--steps", str(done + 1)], home)
    assert third.returncode == 0, third.stderr[-3000:]
    assert (
        f"taking over the lock of a process that ended without releasing it (pid {first.pid} " in third.stdout
    )
    assert not (out / ".lock").exists()  # released at the end
    steps = [r[M.STEP] for r in M.read_records(out / "metrics.jsonl")]
    assert steps == list(range(done + 2)), steps  # one writer: no interleaved steps


def test_evaluating_a_run_scores_the_questions_its_summary_did_and_says_so(tmp_path):
    from agents.cli.train import build_config
    from agents.trainer import Trainer

    home = tmp_path / "home"
    home.mkdir()
    out = tmp_path / "run"
    argv = [*TINY, "--steps", "1", "--eval-questions", "6", "--eval-samples", "0", "--seed", "3"]
    trained = _train([*argv, "--no-progress", "--out", str(out)], home)
    assert trained.returncode == 0, trained.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    held_out = Trainer(build_config([*argv, "--out", str(tmp_path / "same")])).eval_ids.tolist()

    def evaluate(*flags: str) -> tuple[dict, str]:
        proc = subprocess.run(
            [sys.executable, "-m", "agents.evaluate", "--model", str(out), "--k", "0", *flags],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env=_env(home),
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads((tmp_path / "result.json").read_text()), proc.stderr

    result, err = evaluate("--json", str(tmp_path / "result.json"))
    assert result["question_ids"] == held_out and result["questions"] == summary["held_out"]["questions"] == 6
    assert result["pass@1"] == summary["held_out"]["greedy_pass@1"]["after"]
    assert "questions: the run's own held-out ones, as in its summary: 6 of the test split" in err, err
    # other questions when asked, and said
    result, err = evaluate("--seed", "0", "--json", str(tmp_path / "result.json"))
    assert result["question_ids"] != held_out and result["seed"] == 0
    assert "not the run's own (6, seed 3) that its summary reported" in err, err


def test_the_verifier_benchmark_prints_its_header_before_its_rows(data_dir):
    if not (data_dir / "verifier" / "math_verify_cases.jsonl").exists():
        pytest.skip(f"{data_dir} not found: the shared data folder sits beside the checkout (../shared/data)")
    proc = subprocess.run(
        [sys.executable, "scripts/bench_verifier.py", "--data-dir", str(data_dir), "--only", "tricky"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(ROOT.parent),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| labelled set | cases |"))
    row = next(i for i, line in enumerate(lines) if line.startswith("| project's own: tricky"))
    assert header < row and "labelled sets" in lines[header - 1], proc.stdout[:2000]


def test_every_command_waits_passively_on_shared_cores_and_says_its_threads(tmp_path):
    """libgomp reads OMP_WAIT_POLICY once, when torch loads it: OMP_DISPLAY_ENV=verbose makes it print what it
    read (GOMP_SPINCOUNT 0 when waiting passively, 300000 by default)."""
    home = tmp_path / "home"
    home.mkdir()
    tiny = ["--model", "tiny", "--instruction", "", "--max-new-tokens", "4", "--eval-questions", "2"]
    tiny += ["--questions-per-step", "2", "--attempts-per-question", "2", "--report-to", "none", "--no-plot"]
    commands = {
        "agents.train": [*tiny, "--steps", "1", "--out", str(tmp_path / "run")],
        "agents.evaluate": ["--model", "tiny", "--num-questions", "2", "--k", "0", "--max-new-tokens", "4"],
        "agents.quickstart": ["--steps", "1", "--out", str(tmp_path / "qs"), "--", *tiny],
    }
    for module, argv in commands.items():
        proc = subprocess.run(
            [sys.executable, "-m", module, *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env=_env(home, OMP_DISPLAY_ENV="verbose"),  # no OMP_WAIT_POLICY: the command chooses
        )
        assert proc.returncode == 0, (module, proc.stderr[-3000:])
        assert "GOMP_SPINCOUNT = '0'" in proc.stderr, (module, proc.stderr[-3000:])
        said = proc.stdout + proc.stderr
        assert "cpu: 1 torch thread (OMP_NUM_THREADS); OMP_WAIT_POLICY=PASSIVE" in said, (
            module,
            said[-3000:],
        )


def test_help_and_a_mistake_come_back_before_the_heavy_imports(tmp_path):
    """--help and a one-line error used to wait 4-25 s for torch and transformers to load (issue 35): the
    options are read and checked first. Asserted on what was imported (-X importtime), not on the clock."""
    cases = [
        ("agents.train", ["--help"], 0, {"transformers"}),
        ("agents.train", ["--levels", "0"], 2, {"transformers"}),
        ("agents.evaluate", ["--help"], 0, {"torch", "transformers"}),
        ("agents.evaluate", ["--levels", "0"], 2, {"torch", "transformers"}),
    ]
    for module, argv, code, heavy in cases:
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", module, *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env=_env(tmp_path),
        )
        assert proc.returncode == code, (module, argv, proc.stderr[-2000:])
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
        assert not heavy & imported, (module, argv, sorted(heavy & imported))

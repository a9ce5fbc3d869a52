"""A user's first hour (issue 24): a run folder is self-describing (evaluate and --resume read its config.json),
the env enforces max_answer_chars, and plots that neither invent fractional steps nor blow up small changes."""

import json
import re

import gymnasium as gym
import numpy as np
import pytest

import mathenv  # noqa: F401
from agents.cli.evaluate import main as evaluate_main
from agents.cli.train import build_config
from agents.cli.train import main as train_main
from agents.core import metrics as M

TINY_RUN = [
    "--preset",
    "tiny",
    "--steps",
    "1",
    "--levels",
    "4",
    "--instruction",
    "",
    "--max-new-tokens",
    "5",
    "--questions-per-step",
    "4",
    "--attempts-per-question",
    "2",
    "--eval-questions",
    "0",
    "--no-progress",
    "--no-plot",
    "--no-tensorboard",
    "--checkpoint-every",
    "1",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished tiny run trained on level 4 with the bare question as its prompt."""
    out = tmp_path_factory.mktemp("first_hour") / "run"
    assert train_main([*TINY_RUN, "--out", str(out)]) == 0
    return out


def _evaluate(tmp_path, *argv):
    path = tmp_path / "result.json"
    code = evaluate_main([*argv, "--num-questions", "6", "--k", "0", "--json", str(path)])
    return code, (json.loads(path.read_text()) if code == 0 else None)


@pytest.mark.parametrize("which", ["run", "checkpoint"])
def test_evaluate_scores_a_run_on_its_own_task(which, run, tmp_path, capsys):
    model = run if which == "run" else run / "checkpoints" / "step_000001" / "policy"
    code, result = _evaluate(tmp_path, "--model", str(model))
    assert code == 0, capsys.readouterr().err
    assert result["settings"]["levels"] == [4] and result["settings"]["instruction"] == ""
    assert result["settings"]["max_new_tokens"] == 5  # the run's sampling settings too
    assert list(result["per_level"]) == ["4"]  # scored on level 4 only, not on all ten levels
    assert f"settings from {run / 'config.json'}" in capsys.readouterr().err


def test_evaluating_a_run_on_another_task_needs_a_flag_and_says_so(run, tmp_path, capsys):
    code, _ = _evaluate(tmp_path, "--model", str(run), "--levels", "1")
    err = capsys.readouterr().err
    assert code == 2 and "--levels [1] (the run's: [4])" in err and "--other-task" in err, err
    code, result = _evaluate(tmp_path, "--model", str(run), "--levels", "1", "--other-task")
    assert code == 0 and list(result["per_level"]) == ["1"]
    assert "scoring on another task than the run's: --levels [1]" in capsys.readouterr().err
    # a sampling setting is no task change: it overrides the run's quietly
    code, result = _evaluate(tmp_path, "--model", str(run), "--max-new-tokens", "3")
    assert code == 0 and result["settings"]["max_new_tokens"] == 3 and result["settings"]["levels"] == [4]


def test_resume_takes_the_settings_from_the_run_folder(run, capsys):
    config = build_config(["--out", str(run), "--steps", "2", "--resume"])
    assert (config.levels, config.instruction, config.max_new_tokens, config.steps) == ([4], "", 5, 2)
    assert config.model == "tiny" and config.resume
    # a flag given still overrides, and a change of task is refused naming it
    assert train_main(["--out", str(run), "--steps", "2", "--resume", "--levels", "5"]) == 2
    assert "levels [4] there, [5] now" in capsys.readouterr().err
    assert train_main(["--out", str(run), "--steps", "2", "--resume"]) == 0
    assert [r["step"] for r in M.read_records(run / "metrics.jsonl")] == [0, 1, 2]


def test_step_and_score_refuse_to_read_an_answer_over_max_answer_chars():
    env = gym.make("MathReasoning-v0", levels=[1], max_answer_chars=64, format_penalty=0.5)
    _, info = env.reset(seed=0)
    right = f"\\boxed{{{info['answer']}}}"
    _, reward, terminated, _, info = env.step("x" * 64 + right)  # right, but 73 characters
    assert (reward, terminated, info["reason"], info["correct"]) == (-0.5, True, "too_long", False)
    env.reset(options={"question_id": info["question_id"]})
    assert env.step(right)[1] == 1.0  # within the limit it is read
    qid = info["question_id"]
    rewards, verdicts = env.unwrapped.batch_rewards([qid, qid], ["y" * 65, right], prefixes=["", "z" * 100])
    assert [v.reason for v in verdicts] == [
        "too_long",
        "correct",
    ]  # the limit is on the answer, not the prefix
    assert rewards.tolist() == [-0.5, 1.0]


def test_curves_have_whole_steps_honest_share_axes_and_error_bars(tmp_path):
    pytest.importorskip("matplotlib")
    from agents.curves import PANELS, figure

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"algo": "grpo", "curriculum": "uniform", "seed": 0}))
    records = [{M.STEP: 0, M.EVAL_PASS1: 0.28, M.EVAL_QUESTIONS: 200}]
    records += [
        {M.STEP: s, M.TRAIN_REWARD: 0.3 + 0.01 * s, M.TRAIN_ZERO_ADVANTAGE: 0.5} for s in range(1, 11)
    ]
    records[-1].update({M.EVAL_PASS1: 0.29, M.EVAL_QUESTIONS: 200})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    fig = figure([run])
    axes = dict(zip([k for k, _ in PANELS], fig.axes, strict=True))
    for key, ax in axes.items():
        low, high = ax.get_ylim()
        if key != M.EVAL_PASS1:
            assert low <= 0 and high >= 1  # a training share is drawn on at least [0, 1]
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    bars = axes[M.EVAL_PASS1].containers
    assert len(bars) == 1  # the held-out points carry error bars
    segments = bars[0].lines[2][0].get_segments()
    half = [abs(seg[1][1] - seg[0][1]) / 2 for seg in segments]
    assert half == pytest.approx([1.96 * np.sqrt(p * (1 - p) / 200) for p in (0.28, 0.29)], rel=1e-6)
    # the held-out axis runs from 0 to just above the highest error bar (issue 35: 2-5% read on a 0-1 axis)
    low, high = axes[M.EVAL_PASS1].get_ylim()
    assert low == 0 and 0.29 + half[1] < high < 0.5


def _run_folder(path, config, pass1):
    path.mkdir(parents=True)
    path.joinpath("config.json").write_text(json.dumps(config))
    records = [{M.STEP: 0, M.EVAL_PASS1: pass1[0], M.EVAL_QUESTIONS: 200}]
    records += [{M.STEP: s, M.TRAIN_REWARD: 0.03, M.TRAIN_ZERO_ADVANTAGE: 0.9} for s in range(1, 5)]
    records[-1].update({M.EVAL_PASS1: pass1[1], M.EVAL_QUESTIONS: 200})
    path.joinpath("metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_curves_of_other_algorithms_keep_their_axes_and_short_labels(tmp_path):
    """Runs of GRPO, PPO and VinePPO: no legend of `null` settings squeezing the panels, and a pass@1 of 2-5%
    drawn on an axis that shows it (issue 35)."""
    pytest.importorskip("matplotlib")
    import dataclasses

    from agents.algos.ppo import PPOConfig
    from agents.algos.vineppo import VinePPOConfig
    from agents.curves import PANELS, figure

    runs = [
        _run_folder(tmp_path / cls.__name__, dataclasses.asdict(cls()), (0.02, 0.05))
        for cls in (build_config([]).__class__, PPOConfig, VinePPOConfig)
    ]
    fig = figure(runs)
    fig.canvas.draw()  # lays the figure out
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == ["grpo / uniform (n=1)", "ppo / uniform (n=1)", "vineppo / uniform (n=1)"], texts
    for ax in fig.axes:  # each panel keeps a fair share of the figure's width and height
        box = ax.get_position()
        assert box.width > 0.2 and box.height > 0.5, box
    low, high = dict(zip([k for k, _ in PANELS], fig.axes, strict=True))[M.EVAL_PASS1].get_ylim()
    assert low == 0 and 0.05 < high < 0.2
    # a setting one group leaves unset (null) still tells the groups apart, written only where it is set
    from agents.curves import labels

    same = {"algo": "grpo", "curriculum": "uniform", "eval_temperature": None}
    assert list(labels({"a": same, "b": {**same, "eval_temperature": 0.35}}).values()) == [
        "grpo / uniform",
        "grpo / uniform, eval_temperature=0.35",
    ]


def _wandb_history(run_dir):
    """The history records of an offline W&B run, read from its transaction log (LevelDB's log format: 32 KiB
    blocks of records, each a 7-byte header of crc32, length and kind, after a 7-byte ':W&B' file header)."""
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    (log,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    data = log.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, chunk, history, kinds = 7, 32768, b"", [], set()
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:
            break
        chunk += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = pb.Record()
            record.ParseFromString(chunk)
            chunk = b""
            kinds.add(record.WhichOneof("record_type"))
            if record.WhichOneof("record_type") == "history":
                history.append(
                    {"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in record.history.item}
                )
    assert "exit" in kinds, "the run's log ends before its exit record: written after the run returned"
    return history


def test_report_to_tensorboard_and_wandb_offline(tmp_path, monkeypatch):
    pytest.importorskip(
        "wandb", reason="wandb is not installed (pip install 'mathenv[wandb]'; it is in the dev extra)"
    )
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("WANDB_MODE", "offline")  # no account, no network
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "run"
    argv = [*TINY_RUN, "--steps", "2", "--eval-questions", "4", "--out", str(out)]
    argv.remove("--no-tensorboard")
    assert train_main([*argv, "--report-to", "tensorboard", "wandb"]) == 0
    records = M.read_records(out / "metrics.jsonl")
    history = _wandb_history(out)
    by_step = {h["_step"]: h for h in history}
    assert sorted(by_step) == [0, 1, 2]
    for r in records:
        for key in (M.TRAIN_REWARD, M.EVAL_PASS1, M.ATTEMPTS_TOTAL):
            if r.get(key) is not None:
                assert by_step[r[M.STEP]][key] == pytest.approx(r[key]), (r[M.STEP], key)
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars(M.TRAIN_REWARD)] == [1, 2]
    # a resume continues the same W&B run
    run_id = (out / "wandb" / "run-id").read_text()
    assert train_main(["--out", str(out), "--steps", "3", "--resume"]) == 0
    assert (out / "wandb" / "run-id").read_text() == run_id


def test_report_to_none_and_the_old_tensorboard_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")  # wandb online needs a login (tests/test_first_hour_cli.py)

    def loggers(*flags):
        return build_config(["--out", str(tmp_path / "r"), *flags]).loggers()

    assert loggers() == {"tensorboard"}  # the default, as before
    assert loggers("--report-to", "none") == set()
    assert loggers("--report-to", "all") == {"tensorboard", "wandb"}
    assert loggers("--no-tensorboard") == set()  # the old switch still works
    assert loggers("--report-to", "wandb", "--tensorboard") == {"tensorboard", "wandb"}
    assert train_main(["--out", str(tmp_path / "r"), "--report-to", "none", "wandb"]) == 2


def test_without_a_terminal_progress_is_a_line_every_log_every_steps(tmp_path, capsys):
    argv = [arg for arg in TINY_RUN if arg != "--no-progress"]
    assert (
        train_main(
            [
                *argv,
                "--steps",
                "4",
                "--log-every",
                "2",
                "--eval-questions",
                "2",
                "--eval-every",
                "2",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()  # pytest's capture is no terminal, as a log file is not
    assert "\r" not in captured.err and "it/s" not in captured.err  # no progress bar
    lines = [line for line in captured.out.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["2/4", "4/4"], captured.out
    assert "train reward" in lines[0] and "held-out pass@1" in lines[1] and "s/step" in lines[1]
    # the step-0 evaluation (minutes for a real model) is said before it starts and when it ends
    start = captured.out.index("scoring the starting policy on 2 held-out questions (4 answers")
    assert captured.out.index("held-out before training: pass@1 ") > start


def test_the_probe_cost_is_said_once(tmp_path, capsys):
    argv = [*TINY_RUN, "--curriculum", "learnability", "--out", str(tmp_path / "run")]
    argv.remove("--no-progress")
    assert train_main(argv) == 0
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert text.count("learnability: probes ") == 1, text
    assert "warning: learnability: probes " in captured.err and "the training attempts" in captured.err
    assert "line = self" not in captured.err  # one line: no file name, no echoed source line


def test_the_warm_start_prints_lines_not_a_bar_without_a_terminal(tmp_path, capsys):
    from agents.models.warm_start import warm_start

    warm_start(
        tmp_path / "ws", levels=[1], steps=20, batch_size=2, n_layer=1, d_model=16, n_head=2, threads=None
    )
    captured = capsys.readouterr()  # pytest's capture is no terminal, as a log file is not
    assert "\r" not in captured.err and "it/s" not in captured.err  # no bar piling up into one line
    lines = [line for line in captured.out.splitlines() if line.startswith("warm start: step ")]
    assert [line.split()[3] for line in lines] == [f"{s}/20" for s in range(2, 21, 2)], captured.out
    assert all("loss " in line for line in lines)


def _make_extras(target: str) -> set[str]:
    """The pyproject extras that `make TARGET` installs: every `-e ".[...]"` in the recipes of the stamps it
    depends on, followed through their own prerequisites."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    rules = {}  # target -> (prerequisites, recipe)
    for match in re.finditer(r"^([^\s#:=][^:=]*?):(?!=)([^\n]*)\n((?:\t[^\n]*\n)*)", text, re.M):
        rules[match.group(1).strip().replace("$(VENV)", ".venv")] = (
            match.group(2).replace("$(VENV)", ".venv").split(),
            match.group(3),
        )
    extras, todo, seen = set(), [target], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in rules:
            continue
        seen.add(name)
        prerequisites, recipe = rules[name]
        todo += prerequisites
        for group in re.findall(r'-e "\.\[([^\]]*)\]"', recipe):
            extras |= {e.strip() for e in group.split(",") if e.strip()}
    return extras


def test_make_run_installs_the_main_job_and_make_test_everything_the_tests_use():
    """`make run` installs neither verl, ray nor TRL (152 packages, 2.1 GB it never used); `make test`, CI's
    path, installs every extra the tests import (issue 35)."""
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())[
        "project"
    ]
    run, test = _make_extras("run"), _make_extras("test")
    names = list(project["dependencies"]) + [d for e in run for d in project["optional-dependencies"][e]]
    heavy = [d for d in names if re.split(r"[<>=\[ ;]", d)[0].lower() in ("verl", "trl", "ray")]
    assert run and not heavy, (run, heavy)
    assert {"dev", "verl", "trl"} <= test and run <= test, test
    # make test installs on top of make run: a transformers the main job may get must be one verl accepts, or
    # the install on top moves it back and leaves what the newer one pulled in (kernels 0.19 broke the import)
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    try:
        verl = [Requirement(r) for r in requires("verl") or []]
    except PackageNotFoundError:
        pytest.skip("verl is not installed (make test installs it)")
    (verl_pin,) = [r for r in verl if r.name == "transformers" and r.marker is None]
    (core_pin,) = [r for r in map(Requirement, project["dependencies"]) if r.name == "transformers"]
    from packaging.version import Version

    releases = [Version(f"{major}.{minor}.0") for major in (4, 5, 6) for minor in range(80)]
    newest = max(v for v in releases if v in verl_pin.specifier)
    newer = [str(v) for v in releases if v > newest and v in core_pin.specifier]
    assert not newer, (str(core_pin), str(verl_pin), newer[:3])

"""Faults and a user's mistakes, tried for real: a run folder holding another run, a resume under other settings,
damaged checkpoints and metrics, kill -9 at random moments, TensorBoard after a resume, and the command line's
one-line errors."""

import json
import multiprocessing as mp
import os
import random
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_agents_train import LEARN, tiny

from agents.algos.grpo import GRPOConfig
from agents.algos.vineppo import VinePPOConfig
from agents.checkpoint import RunFolderError
from agents.cli.train import main
from agents.core import metrics as M
from agents.trainer import Trainer


def _stable(records):
    """Records without the wall-clock timings (the only values a resumed run may change)."""
    return [{k: M.jsonable(v) for k, v in r.items() if not k.startswith("time/")} for r in records]


def _weights(trainer):
    return {k: v.detach().clone() for k, v in trainer.policy.state_dict().items()}


def test_an_out_holding_a_run_is_refused_unless_resumed_or_overwritten(tmp_path):
    Trainer(tiny(tmp_path=tmp_path, steps=1)).train()
    run = tmp_path / "run"
    before = (run / "metrics.jsonl").read_text()
    with pytest.raises(
        RunFolderError, match=r"already holds a run \(metrics.jsonl, 1 checkpoint.*--resume.*--overwrite"
    ):
        Trainer(tiny(tmp_path=tmp_path, steps=2))
    assert (run / "metrics.jsonl").read_text() == before  # refused before touching anything
    Trainer(tiny(tmp_path=tmp_path, steps=2, seed=1, overwrite=True)).train()
    records = M.read_records(run / "metrics.jsonl")
    assert [r["step"] for r in records] == [0, 1, 2]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_000001", "step_000002"]
    assert json.loads((run / "config.json").read_text())["seed"] == 1
    with pytest.raises(ValueError, match="not both"):
        tiny(tmp_path=tmp_path, resume=True, overwrite=True).validate()


def test_resume_refuses_a_checkpoint_trained_with_other_settings(tmp_path):
    Trainer(tiny(tmp_path=tmp_path, steps=1)).train()
    with pytest.raises(RunFolderError, match=r"algo 'grpo' there, 'vineppo' now"):
        Trainer(tiny(VinePPOConfig, tmp_path, steps=2, resume=True))
    with pytest.raises(
        RunFolderError, match=r"curriculum 'uniform' there.*learning_rate 0.001 there, 0.01 now"
    ):
        Trainer(
            tiny(
                tmp_path=tmp_path,
                steps=2,
                resume=True,
                curriculum="learnability",
                curriculum_options=LEARN,
                learning_rate=1e-2,
            )
        )
    # the checkpoint's own copy of the config is checked too (config.json may be gone or edited)
    (tmp_path / "run" / "config.json").unlink()
    trainer = Trainer(tiny(tmp_path=tmp_path, steps=2, resume=True, max_new_tokens=7))
    with pytest.raises(RunFolderError, match=r"max_new_tokens 6 there, 7 now"):
        trainer.train()
    # bookkeeping and more steps may change
    records = Trainer(tiny(tmp_path=tmp_path, steps=2, resume=True, eval_every=1, progress=True)).train()
    assert [r["step"] for r in records] == [2]


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_a_damaged_trainer_state_falls_back_to_the_previous_checkpoint(damage, tmp_path, capsys):
    reference = Trainer(tiny(tmp_path=tmp_path / "ref", steps=3))
    reference_records = reference.train()
    Trainer(tiny(tmp_path=tmp_path / "cut", steps=3)).train()
    state = tmp_path / "cut" / "run" / "checkpoints" / "step_000003" / "trainer.pt"
    data = state.read_bytes()
    state.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    capsys.readouterr()
    resumed = Trainer(tiny(tmp_path=tmp_path / "cut", steps=3, resume=True))
    records = resumed.train()
    out = capsys.readouterr().out
    assert (
        f"checkpoint {state.parent} cannot be read" in out
        and "falling back to the checkpoint before it" in out
    )
    assert "resumed from" in out and "step_000002 at step 2" in out
    assert _stable(records) == _stable(reference_records[3:])
    assert all(
        torch.equal(a, b)
        for a, b in zip(_weights(reference).values(), _weights(resumed).values(), strict=True)
    )


def test_a_partial_last_metrics_line_does_not_block_resume(tmp_path):
    Trainer(tiny(tmp_path=tmp_path, steps=2)).train()
    metrics = tmp_path / "run" / "metrics.jsonl"
    with open(metrics, "a") as f:
        f.write('{"step": 3, "train/rew')  # killed mid-write
    records = Trainer(tiny(tmp_path=tmp_path, steps=3, resume=True)).train()
    assert [r["step"] for r in records] == [3]
    assert [r["step"] for r in M.read_records(metrics)] == [0, 1, 2, 3]


def _child(kwargs):
    """A training process to be killed: it resumes whatever an earlier one left (a run once one has started)."""
    try:
        started = (Path(kwargs["out"]) / "config.json").exists()
        Trainer(GRPOConfig(**{**kwargs, "resume": started})).train()
    except BaseException:  # noqa: BLE001 - the parent reads the exit status
        import traceback

        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def test_kill_9_at_random_moments_then_resume_is_bit_identical(tmp_path):
    """Processes killed with SIGKILL at random moments (mid-step, mid-checkpoint, mid-metrics-line), each
    next one resuming, end with the same metrics and weights as a run never interrupted."""
    opts = dict(steps=8, curriculum="learnability", curriculum_options=LEARN, eval_every=3)
    reference = Trainer(tiny(tmp_path=tmp_path / "ref", **opts))
    reference_records = reference.train()
    step_time = float(np.median([r["time/step"] for r in reference_records if "time/step" in r]))
    config = tiny(tmp_path=tmp_path / "killed", **opts, resume=True)
    kwargs = {f: getattr(config, f) for f in config.__dataclass_fields__}
    metrics = tmp_path / "killed" / "run" / "metrics.jsonl"

    def steps_done() -> int:
        try:
            return max((r["step"] for r in M.read_records(metrics)), default=-1)
        except (OSError, ValueError):
            return -1

    rng = random.Random(0)
    ctx = mp.get_context("fork")
    # tqdm's write lock is a semaphore shared with forked children (transformers draws bars while loading and
    # saving): a child killed holding it would block this process's next bar. A thread lock is not shared.
    from tqdm import tqdm as tqdm_class

    tqdm_lock = tqdm_class.get_lock()
    tqdm_class.set_lock(threading.RLock())
    kills = 0
    for _ in range(12):
        p = ctx.Process(target=_child, args=(kwargs,))
        p.start()
        if kills < 4:
            # wait for a random step of what is left, then kill somewhere inside the next step or checkpoint
            target = rng.randint(max(steps_done(), 0), opts["steps"] - 3)
            deadline = time.monotonic() + 120
            while p.is_alive() and steps_done() < target and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 1.0) * step_time)
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
        p.join(120)
        assert p.exitcode in (0, -signal.SIGKILL), p.exitcode
        kills += p.exitcode == -signal.SIGKILL
        if p.exitcode == 0:
            break
    tqdm_class.set_lock(tqdm_lock)
    assert p.exitcode == 0 and kills >= 2, kills
    run = tmp_path / "killed" / "run"
    assert _stable(M.read_records(run / "metrics.jsonl")) == _stable(reference_records)
    final = load_file(run / "checkpoints" / "step_000008" / "policy" / "model.safetensors")
    ref = _weights(reference)
    assert all(torch.equal(final[k], ref[k]) for k in final)


def test_tensorboard_holds_one_point_per_step_after_a_resume(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(tiny(tmp_path=tmp_path, steps=3, checkpoint_every=2, tensorboard=True)).train()
    # a crash after step 3 was logged but before its checkpoint: the resume repeats step 3
    import shutil

    shutil.rmtree(tmp_path / "run" / "checkpoints" / "step_000003")
    Trainer(tiny(tmp_path=tmp_path, steps=4, checkpoint_every=2, tensorboard=True, resume=True)).train()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars(M.TRAIN_REWARD)] == [1, 2, 3, 4]
    assert [e.step for e in events.Scalars(M.EVAL_PASS1)] == [0, 4]


def test_every_run_ends_with_a_summary_and_curves(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    Trainer(tiny(tmp_path=tmp_path, steps=2, eval_samples=1, plot=True)).train()
    out = capsys.readouterr().out
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    records = M.read_records(run / "metrics.jsonl")
    assert summary["held_out"]["greedy_pass@1"] == {
        "before": records[0]["eval/pass@1"],
        "after": records[-1]["eval/pass@1"],
    }
    assert summary["held_out"]["sampled_accuracy"]["after"] == records[-1]["eval/sampled_accuracy"]
    assert summary["frac_zero_advantage"] == pytest.approx(
        sum(r["train/frac_zero_advantage"] for r in records[1:]) / 2
    )
    t = summary["seconds_per_step"]
    assert t["step"] == pytest.approx(t["generation"] + t["scoring"] + t["learning"])
    assert (run / "curves.png").read_bytes()[:4] == b"\x89PNG" and summary["files"]["curves"] == str(
        run / "curves.png"
    )
    for text in (
        "greedy pass@1",
        "sampled at temperature",
        "zero-advantage groups",
        "time per step",
        str(run / "metrics.jsonl"),
        str(run / "checkpoints" / "step_000002"),
        str(run / "curves.png"),
    ):
        assert text in out, text


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--dataset", "mydata"], "--question-field / --answer-field"),
        (["--model", "no/such/folder"], "the model folder no/such/folder does not exist"),
        (
            [
                "--curriculum",
                "learnability",
                "--curriculum-options",
                '{"num_candidates": 4, "buffer_size": 8}',
            ],
            "buffer_size K=8 exceeds num_candidates N=4",
        ),
        (["--temperature", "0"], "temperature must be > 0"),
        (["--config", "missing.json"], "config file missing.json not found"),
        (
            ["--generation-backend", "vllm"],
            "--generation-backend vllm: ",
        ),  # vllm missing, or `tiny` unservable
    ],
)
def test_the_cli_turns_a_users_mistake_into_one_line_and_status_2(argv, message, tmp_path, capsys):
    code = main(["--model", "tiny", "--out", str(tmp_path / "run"), "--no-progress", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert "Traceback" not in err and err.count("\n") == 1


def test_the_cli_refuses_an_out_holding_a_run(tmp_path, capsys):
    args = [
        "--preset",
        "tiny",
        "--steps",
        "1",
        "--eval-questions",
        "2",
        "--no-progress",
        "--no-plot",
        "--no-tensorboard",
        "--out",
        str(tmp_path / "run"),
    ]
    assert main(args) == 0
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_help_lists_names_and_the_algorithms_own_options(capsys):
    with pytest.raises(SystemExit):
        main(["--algo", "vineppo", "--help"])
    text = capsys.readouterr().out
    assert "--vine-rollouts" in text and "Monte-Carlo" in text  # the algorithm's own options
    for name in ("smollm2", "qwen2.5-0.5b", "rho-1b-gsm8k", "tiny", "testbed", "gsm8k", "math500"):
        assert name in text, name
    assert "{grpo,ppo,vineppo}" in text and "--algo NAME --help" in text and "--overwrite" in text


def test_quickstart_compares_the_curricula_side_by_side(tmp_path, capsys):
    """`make run`'s program end to end on the tiny random model (the testbed's warm start takes minutes)."""
    pytest.importorskip("matplotlib")
    from agents.cli.quickstart import main as quickstart

    tiny_flags = [
        "--model",
        "tiny",
        "--instruction",
        "",
        "--questions-per-step",
        "4",
        "--attempts-per-question",
        "2",
        "--max-new-tokens",
        "6",
        "--eval-questions",
        "4",
        "--no-progress",
        "--no-tensorboard",
    ]
    assert quickstart(["--steps", "2", "--out", str(tmp_path), "--", *tiny_flags]) == 0
    out = capsys.readouterr().out
    table = out[out.index("== uniform vs learnability") :]
    assert "question groups with zero advantage" in table and "attempts generated" in table
    summaries = {
        c: json.loads((tmp_path / c / "summary.json").read_text()) for c in ("uniform", "learnability")
    }
    assert summaries["uniform"]["attempts_generated"] == 2 * 4 * 2
    assert (
        summaries["learnability"]["attempts_generated"] > summaries["uniform"]["attempts_generated"]
    )  # probes
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "1. the testbed policy" not in out  # no warm start for another model
    assert quickstart(["--steps", "2", "--out", str(tmp_path), "--", *tiny_flags]) == 0  # replaces its runs


def test_console_entry_points_and_type_markers_are_declared():
    """What `pip install` turns into commands resolves to a callable main, and each package ships py.typed."""
    import importlib
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())
    scripts = project["project"]["scripts"]
    assert {"mathenv-train", "mathenv-eval", "mathenv-quickstart", "mathenv-plot"} <= set(scripts)
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), target
    for package in ("mathenv", "curricula", "agents"):
        assert (root / package / "py.typed").exists()
        assert project["tool"]["setuptools"]["package-data"][package] == ["py.typed"]

"""The experiment grid (research.experiments): arms and compute matching, configs parsed as agents.train parses
them, the resumable runner, the settings check, the held-out check and the common re-evaluation."""

import dataclasses
import json

import pytest

import curricula
from agents.presets import RUN_PRESETS, TESTBED
from mathenv.errors import UserError
from research.experiments import archive, grid, heldout, reevaluate, tables


@pytest.mark.parametrize("n,pool", [(16, 2000), (8, 1000), (64, 7473), (4, 1000)])
def test_learnability_options_build_a_valid_curriculum(n, pool):
    opts = grid.learnability_options(n, pool)
    cur = curricula.make("learnability", pool, batch_size=n, **opts)
    assert cur.buffer_size >= n // 2 and cur.num_candidates <= pool
    if n == 64:  # the paper's batch: its very_fast buffer exactly
        assert (opts["refresh_every"], opts["num_candidates"], opts["buffer_size"]) == (5, 128, 64)


def test_the_recommended_buffer_and_its_compute_matched_uniform():
    """The pre-registered design's arms: recommended scaled to N_l = 16 (N = 320, K = 64, T = 50) and uniform
    given its 51.2 probe attempts per step as 6.4 more questions: 22."""
    from research.experiments import stats

    opts = grid.learnability_options(16, 640, {"preset": "recommended"})
    assert (opts["refresh_every"], opts["num_candidates"], opts["buffer_size"]) == (50, 320, 64)
    assert stats.compute_matched_questions(16, 8, stats.probe_attempts_per_step(opts)) == 22


def test_the_testbed_settings_are_defined_once_and_parsed_like_agents_train():
    assert RUN_PRESETS["testbed"] is TESTBED
    base = grid.configs_from_argv(
        ["--preset", "testbed", "--steps", "7", "--vine-rollouts", "2"],
        ["grpo", "vineppo"],
        {"vineppo": {"vine_rollouts": 4}},
    )
    assert (
        base["grpo"].steps == base["vineppo"].steps == 7
        and base["grpo"].learning_rate == TESTBED["learning_rate"]
    )
    assert base["vineppo"].vine_rollouts == 2  # the flag beats the grid's default, and reaches VinePPO only
    assert (
        grid.configs_from_argv(["--preset", "testbed"], ["vineppo"], {"vineppo": {"vine_rollouts": 4}})[
            "vineppo"
        ].vine_rollouts
        == 4
    )


def test_plan_builds_every_cell_and_matches_compute_per_algorithm(tmp_path):
    base = grid.configs_from_argv(["--preset", "testbed"], ["grpo", "vineppo"])
    learn = grid.learnability_options(16, 20_000)
    names = ["uniform", "learnability", "learnability_filter", "uniform_cm", "posterior"]
    arms = {
        "grpo": grid.standard_arms("grpo", names, base["grpo"], learn),
        "vineppo": grid.standard_arms("vineppo", names, base["vineppo"], learn, rollout_cost=5.4),
    }
    runs = grid.plan(base, arms, {"grpo": 5, "vineppo": 2}, tmp_path)
    assert len({r.name for r in runs}) == len(runs) == 5 * 5 + 4 * 2  # VinePPO: no filter
    by = {r.name: r for r in runs}
    assert by["grpo-uniform_cm-s0"].config.questions_per_step == 22  # 16 + 51.2 probe attempts / 8
    assert (
        by["vineppo-uniform_cm-s1"].config.questions_per_step == 17
    )  # each added question also gets rollouts
    assert by["grpo-learnability-s3"].config.curriculum_options == learn
    assert by["grpo-posterior-s4"].out == tmp_path / "grpo-posterior-s4"
    assert [r.seed for r in runs[:5]] == [0] * 5  # seed by seed: a grid cut short keeps every arm
    with pytest.raises(UserError, match="unknown arm"):
        grid.standard_arms("grpo", ["uniform", "nope"], base["grpo"], learn)


def digits(tmp_path, name, digits_):
    path = tmp_path / f"{name}.jsonl"
    path.write_text(
        "".join(json.dumps({"question": f"Write {d}.", "answer": str(d % 10)}) + "\n" for d in digits_)
    )
    return str(path)


def tiny_argv(tmp_path, eval_digits=range(100, 110)):
    """A tiny model on a file of questions, its held-out file disjoint from the training file."""
    return [
        "--preset",
        "tiny",
        "--dataset",
        digits(tmp_path, "train", range(40)),
        "--question-field",
        "question",
        "--answer-field",
        "answer",
        "--levels",
        "--eval-data-path",
        digits(tmp_path, "test", eval_digits),
        "--steps",
        "2",
        "--questions-per-step",
        "2",
        "--attempts-per-question",
        "2",
        "--max-new-tokens",
        "4",
        "--eval-questions",
        "4",
        "--eval-every",
        "1",
        "--checkpoint-every",
        "1",
        "--no-plot",
    ]


def test_a_grid_trains_reuses_finished_runs_and_resumes_to_more_steps(tmp_path):
    base = grid.configs_from_argv(tiny_argv(tmp_path), ["grpo"])
    arms = {"grpo": [grid.Arm("uniform"), grid.Arm("more", overrides={"questions_per_step": 3})]}
    runs = grid.plan(base, arms, 1, tmp_path / "runs")
    results = grid.run_grid(runs, workers=1, threads=1)
    assert [r.reused for r in results] == [False, False] and all(grid.finished(r) for r in runs)
    first = runs[0].records()
    assert [r["step"] for r in first] == [0, 1, 2] and runs[0].final_policy().exists()
    assert [r.reused for r in grid.run_grid(runs, workers=1, threads=1)] == [True, True]
    # one more step: the run continues from its checkpoint (the first steps are kept, not retrained)
    longer = grid.plan(
        {"grpo": dataclasses.replace(base["grpo"], steps=3)}, {"grpo": arms["grpo"][:1]}, 1, tmp_path / "runs"
    )
    assert [r.reused for r in grid.run_grid(longer, workers=1, threads=1)] == [False]
    after = longer[0].records()
    assert [r["step"] for r in after] == [0, 1, 2, 3] and after[:3] == first
    # another learning rate in the same folder: refused before anything trains
    other = grid.plan(
        {"grpo": dataclasses.replace(base["grpo"], learning_rate=0.5)},
        {"grpo": arms["grpo"][:1]},
        1,
        tmp_path / "runs",
    )
    with pytest.raises(grid.RunSettingsError, match="learning_rate 0.001 there, 0.5 now"):
        grid.run_grid(other, workers=1, threads=1)


def test_an_archived_grid_outlives_its_runs_folder(tmp_path):
    """A new checkout has no runs/ (git ignores it): the committed archive brings back every finished run, its
    metrics and its scores, so the grid reuses it instead of training again and the tables read the same."""
    import shutil

    base = grid.configs_from_argv(tiny_argv(tmp_path), ["grpo"])
    runs = grid.plan(base, {"grpo": [grid.Arm("uniform")]}, 1, tmp_path / "runs")
    kept = tmp_path / "archive"
    grid.run_grid(runs, workers=1, threads=1, archive=kept)
    run = runs[0]
    store = kept / run.name
    assert {p.name for p in store.iterdir()} == {"config.json", "summary.json", "metrics.jsonl.gz"}
    held = reevaluate.EvalSet("test", num_questions=4, k=1, temperature=0.35)
    policies = {run.name: (run.final_policy(), run.out)}
    save = reevaluate.saving_to(kept, runs, tmp_path / "runs")  # each score saved as it comes
    scores = reevaluate.reevaluate(policies, base["grpo"], held, on_scored=save)
    assert {p.name for p in store.iterdir()} == {  # checkpoints stay out
        "config.json",
        "summary.json",
        "metrics.jsonl.gz",
        f"{held.tag}.json",
    }
    # the same results: byte for byte, nothing for git to see
    assert archive.save_results(run.out, store) == []
    records = run.records()
    shutil.rmtree(tmp_path / "runs")  # the new checkout
    assert not grid.finished(run)
    reevaluate.restore_archive(runs, tmp_path / "runs", kept)
    assert grid.finished(run)
    results = grid.run_grid(runs, workers=1, threads=1, archive=kept)
    assert [r.reused for r in results] == [True] and run.records() == records  # nothing trained again
    assert not run.final_policy().exists()
    # the scores come from the restored cache although the policy itself is gone
    assert reevaluate.reevaluate(policies, base["grpo"], held) == scores
    # a folder's own files are never overwritten by the archive; a cut run's shorter metrics are
    cache = run.out / f"{held.tag}.json"
    cache.write_text(cache.read_text().replace('"questions": 4', '"questions": 4 '))
    (run.out / "metrics.jsonl").write_text(json.dumps(records[0]) + "\n")
    assert archive.restore_results(run.out, store) == [run.out / "metrics.jsonl"] and run.records() == records
    assert '"questions": 4 ' in cache.read_text()
    assert grid.restore_runs(runs, kept) == []  # nothing left to bring back
    # a policy that is gone and was never scored is left out, named
    gone = {"grpo-uniform-s9": (tmp_path / "gone" / "policy", tmp_path / "gone")}
    assert reevaluate.reevaluate(gone, base["grpo"], held) == {}


def test_an_archive_moves_to_a_machine_with_another_home(tmp_path, monkeypatch):
    """The warm start lives in the user's cache (~/.cache/mathenv/...): an archive written under one home must
    be reused under another, where the grid would refuse every run for its model path and the start policy's
    cached scores would not hold."""
    import shutil

    from agents.models.tiny import char_tokenizer, tiny_model

    first, second = tmp_path / "alice", tmp_path / "bob"
    tokenizer = char_tokenizer()
    for part in (tiny_model(tokenizer), tokenizer):  # the same small policy under each user's cache
        part.save_pretrained(first / ".cache" / "policy")
    shutil.copytree(first / ".cache", second / ".cache")

    def grid_under(home, runs_folder, model=".cache/policy"):
        monkeypatch.setenv("HOME", str(home))
        configs = grid.configs_from_argv([*tiny_argv(tmp_path), "--model", str(home / model)], ["grpo"])
        return configs["grpo"], grid.plan(configs, {"grpo": [grid.Arm("uniform")]}, 1, runs_folder)

    kept, held = tmp_path / "archive", reevaluate.EvalSet("test", num_questions=4, k=1, temperature=0.35)
    config, runs = grid_under(first, tmp_path / "runs")
    grid.run_grid(runs, workers=1, threads=1, archive=kept)
    start = {"start": (config.model, tmp_path / "runs")}
    scores = reevaluate.reevaluate(
        start, config, held, on_scored=reevaluate.saving_to(kept, runs, tmp_path / "runs")
    )
    archived = [p.read_text() for p in kept.rglob("*.json")]
    assert json.loads((kept / runs[0].name / "config.json").read_text())["model"] == "$HOME/.cache/policy"
    assert not any(str(first) in text for text in archived)  # no user's home in git

    config, moved = grid_under(second, tmp_path / "runs-there")
    reevaluate.restore_archive(moved, tmp_path / "runs-there", kept)
    results = grid.run_grid(moved, workers=1, threads=1, archive=kept)
    assert [r.reused for r in results] == [True]  # not refused for the model path
    assert json.loads((moved[0].out / "config.json").read_text())["model"] == config.model
    shutil.rmtree(second / ".cache" / "policy")  # a cached score is read without the policy, when it holds
    there = reevaluate.reevaluate({"start": (config.model, tmp_path / "runs-there")}, config, held)
    assert there == {"start": scores["start"] | {"settings": there["start"]["settings"]}}
    assert archive.save_results(moved[0].out, kept / moved[0].name) == []  # saved back: the same bytes
    assert [p.read_text() for p in kept.rglob("*.json")] == archived
    # another warm start is still another setting
    _, other = grid_under(second, tmp_path / "runs-there", model="elsewhere")
    with pytest.raises(grid.RunSettingsError, match="model"):
        grid.run_grid(other, archive=kept)


def test_only_paths_under_the_home_are_rehomed():
    """A sibling folder sharing the home's prefix, a path outside it and a home of `/` (a container's nobody
    user) keep their bytes; the home itself and paths in it swap both ways."""
    text = b'{"a": "/home/al/x", "b": "/home/alice", "c": "/opt/m", "d": ["/home/alice/y"]}'
    saved = archive._rehome(text, "/home/alice/", archive.HOME_MARK)
    assert saved == b'{"a": "/home/al/x", "b": "$HOME", "c": "/opt/m", "d": ["$HOME/y"]}'
    assert archive._rehome(saved, archive.HOME_MARK, "/home/bob") == text.replace(
        b"/home/alice", b"/home/bob"
    )
    assert archive._rehome(text, "/", archive.HOME_MARK) == text


PARENT = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from research.experiments.grid import worker_pool
if __name__ == "__main__":
    with worker_pool(1) as pool:
        print(pool.apply(os.getpid), flush=True)  # the worker's pid, then a job that would run for an hour
        pool.apply(time.sleep, (3600,))
"""


def test_a_killed_grid_leaves_no_worker_training(tmp_path):
    """`kill` on a grid reaches the grid process only: its pool workers must not go on training into (and
    locking) the runs a restarted grid resumes."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    root = str(Path(grid.__file__).resolve().parents[2])
    parent = subprocess.Popen([sys.executable, str(script), root], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    os.kill(worker, 0)  # alive, running the hour-long job
    parent.send_signal(signal.SIGTERM)  # what `kill PID` sends
    parent.wait()

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as f:  # an ended child of init not yet reaped is a zombie: gone
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"

    for _ in range(600):
        if not alive(worker):
            break
        time.sleep(0.1)
    assert not alive(worker)


def test_a_held_out_set_that_shares_questions_with_the_training_pool_is_refused(tmp_path):
    base = grid.configs_from_argv(tiny_argv(tmp_path, eval_digits=[3, 105, 7, 108]), ["grpo"])
    runs = grid.plan(base, {"grpo": [grid.Arm("uniform")]}, 1, tmp_path / "runs")
    with pytest.raises(heldout.HeldOutOverlapError, match=r"2 of the 4 questions .* training pool"):
        grid.run_grid(runs, workers=1, threads=1)
    assert not (tmp_path / "runs" / "grpo-uniform-s0" / "metrics.jsonl").exists()  # nothing trained
    # normalised text: case and spacing do not hide a copy
    assert heldout.overlap(["WRITE  3 .", "Write 11."], ["write 3."]) == ["WRITE  3 ."]
    heldout.check_held_out(["Write 11."], ["Write 3."])


def test_reevaluation_scores_every_policy_on_one_common_set_and_caches_it(tmp_path):
    from agents.models.policy import load_policy

    base = grid.configs_from_argv(tiny_argv(tmp_path), ["grpo"])["grpo"]
    policies = {"start": ("tiny", tmp_path)}
    for name, seed in [("grpo-uniform-s0", 1), ("grpo-learnability-s0", 2)]:
        folder = tmp_path / name / "checkpoints" / "step_000002" / "policy"
        model, tok = load_policy("tiny", device="cpu", seed=seed)  # two different random policies
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
        policies[name] = (folder, tmp_path / name)
    policies["grpo-uniform-s1"] = (tmp_path / "missing" / "policy", tmp_path / "missing")  # left out
    held = reevaluate.EvalSet("test", num_questions=6, k=2, temperature=0.35, top_p=0.9)
    scores = reevaluate.reevaluate(policies, base, held)
    assert set(scores) == {"start", "grpo-uniform-s0", "grpo-learnability-s0"}
    assert scores["start"]["questions"] == 6 and 0 <= scores["start"]["mean@k"] <= 1
    cache = tmp_path / "grpo-learnability-s0" / f"{held.tag}.json"
    saved = json.loads(cache.read_text())
    assert saved["settings"]["set"]["top_p"] == 0.9 and saved["settings"]["set"]["temperature"] == 0.35
    saved["pass@1"] = 0.5  # a second call reads the cache (here doctored) instead of generating again
    cache.write_text(json.dumps(saved))
    seen = []  # each score is announced as it is cached (two workers here), so a caller can save it at once
    again = reevaluate.reevaluate(policies, base, held, workers=2, on_scored=seen.append)
    assert again["grpo-learnability-s0"]["pass@1"] == 0.5 and seen == list(scores)
    # the training-pool set: a fixed subset of the training pool, cached apart from the held-out one
    train = reevaluate.reevaluate(
        {"start": ("tiny", tmp_path)}, base, dataclasses.replace(held, split="train")
    )
    assert (
        train["start"]["questions"] == 6 and (tmp_path / f"{held.tag.replace('test', 'train')}.json").exists()
    )
    runs = grid.plan(
        {"grpo": base}, {"grpo": [grid.Arm("uniform"), grid.Arm("learnability", "learnability")]}, 1, tmp_path
    )
    text = tables.reevaluation_table(scores, runs, ["mean@k", "pass@1"])
    assert (
        "start (every run's initial policy)" in text
        and "(reference)" in text
        and "grpo / learnability" in text
    )


def test_a_results_section_is_replaced_in_place(tmp_path):
    doc = tmp_path / "results.md"
    tables.write_section("a", "first", doc=doc)
    tables.write_section("b", "other", doc=doc)
    tables.write_section("a", "second", doc=doc)
    text = doc.read_text()
    assert text.startswith("# Results") and "second" in text and "first" not in text and "other" in text
    assert text.index("second") < text.index("other")


def test_the_thin_grid_runs_as_a_script_and_refuses_bad_input_in_one_line(tmp_path):
    """The script imports the library as installed (no sys.path edits): here the checkout is the package."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [
            sys.executable,
            str(root / "scripts" / "reproduce.py"),
            "--preset",
            "tiny",
            "--arms",
            "uniform",
            "nope",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 2 and "unknown arm(s) ['nope']" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_a_distinct_held_out_set_keeps_each_text_once_and_the_training_pool_whole():
    base = grid.configs_from_argv(
        ["--preset", "testbed", "--model", "tiny", "--num-questions", "640"], ["grpo"]
    )
    config = base["grpo"]
    kwargs, ids = reevaluate.question_ids(
        config, reevaluate.EvalSet(num_questions=None, pool_size=1800, distinct=True)
    )
    questions = heldout.held_out_pool(dataclasses.replace(config))  # the env's default 2,000
    import gymnasium as gym

    env = gym.make("MathReasoning-v0", **kwargs).unwrapped
    texts = [heldout.normalise_question(env.questions[i].question) for i in ids]
    assert env.num_questions == 1800 and len(texts) == len(set(texts))  # each text once
    assert set(texts) == {heldout.normalise_question(q.question) for q in env.questions}  # every text there
    assert ids == sorted(ids) and len(questions) == 2000
    _, train_ids = reevaluate.question_ids(config, reevaluate.EvalSet("train", num_questions=None))
    assert train_ids == list(range(640))  # the training-pool set: the runs' own pool, whole

"""The reproduction script's bookkeeping: cells, compute matching, intervals and equal-compute readings."""

import argparse
import importlib.util
import math
import sys
from pathlib import Path

import pytest

import curricula

spec = importlib.util.spec_from_file_location("reproduce", Path(__file__).resolve().parent.parent / "scripts" / "reproduce.py")
reproduce = importlib.util.module_from_spec(spec)
sys.modules["reproduce"] = reproduce
spec.loader.exec_module(reproduce)


@pytest.mark.parametrize("n,pool", [(16, 2000), (8, 1000), (64, 7473), (4, 1000)])
def test_learnability_options_build_a_valid_curriculum(n, pool):
    opts = reproduce.learnability_options(n, pool)
    cur = curricula.make("learnability", pool, batch_size=n, **opts)
    assert cur.buffer_size >= n // 2 and cur.num_candidates <= pool
    if n == 64:  # the paper's batch: its very_fast buffer exactly
        assert (opts["refresh_every"], opts["num_candidates"], opts["buffer_size"]) == (5, 128, 64)


def test_cells_match_compute_for_every_algorithm_and_limit_vineppo():
    args = argparse.Namespace(algos=["grpo", "ppo", "vineppo"], curricula=["uniform", "learnability",
                              "learnability_filter", "uniform_cm", "posterior"], seeds=5, ppo_seeds=3,
                              vineppo_seeds=2, questions_per_step=16, attempts=8, num_questions=2000)
    cells = reproduce.cells(args)
    names = [c["name"] for c in cells]
    # GRPO: 5 curricula x 5 seeds; PPO: 5 x 3; VinePPO: every curriculum but the filter, 2 seeds
    assert len(names) == len(set(names)) == 5 * 5 + 5 * 3 + 4 * 2
    assert {"ppo-uniform_cm-s2", "vineppo-uniform_cm-s1", "vineppo-posterior-s0"} <= set(names)
    cm = next(c for c in cells if c["name"] == "grpo-uniform_cm-s0")
    learn = reproduce.learnability_options(16, 2000)
    probe_per_step = learn["num_candidates"] * learn["probe_attempts"] / learn["refresh_every"]
    # the compute-matched uniform run attempts as many sequences per step as learnability's train + probe
    assert cm["curriculum"] == "uniform"
    assert abs(cm["questions_per_step"] * 8 - (16 * 8 + probe_per_step)) <= 8
    assert not any(n.startswith("vineppo-learnability_filter") or n.startswith("ppo-uniform-s3") for n in names)


def test_confidence_interval_and_budget_interpolation():
    mean, half = reproduce.ci([0.5, 0.6, 0.7])
    assert mean == pytest.approx(0.6) and half == pytest.approx(4.30 * 0.1 / math.sqrt(3))
    assert math.isnan(reproduce.ci([0.4])[1])
    records = [{"step": 0, "eval/pass@1": 0.2}, {"step": 5, "compute/attempts_total": 100, "train/reward": 0.1},
               {"step": 10, "compute/attempts_total": 200, "eval/pass@1": 0.6}]
    assert reproduce.at_budget(records, 100) == pytest.approx(0.4)
    assert reproduce.at_budget(records, 300) is None  # the run never spent that much
    assert reproduce.fmt(0.5, 0.05) == "50.0 ± 5.0" and reproduce.fmt(float("nan"), 0.1) == "–"


def test_steps_and_attempts_to_reach_uniforms_final_accuracy():
    def run(evals):  # (step, attempts, pass@1)
        return [{"step": st, "compute/attempts_total": at, "eval/pass@1": y} for st, at, y in evals]

    uniform = run([(0, 0, 0.20), (10, 1000, 0.25), (20, 2000, 0.30)])
    faster = run([(0, 0, 0.20), (10, 1500, 0.40), (20, 3000, 0.42)])
    never = run([(0, 0, 0.20), (10, 1000, 0.22), (20, 2000, 0.29)])
    # faster reaches 0.30 halfway between its step 0 and step 10: step 5, 750 attempts
    assert reproduce.reach(faster, 0.30, "step") == pytest.approx(5.0)
    assert reproduce.reach(faster, 0.30, "compute/attempts_total") == pytest.approx(750.0)
    assert reproduce.reach(never, 0.30, "step") is None
    groups = {"grpo-uniform": {0: uniform, 1: uniform}, "grpo-learnability": {0: faster, 1: never}}
    ratios, reached, paired = reproduce._to_uniform_final("grpo-learnability", groups, "step", "eval/pass@1")
    assert (ratios, reached, paired) == ([pytest.approx(4.0)], 1, 2)  # uniform's 20 steps over 5
    ratios, _, _ = reproduce._to_uniform_final("grpo-learnability", groups, "compute/attempts_total", "eval/pass@1")
    assert ratios == [pytest.approx(2000 / 750)]


def test_a_run_folder_with_other_settings_is_refused_not_reused(tmp_path):
    import json

    out = tmp_path / "grpo-uniform-s0"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"model": "/cache/testbed-old", "learning_rate": 3e-4, "steps": 60,
                                                  "curriculum": "uniform"}))
    same = {"model": "/cache/testbed-old", "learning_rate": 3e-4, "steps": 100, "curriculum": "uniform",
            "name": "grpo-uniform-s0", "threads": 1}
    reproduce.check_settings(out, same)  # more steps extend the run: allowed
    reproduce.check_settings(tmp_path / "fresh", same)  # nothing there yet: allowed
    with pytest.raises(SystemExit, match=r"model '/cache/testbed-old' there, '/cache/testbed-new' now.*--runs"):
        reproduce.check_settings(out, {**same, "model": "/cache/testbed-new"})
    with pytest.raises(SystemExit, match="learning_rate"):
        reproduce.check_settings(out, {**same, "learning_rate": 1e-3})


def test_summary_pairs_seeds_against_step_zero_and_uniform(tmp_path):
    import json

    runs = []
    finals = {("uniform", 0): 0.30, ("uniform", 1): 0.50, ("learnability", 0): 0.40, ("learnability", 1): 0.55}
    starts = {0: 0.25, 1: 0.45}  # each seed has its own held-out subset, so its own starting score
    for (cur, seed), final in finals.items():
        out = tmp_path / f"grpo-{cur}-s{seed}"
        out.mkdir()
        recs = [{"step": 0, "eval/pass@1": starts[seed]},
                {"step": 1, "train/reward": 0.2, "compute/attempts_total": 100, "time/step": 2.0,
                 "curriculum/frac_all_solved_of_kept": 0.1, "curriculum/frac_none_solved_of_kept": 0.3},
                {"step": 2, "train/reward": 0.3, "compute/attempts_total": 200, "time/step": 2.0,
                 "curriculum/frac_all_solved_of_kept": 0.1, "curriculum/frac_none_solved_of_kept": 0.3, "eval/pass@1": final}]
        (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        runs.append({"name": out.name, "out": str(out)})
    table, raw, budgets, seconds = reproduce.summarise(runs)
    assert raw["grpo-learnability"]["vs_uniform"] == pytest.approx([0.10, 0.05])
    assert raw["grpo-learnability"]["gain"] == pytest.approx([0.15, 0.10])
    assert raw["grpo-uniform"]["vs_uniform"] == [] and "(reference)" in table
    assert budgets == [100.0, 200.0] and seconds == pytest.approx(4 * 4.0)
    assert raw["grpo-uniform"]["zero"] == pytest.approx([0.4, 0.4])


def test_reevaluation_scores_every_final_policy_on_one_common_set_and_caches_it(tmp_path):
    import json

    from agents.policy import load_policy

    results = []
    for name, seed in [("grpo-uniform-s0", 1), ("grpo-learnability-s0", 2)]:
        policy = tmp_path / name / "checkpoints" / "step_000002" / "policy"
        model, tok = load_policy("tiny", device="cpu", seed=seed)  # two different random policies
        model.save_pretrained(policy)
        tok.save_pretrained(policy)
        results.append({"name": name, "out": str(tmp_path / name)})
    results.append({"name": "grpo-uniform-s1", "out": str(tmp_path / "grpo-uniform-s1")})  # no checkpoint: left out
    args = argparse.Namespace(dataset="arithmetic", eval_data_path=None, levels=[1], reevaluate=6, reevaluate_k=2,
                              max_new_tokens=4, generation_batch_size=8, device="cpu", instruction=None,
                              threads=1, workers=1, runs=tmp_path, steps=2)
    table, raw = reproduce.reevaluate(results, "tiny", args)
    assert set(raw) == {"start", "grpo-uniform", "grpo-learnability"}
    assert "start (every run's initial policy)" in table and "(reference)" in table
    assert "level 1 (6 q)" in table  # the per-level change table
    assert len(raw["grpo-learnability"]["per_level_change"]["1"]) == 1  # one seed's change at level 1
    cache = tmp_path / "grpo-learnability-s0" / "reevaluate_6.json"
    saved = json.loads(cache.read_text())
    assert saved["questions"] == 6 and saved["settings"]["levels"] == [1]
    uniform = raw["grpo-uniform"]["pass@1"]["values"][0]
    # a second call reads the cache (here doctored) instead of generating again
    saved["pass@1"] = 0.5
    cache.write_text(json.dumps(saved))
    _, raw = reproduce.reevaluate(results, "tiny", args)
    assert raw["grpo-learnability"]["pass@1"]["vs_uniform"] == pytest.approx([0.5 - uniform])
    # other settings (one sampled answer per question) are evaluated afresh, not read from the old cache
    args.reevaluate_k = 1
    _, raw = reproduce.reevaluate(results, "tiny", args)
    assert json.loads(cache.read_text())["k"] == 1
    assert raw["grpo-learnability"]["pass@1"]["values"][0] != 0.5


def test_buffer_options_override_the_defaults_and_the_compute_match_follows():
    args = argparse.Namespace(algos=["grpo"], curricula=["learnability", "uniform_cm"], seeds=1, vineppo_seeds=1,
                              questions_per_step=16, attempts=8, num_questions=300, probe_attempts=16,
                              buffer_size=24, num_candidates=None)
    cells = {c["name"]: c for c in reproduce.cells(args)}
    opts = cells["grpo-learnability-s0"]["curriculum_options"]
    assert opts["probe_attempts"] == 16 and opts["buffer_size"] == 24  # (48 before N = 2 N_l: K <= N = 32)
    assert opts["num_candidates"] == reproduce.learnability_options(16, 300)["num_candidates"]  # kept
    curricula.make("learnability", 300, batch_size=16, **opts)  # a valid curriculum
    # twice the probe attempts per candidate: the compute-matched uniform baseline gets that many more questions
    probe_per_step = opts["num_candidates"] * 16 / opts["refresh_every"]
    assert abs(cells["grpo-uniform_cm-s0"]["questions_per_step"] * 8 - (16 * 8 + probe_per_step)) <= 8

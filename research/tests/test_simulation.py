"""The simulated learner that chooses an experiment's regime before the expensive run (research.simulation)."""

import numpy as np
import pytest

from curricula import make
from research.comparisons import compare_regime, regime_arms
from research.simulation import DEFAULT_START, Learner, MeasuredStart, SimulatedArm, run_steps
from research.simulation_fit import DriftTarget, fit_drift


def test_the_learner_learns_only_where_attempts_disagree():
    sim = Learner(300, seed=0, heldout=100)
    p = sim.p()
    assert ((p >= 0) & (p <= 1)).all() and (p == 1).any() and (p == 0).any()
    solved, never = np.flatnonzero(p == 1)[:5], np.flatnonzero(p == 0)[:5]
    before = sim.b.copy()
    sim.train(np.concatenate([solved, never]), np.concatenate([np.ones((5, 8)), np.zeros((5, 8))]))
    assert np.array_equal(sim.b, before)  # every group agreed: zero advantage, nothing learned
    learnable = np.flatnonzero((p > 0.2) & (p < 0.8))[:5]
    rewards = np.tile([1, 1, 1, 1, 0, 0, 0, 0], (5, 1)).astype(np.float32)
    sim.train(learnable, rewards)
    assert not np.array_equal(sim.b, before)


def test_compute_matched_uniform_spends_what_learnability_spends():
    n, steps, nl, G = 640, 120, 16, 8
    uniform, matched, learn = regime_arms(nl, steps, G, n)
    spent = {
        a.name: run_steps(a, n=n, seed=1, steps=steps, G=G, heldout=0)["attempts"]
        for a in (uniform, matched, learn)
    }
    assert spent["uniform"] == steps * nl * G
    probes = make("learnability", n, batch_size=nl, preset="recommended").planned_probe_attempts(steps)
    assert spent["learnability"] == steps * nl * G + probes
    assert (
        abs(spent["uniform_cm"] - spent["learnability"]) <= steps * G / 2
    )  # within half a question per step


def test_the_paper_regime_favours_learnability_and_the_earlier_testbed_regime_does_not():
    paper = compare_regime(7473, 650, 64, seeds=2, heldout=0)
    testbed = compare_regime(20_000, 120, 16, seeds=2, heldout=0)
    assert paper["learnability-uniform_cm"]["pool"] > 1.0
    assert abs(testbed["learnability-uniform_cm"]["pool"]) < 0.5
    assert paper["learnability"]["zero_advantage"] < paper["uniform"]["zero_advantage"] - 0.1


def test_a_measured_start_distribution_sets_the_learners_start():
    sim = Learner(4000, seed=0, start=(0.38, 0.19, 0.43))
    p = sim.p()
    assert abs((p == 1).mean() - 0.38) < 0.03 and abs((p == 0).mean() - 0.43) < 0.03
    # uniform's zero-advantage share follows the start: more questions at p = 0 or 1, more wasted groups
    arm = regime_arms(16, 20, 8, 640)[0]
    wide = run_steps(arm, n=640, seed=0, steps=20, G=8, heldout=0, learner={"start": DEFAULT_START})
    narrow = run_steps(arm, n=640, seed=0, steps=20, G=8, heldout=0, learner={"start": (0.38, 0.19, 0.43)})
    assert narrow["zero_advantage"] > wide["zero_advantage"] + 0.1


def test_simulate_curricula_refuses_shares_that_do_not_sum_to_one():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "scripts/simulate_curricula.py", "--regimes", "--start", "0.5", "0.5", "0.5"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--start" in proc.stderr, proc.stderr


def test_selectors_are_compared_against_uniform_given_the_attempts_they_generated():
    from research.comparisons import compare_selectors

    rows = compare_selectors(
        400, 10, 8, seeds=2, heldout=100, selectors=[("speed", "speed", {}), ("mopps", "mopps", {"ratio": 4})]
    )
    assert set(rows) == {"speed", "mopps"}
    for r in rows.values():  # compute-matched uniform: as many attempts per step as the selector made
        assert r["matched_batch"] == max(8, round(r["attempts_per_step"] / 8))
        assert {"pool-uniform", "pool-uniform_cm", "heldout-uniform_cm_se"} <= set(r)
    assert rows["mopps"]["attempts_per_step"] == 64  # 8 groups of 8: nothing discarded
    assert rows["speed"]["attempts_per_step"] > 64  # screening of questions that did not qualify counts


def measured_start(per_level: int = 20) -> MeasuredStart:
    """A start like docs/results.md's digits pool: per level some questions never solved, some rarely, some
    in between, some always, the mass moving down with the level; p on the 1/32 grid of 32 attempts."""
    p, levels = [], []
    for i, level in enumerate(range(3, 10)):
        never, rare, always = 2 + i, 1 + i // 2, max(0, 8 - i)
        mid = per_level - never - rare - always
        p += [0.0] * never + [(1 + k % 3) / 32 for k in range(rare)]
        p += (np.round(np.linspace(0.15, 0.85 - 0.05 * i, mid) * 32) / 32).tolist() + [1.0] * always
        levels += [level] * per_level
    return MeasuredStart(np.array(p), np.array(levels))


def test_a_learner_started_from_measured_p_starts_there_and_draws_held_out_questions_like_them():
    start = measured_start()
    sim = Learner(start.p.size, seed=3, start=start, heldout=700)
    assert np.array_equal(sim.p(), start.p)  # every pool question at its measured p, in order
    assert np.array_equal(sim.difficulty, start.levels)
    # held-out: the pool's per-level mix (700 / 7 levels), each p one of its level's measured p
    assert np.bincount(sim.heldout_skill).tolist() == [100] * 7
    held_p = np.clip(sim.heldout_b, 0, 1)
    for skill, level in enumerate(range(3, 10)):
        assert set(held_p[sim.heldout_skill == skill]) <= set(start.p[start.levels == level])
        assert (sim.skill[start.levels == level] == skill).all()  # a level's questions share one skill
    # a pool of another size is drawn with the same mix; practice on one level moves only that level
    other = Learner(350, seed=3, start=start, heldout=700, lr_interference=0.0)
    assert np.bincount(other.skill).tolist() == [50] * 7
    level3 = np.flatnonzero((other.skill == 0) & (other.p() > 0.2) & (other.p() < 0.8))[:4]
    before = np.clip(other.a[other.heldout_skill] + other.heldout_b, 0, 1)
    other.train(level3, np.tile([1, 1, 1, 0, 0, 0, 0, 0], (level3.size, 1)).astype(np.float32))
    after = np.clip(other.a[other.heldout_skill] + other.heldout_b, 0, 1)
    moved = np.flatnonzero(after != before)
    assert moved.size and (other.heldout_skill[moved] == 0).all()


def test_the_drift_fit_recovers_the_rates_of_a_simulated_run_from_its_gains():
    start = measured_start()
    true = {"lr_question": 0.2, "lr_skill": 0.003, "lr_interference": 0.0}
    regime = {"n": start.p.size, "steps": 60, "G": 8}
    arm = SimulatedArm("uniform", "uniform", {}, 16)
    runs = [
        run_steps(arm, seed=s, heldout=700, learner={"start": start, **true}, checkpoints=(30,), **regime)
        for s in range(2)
    ]
    gains = {k: float(np.mean([r[k] for r in runs])) for k in ("pool", "heldout", "heldout@30")}
    target = DriftTarget(gains["pool"], gains["heldout"], midpoint=(30, gains["heldout@30"]))
    fit = fit_drift(target, batch_size=16, seeds=2, heldout=700, learner={"start": start}, **regime)
    assert fit.rates["lr_question"] == pytest.approx(0.2, rel=0.15)
    assert fit.rates["lr_skill"] == pytest.approx(0.003, rel=0.15)
    assert fit.loss < 0.5 and set(fit.misses) == {"pool", "heldout", "heldout@30"}
    # a target the defaults miss by far is not met by the defaults: the fit moved
    default = run_steps(arm, seed=0, heldout=700, learner={"start": start}, **regime)
    assert abs(default["pool"] - gains["pool"]) > 3


def test_simulate_curricula_refuses_a_start_json_it_cannot_use(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    no_p = tmp_path / "start.json"
    no_p.write_text('{"levels": [3, 4], "mean": 0.5}')
    for path, words in ((tmp_path / "missing.json", "cannot read"), (no_p, '"p"')):
        proc = subprocess.run(
            [sys.executable, "scripts/simulate_curricula.py", "--regimes", "--start-json", str(path)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "--start-json" in proc.stderr and words in proc.stderr, proc.stderr

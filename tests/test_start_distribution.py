"""scripts/start_distribution.py's bins and its first-choice diagnostic, on success rates given here."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location(
    "start_distribution", Path(__file__).resolve().parent.parent / "scripts" / "start_distribution.py"
)
sd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sd)


def test_bins_follow_the_edges():
    p = np.array([0, 1 / 32, 0.1, 0.1 + 1e-9, 0.5, 0.9 - 1e-9, 0.9, 31 / 32, 1])
    assert sd.bin_of(p).tolist() == [0, 1, 1, 2, 2, 2, 3, 3, 4]
    assert sd.bin_shares(p) == pytest.approx([1 / 9, 2 / 9, 3 / 9, 2 / 9, 1 / 9])
    assert sum(sd.bin_shares(np.random.default_rng(0).random(100))) == pytest.approx(1)


def test_zero_advantage_of_a_group():
    assert sd.zero_advantage(np.array([0.0, 1.0]), 8).tolist() == [1.0, 1.0]
    assert sd.zero_advantage(np.array([0.5]), 8)[0] == pytest.approx(2 * 0.5**8)


def test_first_batches_uniform_matches_the_pool_and_learnability_finds_the_learnable_half():
    # half the pool never solved, half solved half the time: uniform trains on both, the buffer (rho = 1)
    # only on the learnable half once its probes have found it
    p = np.r_[np.zeros(320), np.full(320, 0.5)]
    uniform = sd.first_batches("uniform", {}, p, batch_size=16, G=8, batches=20, seed=0)
    assert uniform["predicted"] == pytest.approx(0.5 + 0.5 * 2 * 0.5**8, abs=0.08)
    assert uniform["attempts_per_batch"] == 16 * 8
    buffer = {"refresh_every": 50, "num_candidates": 320, "buffer_size": 64, "probe_attempts": 8, "rho": 1.0}
    learn = sd.first_batches("learnability", buffer, p, batch_size=16, G=8, batches=4, seed=0)
    assert learn["predicted"] == pytest.approx(2 * 0.5**8)
    assert learn["attempts_per_batch"] == 16 * 8 + 320 * 8 / 4  # the first refresh's probes, then training
    table = sd.first_choice_table(
        [("uniform", "uniform", {}, 16), ("buffer", "learnability", buffer, 16)],
        p,
        G=8,
        batches=4,
        seeds=[0, 1],
    )
    assert table[1]["drop"] == pytest.approx((0.5 + 0.5 * 2 * 0.5**8) - 2 * 0.5**8)  # from the exact uniform
    assert table[0]["drop"] == pytest.approx(0.0, abs=0.1)

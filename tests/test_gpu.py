"""The trainer on a CUDA device: every algorithm, bf16-mixed precision (the GPU default), generation under
autocast. Skipped without a GPU (CI has none); run on a GPU machine with `pytest tests/test_gpu.py`."""

import math

import pytest
import torch

from agents.algos.grpo import GRPOConfig
from agents.algos.ppo import PPOConfig
from agents.algos.vineppo import VinePPOConfig
from agents.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("cls", [GRPOConfig, PPOConfig, VinePPOConfig])
def test_each_algorithm_trains_on_cuda_in_bf16_mixed(cls, tmp_path):
    from test_agents_train import digits_dataset, tiny

    extra = {"vine_rollouts": 2} if cls is VinePPOConfig else {}
    config = tiny(
        cls, tmp_path, device="cuda", kl_coef=0.01, minibatches=2, **digits_dataset(tmp_path), **extra
    )
    trainer = Trainer(config)
    assert trainer.autocast_dtype is torch.bfloat16  # precision "auto" on a GPU
    before = [p.detach().clone() for p in trainer.policy.parameters()]
    records = trainer.train()
    last = records[-1]
    assert math.isfinite(last["loss/total"]) and 0 <= last["eval/pass@1"] <= 1
    params = list(trainer.policy.parameters())
    assert all(p.is_cuda and p.dtype == torch.float32 for p in params)
    assert any(not torch.equal(a, b) for a, b in zip(before, params, strict=True)), "no parameter moved"


def test_resume_on_cuda_continues_the_run(tmp_path):
    from test_agents_train import tiny

    Trainer(tiny(tmp_path=tmp_path, device="cuda", steps=1)).train()
    records = Trainer(tiny(tmp_path=tmp_path, device="cuda", steps=2, resume=True)).train()
    assert [r["step"] for r in records] == [2]

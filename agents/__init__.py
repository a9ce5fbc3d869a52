"""RL agents that train a transformers causal LM on MathReasoning-v0: PPO, VinePPO and GRPO.

    python -m agents.train --algo grpo --curriculum learnability --model tiny --steps 20 --out runs/demo

The algorithms (`agents.ppo`, `agents.vineppo`, `agents.grpo`, registered in `agents.algorithms`) share
everything but their advantages and loss: the config (`agents.config`), the pieces of the losses
(`agents.losses`), policy loading (`agents.policy`, `agents.tiny`), generation (`agents.generation`), the
rollout services (`agents.rollout`), the loop (`agents.trainer`), the run's record (`agents.record`),
checkpoints (`agents.checkpoint`), metric names (`agents.metrics`) and evaluation (`agents.evaluation`).
docs/architecture.md maps the whole project.
"""

from __future__ import annotations

from typing import Any

from agents.cpu import wait_passively

wait_passively()  # before any agents module loads torch: see agents.cpu

__all__ = ["ALGORITHMS", "TrainConfig", "train"]


def __getattr__(attr: str) -> Any:
    # keep `import agents` light: torch and transformers load only when training is asked for
    if attr == "ALGORITHMS":
        from agents.algorithms import ALGORITHMS

        return ALGORITHMS
    if attr == "TrainConfig":
        from agents.config import TrainConfig

        return TrainConfig
    if attr == "train":
        from agents.trainer import train

        return train
    raise AttributeError(f"module 'agents' has no attribute {attr!r}")

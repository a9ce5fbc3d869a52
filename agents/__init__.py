"""RL agents that train a transformers causal LM on MathReasoning-v0: PPO, VinePPO and GRPO.

    python -m agents.train --algo grpo --curriculum learnability --model tiny --steps 20 --out runs/demo

Rooms: `agents.core` (what an algorithm needs: the batch, the `Algorithm` interface, the config, the loss
pieces, the metric names), `agents.algos` (grpo, ppo, vineppo and their registry), `agents.models` (policy
loading, the tiny and testbed models), `agents.cli` (the command lines); beside them the loop
(`agents.trainer`), the rollout services (`agents.rollout`, `agents.generation`), the run's record
(`agents.record`, `agents.summary`, `agents.curves`), checkpoints (`agents.checkpoint`) and held-out
evaluation (`agents.eval_policy`). docs/architecture.md maps the whole project.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# libgomp reads OMP_WAIT_POLICY once, when torch loads it: set here, before any agents module loads torch, to
# PASSIVE unless the user chose one (agents.cpu says why, and the commands report it)
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__all__ = ["ALGORITHMS", "TrainConfig", "train"]


def __getattr__(attr: str) -> Any:
    # keep `import agents` light: torch and transformers load only when training is asked for
    if attr == "ALGORITHMS":
        from agents.algos.registry import ALGORITHMS

        return ALGORITHMS
    if attr == "TrainConfig":
        from agents.core.config import TrainConfig

        return TrainConfig
    if attr == "train":
        from agents.trainer import train

        return train
    raise AttributeError(f"module 'agents' has no attribute {attr!r}")

"""RL agents that train a transformers causal LM on MathReasoning-v0: PPO, VinePPO and GRPO.

    python -m agents.train --algo grpo --curriculum learnability --model tiny --steps 20 --out runs/demo

The algorithms share everything but the step that turns rollouts into a loss: policy loading
(`agents.policy`), generation backends (`agents.generation`), rollout tensors and log-probabilities
(`agents.rollout`), and the training loop with logging and checkpoints (`agents.trainer`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALGORITHMS", "TrainConfig", "train"]


def __getattr__(attr: str) -> Any:
    # keep `import agents` light: torch and transformers load only when training is asked for
    if attr in ("ALGORITHMS", "TrainConfig", "train"):
        from agents import trainer

        return getattr(trainer, attr)
    raise AttributeError(f"module 'agents' has no attribute {attr!r}")

"""The algorithms `--algo` may name, registered by name as `curricula.CURRICULA` registers curricula.

To add one: a module with its config dataclass (a `TrainConfig` subclass) and an `Algorithm` subclass
(advantages and loss), then one entry here.
"""

from __future__ import annotations

from agents.base import Algorithm
from agents.grpo import GRPO
from agents.ppo import PPO
from agents.vineppo import VinePPO

ALGORITHMS: dict[str, type[Algorithm]] = {cls.name: cls for cls in (GRPO, PPO, VinePPO)}


def get(name: str) -> type[Algorithm]:
    """The algorithm class registered as `name`, with a message naming the choices."""
    if name not in ALGORITHMS:
        raise ValueError(f"algo must be one of {tuple(ALGORITHMS)}, got {name!r}")
    return ALGORITHMS[name]

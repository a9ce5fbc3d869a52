"""The algorithms `--algo` may name, registered by name as `curricula.CURRICULA` registers curricula.

The one list of algorithm names: `--algo`'s choices and the check of a config's `algo` come from it. To add
one: a module with its config dataclass (a `TrainConfig` subclass) and an `Algorithm` subclass (advantages
and loss), then one entry here.
"""

from __future__ import annotations

from agents.algos.grpo import GRPO
from agents.algos.ppo import PPO
from agents.algos.vineppo import VinePPO
from agents.core.algorithm import Algorithm
from agents.core.config import ConfigError

ALGORITHMS: dict[str, type[Algorithm]] = {cls.name: cls for cls in (GRPO, PPO, VinePPO)}


def get(name: str) -> type[Algorithm]:
    """The algorithm class registered as `name`; a ConfigError naming the choices for any other name."""
    if name not in ALGORITHMS:
        raise ConfigError(f"algo must be one of {tuple(ALGORITHMS)}, got {name!r}")
    return ALGORITHMS[name]

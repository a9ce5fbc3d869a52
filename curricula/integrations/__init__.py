"""The curriculum's side of framework trainers: samplers that let a curriculum choose each batch's prompts
and take the rewards back, through `curricula.schedule.BatchSchedule` (fixed-size batches over the one
protocol, `next_request` / `report`).

- `curricula.integrations.verl` — `CurriculumSampler` (verl's `train_sampler`), `CurriculumDataset`,
  `groups_from_batch`; the trainer that feeds rewards back is `agents.verl_trainer` (docs/verl.md).
- `curricula.integrations.trl` — `CurriculumRepeatSampler` (TRL's RepeatSampler layout); the trainer is
  `agents.trl_trainer.CurriculumGRPOTrainer` (docs/scaling.md).

The data and rewards for those trainers are `mathenv.export` and `mathenv.rewards`. Importing this package is
free: each integration imports its framework only when used.
"""

from collections.abc import Callable
from typing import Any

__all__ = ["lazy_attributes", "trl", "verl"]


def lazy_attributes(module: str, builders: dict[str, Callable[[], Any]]) -> Callable[[str], Any]:
    """A module `__getattr__` that builds each named class on first use (PEP 562), so importing the module
    does not import the framework the class subclasses."""
    built: dict[str, Any] = {}

    def __getattr__(name: str) -> Any:
        if name in builders:
            if name not in built:
                built[name] = builders[name]()
            return built[name]
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__

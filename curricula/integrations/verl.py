"""Moved to `integrations.verl` (`pkg://integrations.verl.replay_buffer` / `.dataset` in verl configs); the
old `pkg://curricula.integrations.verl` names still resolve, each from its new module."""

import importlib
from typing import Any

from integrations.verl.sampler import *  # noqa: F403

_MOVED = {
    "CurriculumReplayBuffer": "integrations.verl.replay_buffer",
    "CurriculumRLDataset": "integrations.verl.dataset",
    "CurriculumFeed": "integrations.verl.feed",
}


def __getattr__(name: str) -> Any:  # the verl-importing classes load on first use, as before the move
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

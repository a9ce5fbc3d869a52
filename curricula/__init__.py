"""Curricula: which question the next episode opens, learned from the rewards it earns.

    cur = curricula.make("learnability", num_questions=len(pool), seed=0, preset="fast")
    env = curricula.CurriculumWrapper(gym.make("MathReasoning-v0"), "learnability", preset="fast")

Every curriculum works without Gymnasium through the protocol in `curricula.protocol` (`next_request`,
`report`, `diagnostics`, `state_dict`); see docs/curricula.md. (`curricula.learnability`
is the module of the two learnability curricula; the score p(1 - p) itself is `curricula.statistics.learnability`.)
"""

from __future__ import annotations

from typing import Any

from curricula.adarft import AdaRFT
from curricula.completions import HeldGroups
from curricula.easy_to_hard import EasyToHard, difficulty_from_questions
from curricula.greso import Greso
from curricula.learnability import LEARNABILITY_PRESETS, Learnability, LearnabilityFilter, buffer_options
from curricula.mopps import MoPPS
from curricula.pass_rate_band import PassRateBand
from curricula.posterior import Posterior
from curricula.prioritized import Prioritized
from curricula.protocol import Curriculum, Feedback, Request
from curricula.registry import ALIASES, CURRICULA, canonical_options, make, option_help
from curricula.speed import Speed
from curricula.uniform import Uniform
from curricula.zero_variance import ZeroVarianceFilter


def __getattr__(attr: str) -> Any:
    # lazy for weight, not for a cycle: the wrapper needs Gymnasium, the curricula themselves do not
    if attr == "CurriculumWrapper":
        from curricula.gym_wrapper import CurriculumWrapper

        return CurriculumWrapper
    raise AttributeError(f"module 'curricula' has no attribute {attr!r}")


__all__ = [
    "ALIASES",
    "AdaRFT",
    "CURRICULA",
    "LEARNABILITY_PRESETS",
    "Curriculum",
    "CurriculumWrapper",
    "EasyToHard",
    "Feedback",
    "Greso",
    "HeldGroups",
    "Learnability",
    "LearnabilityFilter",
    "MoPPS",
    "PassRateBand",
    "Posterior",
    "Prioritized",
    "Request",
    "Speed",
    "Uniform",
    "ZeroVarianceFilter",
    "buffer_options",
    "canonical_options",
    "difficulty_from_questions",
    "make",
    "option_help",
]

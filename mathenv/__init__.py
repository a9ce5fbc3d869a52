"""mathenv: maths questions as a Gymnasium environment, with a verifier (fast path + math-verify).

`import mathenv` registers `MathReasoning-v0`:

    env = gym.make("MathReasoning-v0")                      # generated arithmetic, offline
    env = gym.make("MathReasoning-v0", dataset="gsm8k")     # from the hub, or data_path="train.jsonl"
"""

import importlib
from typing import Any

import gymnasium as gym

__version__ = "0.1.0"

ENV_ID = "MathReasoning-v0"

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="mathenv.env:MathReasoningEnv")

#: the package's names, each loaded from its module on first use, so that `import mathenv.errors` (or the
#: registration above) does not load the env, the datasets and the verifier
_HOMES = {
    "DEFAULT_INSTRUCTION": "mathenv.env",
    "DatasetUnavailableError": "mathenv.datasets",
    "MathReasoningEnv": "mathenv.env",
    "Question": "mathenv.questions",
    "UnicodeText": "mathenv.env",
    "Verdict": "mathenv.verify",
    "load_questions": "mathenv.datasets",
    "score": "mathenv.verify",
    "score_batch": "mathenv.verify",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'mathenv' has no attribute {name!r}")


__all__ = [
    "DEFAULT_INSTRUCTION",
    "ENV_ID",
    "DatasetUnavailableError",
    "MathReasoningEnv",
    "Question",
    "UnicodeText",
    "Verdict",
    "load_questions",
    "score",
    "score_batch",
]

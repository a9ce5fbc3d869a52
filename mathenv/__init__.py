"""mathenv: maths questions as a Gymnasium environment, with a verifier (fast path + math-verify).

`import mathenv` registers `MathReasoning-v0`:

    env = gym.make("MathReasoning-v0")                      # generated arithmetic, offline
    env = gym.make("MathReasoning-v0", dataset="gsm8k")     # from the hub, or data_path="train.jsonl"
"""

import gymnasium as gym

from mathenv.datasets import DatasetUnavailableError, load_questions
from mathenv.env import DEFAULT_INSTRUCTION, MathReasoningEnv, UnicodeText
from mathenv.questions import Question
from mathenv.verify import Verdict, score, score_batch

__version__ = "0.1.0"

ENV_ID = "MathReasoning-v0"

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="mathenv.env:MathReasoningEnv")

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

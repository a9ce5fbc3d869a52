"""The verifier: is a model's answer to a maths question right?

Public and stable (trainers, integrations and users call it directly):
`score(response, gold) -> Verdict` and `score_batch(responses, golds) -> list[Verdict]`.
Our exact fast path decides what it can with certainty; math-verify judges the rest under a hard bound on its
CPU time (the same verdicts on a loaded machine as on an idle one).
"""

from mathenv.verify.extract import extract_answer, gold_answer
from mathenv.verify.grader import (
    DEFAULT_TIMEOUT,
    REASONS,
    Verdict,
    clear_caches,
    score,
    score_batch,
    warm_up,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "REASONS",
    "Verdict",
    "clear_caches",
    "extract_answer",
    "gold_answer",
    "score",
    "score_batch",
    "warm_up",
]

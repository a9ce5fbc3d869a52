"""The verifier: is a model's answer to a maths question right?

Public and stable (trainers, integrations and users call it directly):
`score(response, gold) -> Verdict` and `score_batch(responses, golds) -> list[Verdict]`.
"""

from mathenv.verify.extract import extract_answer, gold_answer
from mathenv.verify.grader import DEFAULT_TIMEOUT, REASONS, Verdict, clear_caches, score, score_batch
from mathenv.verify.latex import ParseError, parse
from mathenv.verify.normalize import normalize

__all__ = [
    "DEFAULT_TIMEOUT",
    "REASONS",
    "ParseError",
    "Verdict",
    "clear_caches",
    "extract_answer",
    "gold_answer",
    "normalize",
    "parse",
    "score",
    "score_batch",
]

"""docs/scaling.md's "any trainer" loop, run as written, with a simulated learner as the model."""

import re
import zlib
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"
P_BY_HASH = (0.0, 0.5, 1.0)  # the simulated learner: success probability by a hash of the prompt


def p_of(prompt: str) -> float:  # by prompt, not id: the generated pool repeats a few questions
    return P_BY_HASH[zlib.crc32(prompt.encode()) % 3]


def doc_loop() -> str:
    match = re.search(r"<!-- custom-loop.*?-->\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert match, "docs/scaling.md lost its custom-loop block"
    return match.group(1)


def test_custom_loop_from_the_docs_runs(capsys):
    code = doc_loop()
    assert len(code.strip().splitlines()) <= 30
    import mathenv

    env_probe = mathenv.MathReasoningEnv("arithmetic")
    gold_of = {env_probe.prompt(i): q.answer for i, q in enumerate(env_probe.questions)}
    rng = np.random.default_rng(0)
    trained = []

    def generate(prompts):  # right with probability p(question), else a wrong number
        out = []
        for prompt in prompts:
            right = rng.random() < p_of(prompt)
            out.append(f"\\boxed{{{gold_of[prompt]}}}" if right else "\\boxed{-123456789}")
        return out

    ns = {
        "generate": generate,
        "train_step": lambda prompts, rewards: trained.append(len(prompts)),
        "num_steps": 3,
    }
    exec(compile(code, str(DOC), "exec"), ns)

    cur = ns["cur"]
    diag = cur.diagnostics()
    assert diag["curriculum/probe_attempts"] == 256 * 8 and diag["curriculum/train_attempts"] == 3 * 64 * 8
    assert trained == [64, 64, 64]
    positive = cur.buffer[cur.buffer_learnability > 0]
    assert positive.size and all(p_of(env_probe.prompt(q)) == 0.5 for q in positive)
    assert len(capsys.readouterr().out.splitlines()) == 3

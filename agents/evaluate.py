"""Evaluate a policy on a split: greedy pass@1 and maj@k (majority vote over k sampled answers).

    python -m agents.evaluate --model runs/x/checkpoints/step_000010/policy --dataset arithmetic --levels 1 2 3
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

import mathenv  # noqa: F401
from agents.evaluation import evaluate_policy
from agents.generation import HFGenerator, SamplingConfig
from agents.hf import prompt_ids
from agents.policy import HUB_NAMES, LOCAL_NAMES, load_policy
from mathenv.errors import exit_on_user_error


def evaluate(model: str, *, dataset: str = "arithmetic", split: str = "test", data_path: str | None = None,
             levels: list[int] | None = None, num_questions: int | None = 200, k: int = 4,
             temperature: float = 1.0, max_new_tokens: int = 128, batch_size: int = 32, seed: int = 0,
             device: str | None = None, instruction: str | None = None) -> dict[str, Any]:
    """pass@1 (greedy), mean accuracy of k samples, and maj@k, overall and per difficulty level
    (agents.evaluation). `instruction` must match what the policy was trained with (None: the env's default)."""
    torch.manual_seed(seed)
    kwargs: dict[str, Any] = {"dataset": dataset, "split": split, "data_path": data_path}
    if levels is not None:
        kwargs["levels"] = levels
    if instruction is not None:
        kwargs["instruction"] = instruction
    env = gym.make("MathReasoning-v0", **kwargs).unwrapped
    ids = np.arange(env.num_questions)
    if num_questions is not None and num_questions < env.num_questions:
        ids = np.sort(np.random.default_rng(seed).permutation(env.num_questions)[:num_questions])
    policy, tokenizer = load_policy(model, device=device, gradient_checkpointing=False)
    gen = HFGenerator(policy, tokenizer, SamplingConfig(max_new_tokens, temperature, 1.0, batch_size))
    prompts = [prompt_ids(tokenizer, env.prompt(int(q))) for q in ids]
    bar = tqdm(total=len(ids) * (1 + k), desc="evaluate", leave=False, unit="answer")

    def generate(chunk: list[list[int]], greedy: bool) -> list[list[int]]:
        out = gen.generate(chunk, greedy=greedy)
        bar.update(len(chunk))
        return out

    result = evaluate_policy(generate, lambda r: tokenizer.decode(r, skip_special_tokens=True), env, ids, prompts,
                             samples=k)
    bar.close()
    result.pop("p", None)
    return {"model": model, "dataset": dataset, "split": split, **result}


def main(argv: list[str] | None = None) -> int:
    """The command line; a user's mistake (a missing model or data file) is one line on stderr, status 2."""
    return exit_on_user_error(lambda: _main(argv))


def _main(argv: list[str] | None) -> None:
    ap = argparse.ArgumentParser(prog="python -m agents.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2", help="hub name, local folder (a run's checkpoints/step_N/policy) "
                                                       f"or a short name: {', '.join([*HUB_NAMES, *LOCAL_NAMES])}")
    ap.add_argument("--dataset", default="arithmetic")
    ap.add_argument("--split", default="test")
    ap.add_argument("--data-path", default=None, help="local JSONL of the split")
    ap.add_argument("--levels", type=int, nargs="*", default=None)
    ap.add_argument("--num-questions", type=int, default=200, help="fixed random subset (all when larger)")
    ap.add_argument("--k", type=int, default=4, help="samples per question for maj@k (0: greedy only)")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None)
    ap.add_argument("--json", default=None, help="also write the result to this file")
    ap.add_argument("--instruction", default=None, help="prompt text after each question, as in training "
                                                         "(default: the env's; '' for none, as the testbed)")
    a = ap.parse_args(argv)
    result = evaluate(a.model, dataset=a.dataset, split=a.split, data_path=a.data_path, levels=a.levels,
                      num_questions=a.num_questions, k=a.k, temperature=a.temperature,
                      max_new_tokens=a.max_new_tokens, batch_size=a.batch_size, seed=a.seed, device=a.device,
                      instruction=a.instruction)
    print(f"| model | questions | pass@1 | mean@{a.k} | maj@{a.k} |\n|---|---|---|---|---|")
    print(f"| {a.model} | {result['questions']} | {result['pass@1']:.3f} | {result.get('mean@k', float('nan')):.3f} "
          f"| {result.get(f'maj@{a.k}', float('nan')):.3f} |")
    for lv, r in result.get("per_level", {}).items():
        print(f"level {lv}: pass@1 {r['pass@1']:.3f} over {r['questions']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())

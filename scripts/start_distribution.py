"""The starting policy's success rates on a training pool, at the training sampling settings: the share of
questions at p = 0, 0 < p < 1 and p = 1 (from G attempts each), per level. An experiment's design needs it
before any run (docs/preregistration.md: the starting policy is chosen by this table).

    python scripts/start_distribution.py --model testbed --levels 1 2 3 4 5 6 --num-questions 640 \\
        --temperature 0.6 --top-p 0.9 --attempts 8
    python scripts/start_distribution.py --warm-start-steps 6000 ...     # a longer warm start (built, cached)
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import torch

import mathenv  # noqa: F401  (registers MathReasoning-v0)
from agents.eval_policy import evaluate_policy, format_table
from agents.generation import SamplingConfig, make_generator
from agents.models.hf import prompt_ids
from agents.models.policy import load_policy
from agents.models.warm_start import TESTBED_INSTRUCTION, warm_start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="testbed", help="testbed, or a model folder")
    ap.add_argument(
        "--warm-start-steps", type=int, default=None, help="testbed: warm-start length (default 3000)"
    )
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    ap.add_argument("--num-questions", type=int, default=640)
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--top-p", type=float, default=0.9)
    ap.add_argument("--attempts", type=int, default=8, help="G: p = 1 means all G attempts solved")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the result here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    model = args.model
    if model == "testbed":
        model = str(
            warm_start(
                **({"steps": args.warm_start_steps} if args.warm_start_steps else {}),
                threads=1,
                progress=False,
            )
        )
    policy, tokenizer = load_policy(model, device="cpu", seed=args.seed)
    env = gym.make(
        "MathReasoning-v0",
        levels=args.levels,
        num_questions=args.num_questions,
        data_seed=args.data_seed,
        instruction=TESTBED_INSTRUCTION,
    ).unwrapped
    gen = make_generator(
        "hf", policy, tokenizer, SamplingConfig(args.max_new_tokens, args.temperature, args.top_p, 256)
    )
    ids = list(range(env.num_questions))
    result = evaluate_policy(
        lambda p, greedy: gen.generate(p, greedy=greedy),
        lambda r: tokenizer.decode(r, skip_special_tokens=True),
        env,
        ids,
        [prompt_ids(tokenizer, env.prompt(i)) for i in ids],
        samples=args.attempts,
        seed=args.seed,
        greedy=True,
    )
    print(
        f"{model}: {args.num_questions} training questions, levels {args.levels}, {args.attempts} attempts at "
        f"temperature {args.temperature}, top-p {args.top_p} ({time.perf_counter() - start:.0f} s)"
    )
    print(format_table(result))
    if args.json:
        result.pop("p", None)
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "model": model, **result}, f, indent=1)


if __name__ == "__main__":
    main()

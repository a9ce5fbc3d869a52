"""Warm-start the testbed policy (cached) and print its held-out success per difficulty level.

    python scripts/warm_start.py                       # the default warm start (reproduce.py --preset testbed)
    python scripts/warm_start.py --steps 200 --out /tmp/ws --eval-per-level 20

The table shows, per level, the mean success at the sampling temperature and the shares of questions that
all, none or some of the attempts solved; the testbed wants many questions in the middle column.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# OpenMP threads that spin while waiting crawl when other processes share the cores (6x slower measured on
# 2 busy cores); waiting passively costs little on an idle machine. Read once, when torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    from agents.models.warm_start import WARM_START_DEFAULTS as D

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="folder for the model (default: the cache, keyed by the settings)")
    ap.add_argument("--levels", default=",".join(map(str, D["levels"])), help="arithmetic levels, e.g. 1,2,3")
    ap.add_argument("--steps", type=int, default=D["steps"])
    ap.add_argument("--batch-size", type=int, default=D["batch_size"])
    ap.add_argument("--lr", type=float, default=D["lr"])
    ap.add_argument("--n-layer", type=int, default=D["n_layer"])
    ap.add_argument("--d-model", type=int, default=D["d_model"])
    ap.add_argument("--n-head", type=int, default=D["n_head"])
    ap.add_argument("--seed", type=int, default=D["seed"])
    ap.add_argument(
        "--instruction",
        default=D["instruction"],
        help="prompt text after each question (default: none, the bare question)",
    )
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument(
        "--eval-per-level", type=int, default=50, help="held-out questions per level (0: no eval)"
    )
    ap.add_argument("--eval-levels", help="levels to evaluate (default: the trained ones)")
    ap.add_argument("--attempts", type=int, default=8)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--json", help="also write the evaluation as JSON here")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from agents.eval_policy import evaluate_policy, format_table
    from agents.generation import HFGenerator, SamplingConfig
    from agents.models.hf import prompt_ids
    from agents.models.policy import load_policy
    from agents.models.warm_start import warm_start, warm_start_info, warm_start_instruction
    from mathenv.arithmetic import generate
    from mathenv.env import MathReasoningEnv

    torch.set_num_threads(args.threads)
    levels = [int(x) for x in args.levels.split(",")]
    t0 = time.perf_counter()
    path = warm_start(
        args.out,
        levels=levels,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        n_layer=args.n_layer,
        d_model=args.d_model,
        n_head=args.n_head,
        seed=args.seed,
        instruction=args.instruction,
        threads=args.threads,
        progress=not args.no_progress,
    )
    info = warm_start_info(path)
    print(
        f"model: {path}\nparameters: {info['parameters']:,}  training wall time: {info['wall_seconds']:.0f} s  "
        f"loss {info['loss_first']:.3f} -> {info['loss_last']:.3f}  (this call: {time.perf_counter() - t0:.0f} s)"
    )
    if args.eval_per_level <= 0:
        return 0
    eval_levels = [int(x) for x in args.eval_levels.split(",")] if args.eval_levels else levels
    questions = generate(
        args.eval_per_level * len(eval_levels), seed=args.seed, levels=eval_levels, split="test"
    )
    policy, tokenizer = load_policy(str(path), device="cpu", gradient_checkpointing=False)
    env = MathReasoningEnv(questions=questions, instruction=warm_start_instruction(path))
    gen = HFGenerator(policy, tokenizer, SamplingConfig(96, args.temperature, 1.0, 256))
    prompts = [prompt_ids(tokenizer, env.prompt(i)) for i in range(len(questions))]
    t1 = time.perf_counter()
    result = evaluate_policy(
        lambda p, greedy: gen.generate(p, greedy=greedy),
        lambda r: tokenizer.decode(r, skip_special_tokens=True),
        env,
        range(len(questions)),
        prompts,
        samples=args.attempts,
        seed=args.seed,
    )
    print(
        f"\nheld-out test split, {args.eval_per_level} questions per level, greedy and {args.attempts} attempts "
        f"each at temperature {args.temperature} ({time.perf_counter() - t1:.0f} s)\n"
    )
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "model": str(path),
                    "warm_start": {k: v for k, v in info.items() if k != "losses"},
                    "eval": result,
                },
                indent=1,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

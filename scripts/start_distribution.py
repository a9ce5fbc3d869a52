"""The starting policy's success rates on a training pool, and what each curriculum's first choice would make of
them: the measurements a design is built on, before any run (docs/preregistration-2.md).

From G >= 32 attempts per pool question at the training sampling settings it gives, per level, the shares at
p = 0, 0 < p <= 0.1, 0.1 < p < 0.9, 0.9 <= p < 1 and p = 1. Then, with those p held fixed (the unchanged
policy), it runs every arm's own curriculum through its first training batches, probes included, drawing
each attempt from the measured p, and reports the predicted zero-advantage share of the groups it trains on
(a group of G attempts at success rate p has zero advantage with probability p^G + (1 - p)^G) against
uniform's. That drop bounds what a curriculum can show before the policy learns anything.

    python scripts/start_distribution.py --dataset digits --model testbed-digits --num-questions 640 --write
    python scripts/start_distribution.py --dataset arithmetic --model testbed-6000 --levels 1 2 3 4 5 6 \\
        --attempts 64                                          # the first pre-registered test's start
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # research/ is not installed

#: the five bins of a success rate p measured from G attempts (the 0.1 / 0.9 edges are the review's)
BINS = ("p = 0", "0 < p <= 0.1", "0.1 < p < 0.9", "0.9 <= p < 1", "p = 1")


def bin_of(p: np.ndarray) -> np.ndarray:
    """Index into BINS of each success rate."""
    p = np.asarray(p, dtype=float)
    return np.select([p == 0, p <= 0.1, p < 0.9, p < 1], [0, 1, 2, 3], default=4)


def bin_shares(p: np.ndarray) -> list[float]:
    """The share of questions in each of BINS."""
    p = np.asarray(p, dtype=float)
    if not p.size:
        return [float("nan")] * len(BINS)
    return (np.bincount(bin_of(p), minlength=len(BINS)) / p.size).tolist()


def zero_advantage(p: np.ndarray, G: int) -> np.ndarray:
    """Probability that G attempts at success rate p all agree (the group teaches GRPO nothing)."""
    p = np.asarray(p, dtype=float)
    return p**G + (1 - p) ** G


def first_batches(
    curriculum: str,
    options: Mapping[str, Any],
    p: np.ndarray,
    *,
    batch_size: int,
    G: int,
    batches: int,
    seed: int,
) -> dict[str, float]:
    """Run `curriculum` for its first `batches` training batches on a fixed policy whose success rates are `p`
    (attempts drawn from them; the policy never changes). Returns the predicted zero-advantage share of the
    groups it trained on (mean of p^G + (1 - p)^G over them), the share that the drawn attempts had, and the
    attempts spent per batch, probes included."""
    import curricula

    cur = curricula.make(curriculum, p.size, seed=seed, batch_size=batch_size, **dict(options))
    rng = np.random.default_rng(seed + 7919)
    predicted, observed, spent, done = [], [], 0, 0
    while done < batches:
        req = cur.next_request()
        ids = np.asarray(req.question_ids)
        rewards = (rng.random((ids.size, req.attempts or G)) < p[ids, None]).astype(np.float32)
        fb = cur.report(ids, rewards, req.phase)
        spent += rewards.size
        if req.phase == "train":
            kept = ids[fb.keep]
            predicted.extend(zero_advantage(p[kept], G).tolist())
            agree = (rewards[fb.keep] == rewards[fb.keep][:, :1]).all(axis=1)
            observed.extend(agree.astype(float).tolist())
        done += bool(fb.done)
    return {
        "predicted": float(np.mean(predicted)),
        "observed": float(np.mean(observed)),
        "attempts_per_batch": spent / batches,
    }


def first_choice_table(
    arms: Sequence[tuple[str, str, Mapping[str, Any], int]],
    p: np.ndarray,
    *,
    G: int,
    batches: int,
    seeds: Sequence[int],
) -> list[dict[str, Any]]:
    """`first_batches` for each arm (name, curriculum, options, questions per batch), averaged over `seeds`,
    with the drop from uniform's exact share (the pool mean of p^G + (1 - p)^G)."""
    uniform = float(zero_advantage(p, G).mean())
    out = []
    for name, curriculum, options, batch_size in arms:
        runs = [
            first_batches(curriculum, options, p, batch_size=batch_size, G=G, batches=batches, seed=s)
            for s in seeds
        ]
        predicted = float(np.mean([r["predicted"] for r in runs]))
        out.append(
            {
                "arm": name,
                "predicted": predicted,
                "observed": float(np.mean([r["observed"] for r in runs])),
                "drop": uniform - predicted,
                "attempts_per_batch": float(np.mean([r["attempts_per_batch"] for r in runs])),
            }
        )
    return out


def measure(args: Any) -> dict[str, Any]:
    """p of every pool question from `args.attempts` attempts of the start policy (sampling as in training)."""
    import gymnasium as gym
    import torch

    import mathenv  # noqa: F401  (registers MathReasoning-v0)
    from agents.eval_policy import evaluate_policy
    from agents.generation import SamplingConfig, make_generator
    from agents.models.hf import prompt_ids
    from agents.models.policy import load_policy, resolve
    from agents.models.warm_start import TESTBED_INSTRUCTION

    torch.set_num_threads(1)
    model = resolve(args.model)
    policy, tokenizer = load_policy(model, device="cpu", seed=args.seed)
    env = gym.make(
        "MathReasoning-v0",
        dataset=args.dataset,
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
        greedy=False,
    )
    return {
        "model": model,
        "p": result["p"],
        "levels": [env.questions[i].difficulty for i in ids],
        "mean": result["mean@k"],
    }


def report(measured: Mapping[str, Any], args: Any, seconds: float) -> str:
    from research.comparisons import design_arms
    from research.experiments import tables

    p, levels = np.asarray(measured["p"]), np.asarray(measured["levels"])
    rows = []
    for lv in sorted(set(levels.tolist())):
        sel = p[levels == lv]
        rows.append([lv, sel.size, f"{100 * sel.mean():.1f}", *(f"{100 * s:.1f}" for s in bin_shares(sel))])
    rows.append(["all", p.size, f"{100 * p.mean():.1f}", *(f"{100 * s:.1f}" for s in bin_shares(p))])
    shares = tables.markdown_table(["level", "questions", "mean p (%)", *(f"{b} (%)" for b in BINS)], rows)
    arms = [
        (a.name, a.curriculum, a.options, a.batch_size)
        for a in design_arms(p.size, args.batch_size, args.group_size, selectors=False)
    ]
    first = first_choice_table(
        arms, p, G=args.group_size, batches=args.first_batches, seeds=range(args.diagnostic_seeds)
    )
    choice = tables.markdown_table(
        [
            "arm",
            f"zero-advantage share of the first {args.first_batches} batches, predicted (%)",
            "as drawn (%)",
            "drop from uniform (points)",
            "attempts per batch",
        ],
        [
            [
                r["arm"],
                f"{100 * r['predicted']:.1f}",
                f"{100 * r['observed']:.1f}",
                f"{100 * r['drop']:+.1f}",
                f"{r['attempts_per_batch']:.0f}",
            ]
            for r in first
        ],
    )
    return (
        "### The start distribution\n\n"
        f"Written by `{tables.command_line(__file__)}` on {tables.machine_line()}; {seconds:.0f} CPU-s"
        + (f"; p measured by {measured['measured_by']}. " if "measured_by" in measured else ". ")
        + f"`{measured['model']}` on {p.size} `{args.dataset}` training questions{measured.get('subset', '')} "
        f"(data seed {args.data_seed}), "
        f"{args.attempts} attempts each at temperature {args.temperature:g}, top-p {args.top_p:g}.\n\n"
        + shares
        + f"\n\nEach arm's first choice on the unchanged policy ({args.diagnostic_seeds} seeds; attempts drawn "
        f"from the measured p; G = {args.group_size}, {args.batch_size} questions a batch):\n\n"
        + choice
        + "\n"
    )


def main() -> int | None:
    from agents.cli.args import ArgumentParser
    from mathenv.errors import UserError
    from research.experiments import tables

    ap = ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="digits", help="digits or arithmetic")
    ap.add_argument(
        "--model", default="testbed-digits", help="a testbed name (testbed-digits) or a model folder"
    )
    ap.add_argument("--levels", type=int, nargs="+", default=None, help="default: every level of the dataset")
    ap.add_argument("--num-questions", type=int, default=640, help="the pool")
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=0.6)
    ap.add_argument("--top-p", type=float, default=0.9)
    ap.add_argument("--attempts", type=int, default=32, help="attempts per question (at least 32)")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--group-size", type=int, default=8, help="G of the design")
    ap.add_argument("--batch-size", type=int, default=16, help="questions per training batch of the design")
    ap.add_argument("--first-batches", type=int, default=10, help="training batches the diagnostic runs")
    ap.add_argument("--diagnostic-seeds", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write the measured p here; --from-json reads it back")
    ap.add_argument(
        "--from-json",
        default=None,
        help="skip the measurement: the p of an earlier --json (with --levels: only those levels' questions)",
    )
    ap.add_argument("--write", action="store_true", help="write the tables into docs/results.md")
    args = ap.parse_args()
    if args.attempts < 32:
        raise UserError(f"--attempts {args.attempts}: the bins need at least 32 attempts per question")
    start = time.process_time()
    if args.from_json:
        measured = json.loads(Path(args.from_json).read_text())
        for key in (
            "attempts",
            "temperature",
            "top_p",
            "data_seed",
        ):  # the measurement's, not this call's defaults
            setattr(args, key, measured["args"][key])
        if args.levels:  # the questions of these levels within the measured pool
            keep = [i for i, lv in enumerate(measured["levels"]) if lv in args.levels]
            measured["pool"] = len(measured["levels"])
            if not keep:
                raise UserError(f"--levels {args.levels}: {args.from_json} has no question at these levels")
            measured["p"] = [measured["p"][i] for i in keep]
            measured["levels"] = [measured["levels"][i] for i in keep]
            measured["subset"] = (
                f" (those of levels {', '.join(map(str, args.levels))} in the measured pool of {measured['pool']})"
            )
    else:
        measured = measure(args)
        measured["measured_by"] = (
            f"`{tables.command_line(__file__)}` ({time.process_time() - start:.0f} CPU-s)"
        )
        if args.json:
            Path(args.json).write_text(json.dumps({"args": vars(args), **measured}))
    body = report(measured, args, time.process_time() - start)
    print(body)
    if args.write:
        levels = "-levels-" + "-".join(map(str, args.levels)) if args.from_json and args.levels else ""
        tables.write_section(f"{args.dataset}-start-distribution{levels}", body)
    return None


if __name__ == "__main__":
    from agents.cli.args import exit_on_user_error

    sys.exit(exit_on_user_error(main))

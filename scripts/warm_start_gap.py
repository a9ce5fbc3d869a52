"""Does the warm start know a procedure or a table? Greedy accuracy per level on `sft` texts it trained on
against `test` texts it never saw; the digits testbed needs them within 3 points at every level.

    python scripts/warm_start_gap.py                       # the digits testbed's warm start (built, cached)
    python scripts/warm_start_gap.py --model runs/ws/x --per-level 300 --write   # table into docs/results.md

The seen texts are drawn from the warm start's own training questions (regenerated from its saved settings:
the same seed, levels and count), the unseen ones from the `test` split; both distinct texts.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # research/ is not installed

from agents.cli.args import ArgumentParser, exit_on_user_error  # noqa: E402
from agents.eval_policy import evaluate_policy  # noqa: E402
from agents.generation import SamplingConfig, make_generator  # noqa: E402
from agents.models.hf import prompt_ids  # noqa: E402
from agents.models.policy import load_policy, resolve  # noqa: E402
from agents.models.warm_start import WARM_START_DATASETS, training_draws, warm_start_info  # noqa: E402
from mathenv.env import MathReasoningEnv  # noqa: E402
from mathenv.errors import UserError  # noqa: E402
from mathenv.questions import Question  # noqa: E402
from research.experiments import tables  # noqa: E402

#: the largest gap (points) between seen and unseen greedy accuracy at any level that counts as "generalises"
MAX_GAP = 3.0


def distinct_per_level(questions: list[Question], levels: list[int], per_level: int) -> list[Question]:
    out, seen, count = [], set(), dict.fromkeys(levels, 0)
    for q in questions:
        if q.difficulty in count and count[q.difficulty] < per_level and q.question not in seen:
            seen.add(q.question)
            count[q.difficulty] += 1
            out.append(q)
    return out


def greedy_by_level(
    policy, tokenizer, questions: list[Question], max_new_tokens: int
) -> tuple[dict[int, float], dict[int, int]]:
    gen = make_generator("hf", policy, tokenizer, SamplingConfig(max_new_tokens, 1.0, 1.0, 256))
    env = MathReasoningEnv(questions=questions, instruction="")
    ids = list(range(len(questions)))
    result = evaluate_policy(
        lambda p, greedy: gen.generate(p, greedy=greedy),
        lambda r: tokenizer.decode(r, skip_special_tokens=True),
        env,
        ids,
        [prompt_ids(tokenizer, env.prompt(i)) for i in ids],
    )
    per_level = result["per_level"].items()
    return {int(lv): r["pass@1"] for lv, r in per_level}, {int(lv): r["questions"] for lv, r in per_level}


def measure(model: str, per_level: int, max_new_tokens: int) -> dict:
    path = resolve(model)
    settings = warm_start_info(path)["settings"]
    module = WARM_START_DATASETS[settings.get("dataset", "arithmetic")][0]
    levels = list(settings["levels"])
    trained = module.generate(settings["steps"] * settings["batch_size"], **training_draws(settings))
    held_out = module.generate(4 * per_level * len(levels), seed=12345, levels=levels, split="test")
    policy, tokenizer = load_policy(path, device="cpu", seed=0)
    seen, n_seen = greedy_by_level(
        policy, tokenizer, distinct_per_level(trained, levels, per_level), max_new_tokens
    )
    unseen, n_unseen = greedy_by_level(
        policy, tokenizer, distinct_per_level(held_out, levels, per_level), max_new_tokens
    )
    return {
        "model": path,
        "settings": settings,
        "per_level": per_level,
        "seen": seen,
        "unseen": unseen,
        "n_seen": n_seen,
        "n_unseen": n_unseen,
    }


def table(result: dict) -> str:
    rows = []
    for lv in sorted(result["seen"]):
        s, u = result["seen"][lv], result["unseen"][lv]
        ns, nu = result["n_seen"][lv], result["n_unseen"][lv]
        gap = 100 * (s - u)
        se = 100 * math.sqrt(s * (1 - s) / ns + u * (1 - u) / nu)  # two independent samples
        rows.append(
            [
                lv,
                f"{100 * s:.1f} ({ns})",
                f"{100 * u:.1f} ({nu})",
                f"{gap:+.1f}",
                f"{se:.1f}",
                "yes" if abs(gap) <= MAX_GAP else "NO",
            ]
        )
    return tables.markdown_table(
        [
            "level",
            "seen sft texts, greedy (%) (texts)",
            "unseen test texts, greedy (%) (texts)",
            "gap (points)",
            "standard error of the gap",
            "within 3",
        ],
        rows,
    )


def main() -> None:
    ap = ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--model", default="testbed-digits", help="a warm start's folder or name (testbed-digits)"
    )
    ap.add_argument("--per-level", type=int, default=200, help="distinct texts per level and side")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--json", default=None, help="also write the result here")
    ap.add_argument("--from-json", default=None, help="skip the measurement: the table of an earlier --json")
    ap.add_argument("--write", action="store_true", help="write the table into docs/results.md")
    args = ap.parse_args()
    if args.per_level < 1:
        raise UserError(f"--per-level must be positive, got {args.per_level}")
    torch.set_num_threads(1)
    start = time.process_time()
    if args.from_json:
        try:
            result = json.loads(Path(args.from_json).read_text())
        except (OSError, ValueError) as e:
            raise UserError(
                f"--from-json {args.from_json}: cannot read it ({e}); give a file --json wrote"
            ) from e
        result = {
            **result,
            **{
                k: {int(lv): v for lv, v in result[k].items()}
                for k in ("seen", "unseen", "n_seen", "n_unseen")
            },
        }
    else:
        result = measure(args.model, args.per_level, args.max_new_tokens)
        result["cpu_seconds"] = time.process_time() - start
        result["command"] = tables.command_line(__file__)
    s = result["settings"]
    worst = max(abs(result["seen"][lv] - result["unseen"][lv]) for lv in result["seen"])
    body = (
        "### The digits warm start: seen against unseen texts\n\n"
        f"Written by `{tables.command_line(__file__)}` on {tables.machine_line()}; measured by "
        f"`{result.get('command', tables.command_line(__file__))}` in {result.get('cpu_seconds', math.nan):.0f}"
        f" CPU-s. Warm start: {s['n_layer']} layers x {s['d_model']}, {s['steps']} steps of {s['batch_size']} "
        f"`sft` questions, lr {s['lr']:g}; greedy answers on up to {result['per_level']} distinct texts per level and side (fewer where a level's split has fewer).\n\n"
        + table(result)
        + f"\n\nLargest gap {100 * worst:.1f} points: "
        + (
            "**generalises** (every level within 3)."
            if worst * 100 <= MAX_GAP
            else "**fails** the 3-point rule."
        )
    )
    print(body)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.write:
        tables.write_section("digits-warm-start", body)


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main))

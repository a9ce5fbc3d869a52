"""Evaluate a policy on a split: greedy pass@1 and maj@k (majority vote over k sampled answers).

    python -m agents.evaluate --model runs/x --k 4           # a run's newest checkpoint, on the run's own task
    python -m agents.evaluate --model runs/x/checkpoints/step_000010/policy --k 4
    python -m agents.evaluate --model smollm2 --dataset arithmetic --levels 1 2 3

A run folder is self-describing: given a run (or a checkpoint inside one), the task (dataset, held-out split,
levels, prompt instruction, fields), the sampling settings and the held-out questions come from the run's
config.json, so the score is on the questions the run's own summary reported (agents.eval_policy.heldout_ids
picks them for both), and says so. Flags given override the sampling settings, and --num-questions or --seed
other questions (said too); a flag that changes the task is refused, naming the difference, unless
--other-task says that is meant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from agents import checkpoint
from agents.cli.args import ArgumentParser, exit_on_user_error
from agents.cpu import configure as configure_cpu
from agents.eval_policy import evaluate_policy, heldout_ids
from agents.models.policy import HUB_NAMES, LOCAL_NAMES, check_device, check_model_name
from agents.run_checks import DATASET_LEVELS, check_levels
from mathenv.errors import UserError

# torch, transformers and gymnasium load in the functions that score: the options are read and checked first,
# so --help and a mistake's one line come back in a second instead of after seconds of imports

#: evaluate's settings and their defaults when the model is not a training run's
DEFAULTS: dict[str, Any] = {
    "dataset": "arithmetic",
    "split": "test",
    "data_path": None,
    "levels": None,
    "instruction": None,
    "question_field": None,
    "answer_field": None,
    "max_new_tokens": 128,
    "temperature": 1.0,
    "top_p": 1.0,
}
#: held-out questions scored when neither the run nor --num-questions says how many
NUM_QUESTIONS = 200
#: the settings that make the task: evaluating a run's checkpoint with other values scores another task
TASK = ("dataset", "split", "data_path", "levels", "instruction", "question_field", "answer_field")


def find_run(model: str) -> tuple[Path, dict[str, Any], Path] | None:
    """(run folder, its config, the policy folder to load) when `model` is a training run's folder (its newest
    checkpoint) or a checkpoint's policy inside one; None for anything else (a hub name, another folder)."""
    path = Path(model).expanduser()
    if not path.is_dir():
        return None
    for run in (path, *list(path.parents)[:3]):  # runs/x, or runs/x/checkpoints/step_N/policy
        config = _run_config(run)
        if config is None:
            continue
        if run != path:
            return run, config, path
        ckpts = checkpoint.checkpoint_dirs(run)
        if not ckpts:
            raise UserError(
                f"--model {model}: the run folder holds no checkpoint yet; train it first, or pass a "
                f"checkpoint's policy folder"
            )
        return run, config, ckpts[-1] / checkpoint.POLICY_DIR
    return None


def _run_config(folder: Path) -> dict[str, Any] | None:
    """A training run's config.json (not a transformers config.json, which a policy folder also holds)."""
    try:
        config = json.loads((folder / checkpoint.CONFIG).read_text())
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) and {"algo", "curriculum", "dataset"} <= set(config) else None


def run_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings under which a run evaluated itself (agents.trainer's held-out pool and sampling)."""
    dataset = config.get("dataset", DEFAULTS["dataset"])
    temperature = config.get("eval_temperature") or config.get("temperature", DEFAULTS["temperature"])
    return {
        "dataset": dataset,
        "split": config.get("eval_split", "test"),
        "data_path": config.get("eval_data_path"),
        "levels": config.get("levels") if dataset in DATASET_LEVELS else None,
        "instruction": config.get("instruction"),
        "question_field": config.get("question_field"),
        "answer_field": config.get("answer_field"),
        "max_new_tokens": config.get("max_new_tokens", DEFAULTS["max_new_tokens"]),
        "temperature": temperature,
        "top_p": config.get("eval_top_p") or config.get("top_p", DEFAULTS["top_p"]),
    }


def evaluate(
    model: str,
    *,
    dataset: str = "arithmetic",
    split: str = "test",
    data_path: str | None = None,
    levels: list[int] | None = None,
    num_questions: int | None = NUM_QUESTIONS,
    k: int = 4,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 128,
    batch_size: int = 32,
    seed: int = 0,
    device: str | None = None,
    instruction: str | None = None,
    question_field: str | None = None,
    answer_field: str | None = None,
) -> dict[str, Any]:
    """pass@1 (greedy), mean accuracy of k samples, and maj@k, overall and per difficulty level
    (agents.eval_policy), on the `num_questions` held-out questions a run with `seed` scores itself on
    (agents.eval_policy.heldout_ids; their ids are in the result). `instruction` must match what the policy was
    trained with (None: the env's default); `main` takes it, the task and the questions from a run's
    config.json."""
    import gymnasium as gym

    import mathenv  # noqa: F401  (registers MathReasoning-v0)

    kwargs: dict[str, Any] = {
        "dataset": dataset,
        "split": split,
        "data_path": data_path,
        "question_field": question_field,
        "answer_field": answer_field,
    }
    if levels is not None:
        kwargs["levels"] = levels
    if instruction is not None:
        kwargs["instruction"] = instruction
    env = gym.make("MathReasoning-v0", **kwargs).unwrapped
    ids = heldout_ids(env.num_questions, num_questions, seed)
    result = evaluate_questions(
        model,
        env,
        ids,
        k=k,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        seed=seed,
        device=device,
    )
    return {
        "model": model,
        "dataset": dataset,
        "split": split,
        "seed": seed,
        **result,
        "question_ids": ids.tolist(),
    }


def evaluate_questions(
    model: str,
    env: Any,
    ids: np.ndarray,
    *,
    k: int = 4,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 128,
    batch_size: int = 32,
    seed: int = 0,
    device: str | None = None,
) -> dict[str, Any]:
    """Score `model` on the questions `ids` of `env` (a MathReasoning-v0 env, unwrapped): greedy pass@1 and k
    answers sampled at `temperature` / `top_p` per question, overall and per level."""
    import torch
    from tqdm.auto import tqdm

    from agents.generation import HFGenerator, SamplingConfig
    from agents.models.hf import prompt_ids
    from agents.models.policy import load_policy

    torch.manual_seed(seed)
    policy, tokenizer = load_policy(model, device=device, gradient_checkpointing=False)
    gen = HFGenerator(policy, tokenizer, SamplingConfig(max_new_tokens, temperature, top_p, batch_size))
    prompts = [prompt_ids(tokenizer, env.prompt(int(q))) for q in ids]
    # a bar only on a terminal: in a log file it is thousands of carriage-returned lines
    bar = tqdm(
        total=len(ids) * (1 + k), desc="evaluate", leave=False, unit="answer", disable=not sys.stderr.isatty()
    )

    def generate(chunk: list[list[int]], greedy: bool) -> list[list[int]]:
        out = gen.generate(chunk, greedy=greedy)
        bar.update(len(chunk))
        return out

    result = evaluate_policy(
        generate, lambda r: tokenizer.decode(r, skip_special_tokens=True), env, ids, prompts, samples=k
    )
    bar.close()
    result.pop("p", None)
    return result


def main(argv: list[str] | None = None) -> int:
    """The command line; a user's mistake (a missing model or data file, a bad option) is one line on stderr,
    status 2."""
    return exit_on_user_error(lambda: _main(argv))


def _parser() -> ArgumentParser:
    ap = ArgumentParser(
        prog="python -m agents.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # task and sampling flags default to None: unset, they come from the run's config.json (else DEFAULTS)
    ap.add_argument(
        "--model",
        default="smollm2",
        help="a training run's folder (its newest checkpoint), a checkpoint's policy folder "
        "(runs/x/checkpoints/step_N/policy), a hub name (owner/name), or a short name: "
        f"{', '.join([*HUB_NAMES, *LOCAL_NAMES])} (default smollm2)",
    )
    ap.add_argument(
        "--dataset",
        default=None,
        help="arithmetic, gsm8k, math, math500, a hub dataset or a .jsonl "
        "file (default: the run's, else arithmetic)",
    )
    ap.add_argument(
        "--split", default=None, help="the split to score (default: the run's held-out split, else test)"
    )
    ap.add_argument("--data-path", default=None, help="local JSONL of the split, instead of the hub")
    ap.add_argument(
        "--levels",
        type=int,
        nargs="*",
        default=None,
        help="difficulty levels: arithmetic 1-10, MATH 1-5 (default: the run's, else all)",
    )
    ap.add_argument(
        "--instruction",
        default=None,
        help="prompt text after each question, as in training "
        "(default: the run's, else the env's; '' for none)",
    )
    ap.add_argument(
        "--question-field", default=None, help="column holding the question, for any other dataset"
    )
    ap.add_argument(
        "--answer-field", default=None, help="column holding the gold answer, for any other dataset"
    )
    ap.add_argument(
        "--other-task",
        action="store_true",
        help="allow a task flag (dataset, split, data path, levels, instruction, fields) that differs "
        "from the run's own: the checkpoint is then scored on a task it was not trained for",
    )
    ap.add_argument(
        "--num-questions",
        type=int,
        default=None,
        help="score a fixed random subset of this many questions (all when larger; default: as many as "
        f"the run scored itself on, its eval_questions, else {NUM_QUESTIONS})",
    )
    ap.add_argument(
        "--k",
        type=int,
        default=4,
        help="samples per question for mean@k and maj@k (0: greedy only; default 4)",
    )
    ap.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature of the k samples (default: the run's, else 1.0)",
    )
    ap.add_argument(
        "--top-p",
        type=float,
        default=None,
        help="nucleus sampling of the k samples (default: the run's, else 1.0)",
    )
    ap.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="longest answer in tokens (default: the run's, else 128)",
    )
    ap.add_argument(
        "--batch-size", type=int, default=32, help="sequences per generate call (memory only; default 32)"
    )
    ap.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seeds the question subset (the held-out questions of a run with this seed) and the sampling "
        "(default: the run's seed, else 0)",
    )
    ap.add_argument(
        "--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available, else cpu)"
    )
    ap.add_argument("--json", default=None, help="also write the result to this file")
    return ap


def questions(a: Any, config: dict[str, Any] | None, split: str) -> tuple[int, int, str]:
    """(how many held-out questions, the seed that picks them, a line saying which): a run's own subset,
    the one its summary reported, unless --num-questions or --seed ask for others."""
    own_n = config.get("eval_questions") if config else None
    own_seed = config.get("seed", 0) if config else None
    n = a.num_questions if a.num_questions is not None else (own_n or NUM_QUESTIONS)
    seed = a.seed if a.seed is not None else (own_seed if own_seed is not None else 0)
    what = f"{n} of the {split} split, picked for seed {seed} (agents.eval_policy.heldout_ids)"
    if config is None:
        return n, seed, f"questions: {what}"
    if not own_n:
        return n, seed, f"questions: {what}; the run scored no held-out questions itself (eval_questions 0)"
    if (n, seed) == (own_n, own_seed):
        return n, seed, f"questions: the run's own held-out ones, as in its summary: {what}"
    return (
        n,
        seed,
        (
            f"questions: {what}, as asked; not the run's own ({own_n}, seed {own_seed}) that its summary "
            f"reported: drop --num-questions and --seed to score those"
        ),
    )


def settings(a: Any) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """The model to load, evaluate's settings (DEFAULTS < the run's config.json < flags given) and the run's
    config (None when the model is not a run's); a task flag that differs from the run's is refused unless
    --other-task (then said on stderr)."""
    given = {k: getattr(a, k) for k in DEFAULTS if getattr(a, k) is not None}
    found = find_run(a.model)
    if found is None:
        return a.model, {**DEFAULTS, **given}, None
    run, config, policy = found
    own = run_settings(config)
    changed = [
        f"--{k.replace('_', '-')} {v!r} (the run's: {own[k]!r})"
        for k, v in given.items()
        if k in TASK and v != own[k]
    ]
    source = run / checkpoint.CONFIG
    if changed and not a.other_task:
        raise UserError(
            f"{'; '.join(changed)}: {policy} was trained on another task ({source}); drop the flag to "
            f"score it on its own task, or pass --other-task to score it on this one"
        )
    task = ", ".join(f"{k} {own[k]!r}" for k in TASK if own[k] is not None)
    print(f"settings from {source}: {task}", file=sys.stderr)
    if changed:
        print(f"--other-task: scoring on another task than the run's: {'; '.join(changed)}", file=sys.stderr)
    return str(policy), {**DEFAULTS, **own, **given}, config


def _main(argv: list[str] | None) -> None:
    a = _parser().parse_args(argv)
    check_device(a.device)
    model, s, config = settings(a)
    check_model_name(model)
    check_levels(s["dataset"], s["levels"])
    num_questions, seed, said = questions(a, config, s["split"])
    print(said, file=sys.stderr, flush=True)
    print(configure_cpu(), file=sys.stderr, flush=True)
    result = evaluate(
        model,
        num_questions=num_questions,
        k=a.k,
        batch_size=a.batch_size,
        seed=seed,
        device=a.device,
        **s,
    )
    result["settings"] = s
    print(f"| model | questions | pass@1 | mean@{a.k} | maj@{a.k} |\n|---|---|---|---|---|")
    print(
        f"| {model} | {result['questions']} | {result['pass@1']:.3f} | {result.get('mean@k', float('nan')):.3f} "
        f"| {result.get(f'maj@{a.k}', float('nan')):.3f} |"
    )
    for lv, r in result.get("per_level", {}).items():
        print(f"level {lv}: pass@1 {r['pass@1']:.3f} over {r['questions']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())

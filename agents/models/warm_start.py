"""The testbed's policy: the tiny model trained by supervision on generated arithmetic with worked solutions.

A 135M-parameter model cannot run hundreds of RL updates on two CPU cores, so curricula are compared on a
small policy instead: a half-million-parameter Llama-style transformer over characters (agents.models.tiny), trained
for a few minutes until its success rate spreads across difficulty levels (some levels always solved, some
sometimes, some never): the regime where choosing which questions to train on matters.

    from agents.models.warm_start import warm_start
    path = warm_start()  # cached under ~/.cache/mathenv/testbed-<hash>; minutes the first time
    policy, tokenizer = agents.models.policy.load_policy(str(path))

The warm start trains on exactly what RL will see: the env's observation (the bare question: the testbed passes
`instruction=TESTBED_INSTRUCTION` to the env, see `warm_start_instruction`) as the user turn of the tokenizer's
chat template, then the worked solution and EOS, with the loss on the answer tokens only.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from agents.models.hf import cache_dir, prompt_ids, quiet_transformers
from agents.models.tiny import char_tokenizer, tiny_model
from mathenv import arithmetic, digits
from mathenv.env import DEFAULT_INSTRUCTION, MathReasoningEnv
from mathenv.questions import Question

#: Settings of the default warm start (see `warm_start`): 0.54M parameters, 3000 steps of 16 questions, the bare
#: question as prompt; 255 s on one thread here. Measured (50 held-out questions per level, 8 attempts at
#: temperature 1): success 0.64 / 0.38 / 0.04 / 0.06 / 0.02 / 0.03 on levels 1-6; 54% of questions never
#: solved, 3% always, 43% sometimes (levels 1-2 almost all "sometimes"). The same recipe with the env's default
#: instruction in the prompt took 498 s and ended bimodal (0.81 / 0.93 / 0.03 / 0.11 / 0.02 / 0.03; 31%
#: sometimes, mostly at p = 1/8). Sweeps: lr 1e-2 learned slower than 5e-3; batch 16 learned more per example
#: than 32; 4 layers x 128 learned faster per step than 2 x 128 but at 1.8x the cost per step, so about the same
#: per CPU second (single short runs, one seed: indicative only).
WARM_START_LEVELS = (1, 2, 3, 4, 5, 6)
#: The testbed's prompt is the bare question: with one token per character the env's default instruction would
#: be 72 of about 95 prompt tokens, carry nothing the policy needs, and roughly double every step's cost.
TESTBED_INSTRUCTION = ""
WARM_START_DEFAULTS: dict[str, Any] = {
    "levels": WARM_START_LEVELS,
    "steps": 3000,
    "batch_size": 16,
    "lr": 5e-3,
    "warmup": 50,
    "weight_decay": 0.01,
    "n_layer": 2,
    "d_model": 128,
    "n_head": 4,
    "max_positions": 512,
    "seed": 0,
    "instruction": TESTBED_INSTRUCTION,
}
#: The digits testbed's warm start (`--model testbed-digits`): trained on the `sft` split of mathenv.digits only,
#: each level's texts drawn once (`distinct`); 468 s on one thread of a shared machine. Greedy accuracy on its
#: own training texts and on unseen `test` texts (1,500 each per level, scripts/warm_start_gap.py, docs/results.md
#: section 6) agree within 3 points at every level (largest +2.8): it learnt the column procedure, not a table.
#: Drawn with replacement, level 3 (7,200 texts, 40% of its seen texts drawn twice or more) missed by +3.4.
DIGITS_WARM_START: dict[str, Any] = {
    "dataset": "digits",
    "levels": digits.LEVELS,
    "steps": 3000,
    "batch_size": 16,
    "lr": 5e-3,
    "n_layer": 2,
    "d_model": 128,
    "distinct": True,
}
#: dataset name -> (generator module, the split a warm start reads)
WARM_START_DATASETS = {"arithmetic": (arithmetic, "train"), "digits": (digits, "sft")}
_VERSION = 2  # bump when the training recipe changes, so old caches are not reused
METADATA = "warm_start.json"


def _examples(
    tokenizer, questions: Sequence[Question], instruction: str
) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, answer ids) per question: the env's exact observation, chat-templated; solution + EOS."""
    missing = [q.uid for q in questions if not q.solution]
    if missing:
        raise ValueError(f"{len(missing)} question(s) have no worked solution to train on, e.g. {missing[0]}")
    env = MathReasoningEnv(questions=questions, instruction=instruction)
    prompts = [prompt_ids(tokenizer, env.prompt(i)) for i in range(len(questions))]
    answers = tokenizer([q.solution for q in questions], add_special_tokens=False)["input_ids"]
    return [(p, a + [tokenizer.eos_token_id]) for p, a in zip(prompts, answers, strict=True)]


def _batch(examples: Sequence[tuple[list[int], list[int]]], pad: int) -> dict[str, torch.Tensor]:
    """Right-padded inputs; labels are the answer tokens, -100 on the prompt and the padding."""
    width = max(len(p) + len(a) for p, a in examples)
    ids = torch.full((len(examples), width), pad, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    for row, (p, a) in enumerate(examples):
        n = len(p) + len(a)
        ids[row, :n] = torch.tensor(p + a)
        mask[row, :n] = 1
        labels[row, len(p) : n] = torch.tensor(a)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def settings_hash(settings: dict[str, Any]) -> str:
    blob = json.dumps({**settings, "version": _VERSION}, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def is_warm_started(path: str | os.PathLike) -> bool:
    path = Path(path)
    return (path / METADATA).exists() and (path / "config.json").exists()


def warm_start(
    out_dir: str | os.PathLike | None = None,
    *,
    levels: Iterable[int] = WARM_START_LEVELS,
    steps: int = WARM_START_DEFAULTS["steps"],
    seed: int = 0,
    batch_size: int = WARM_START_DEFAULTS["batch_size"],
    lr: float = WARM_START_DEFAULTS["lr"],
    warmup: int = WARM_START_DEFAULTS["warmup"],
    weight_decay: float = WARM_START_DEFAULTS["weight_decay"],
    n_layer: int = WARM_START_DEFAULTS["n_layer"],
    d_model: int = WARM_START_DEFAULTS["d_model"],
    n_head: int = WARM_START_DEFAULTS["n_head"],
    max_positions: int = WARM_START_DEFAULTS["max_positions"],
    instruction: str = TESTBED_INSTRUCTION,
    dataset: str = "arithmetic",
    distinct: bool = False,
    threads: int | None = 2,
    progress: bool = True,
) -> Path:
    """Supervised warm start of the testbed policy on generated arithmetic; returns the saved model's folder.

    Trains `tiny_model` for `steps` AdamW steps of `batch_size` fresh questions from `levels` of `dataset`
    (`arithmetic`: its train split; `digits`: its `sft` split, which RL pools and held-out sets never share)
    (equal share per level; linear warmup, cosine decay), the loss on the worked solution and EOS only.
    Saves model and tokenizer with `save_pretrained` into `out_dir` (default
    `cache_dir()/testbed-<hash of the settings>`) plus `warm_start.json` (settings, loss curve, wall time);
    a folder that already holds a finished warm start is returned at once without training.
    """
    levels = tuple(sorted(set(int(lv) for lv in levels)))
    settings = {
        "levels": list(levels),
        "steps": int(steps),
        "seed": int(seed),
        "batch_size": int(batch_size),
        "lr": float(lr),
        "warmup": int(warmup),
        "weight_decay": float(weight_decay),
        "n_layer": int(n_layer),
        "d_model": int(d_model),
        "n_head": int(n_head),
        "max_positions": int(max_positions),
        "instruction": instruction,
    }
    if dataset != "arithmetic":  # absent for arithmetic, so that the earlier warm starts keep their cache
        if dataset not in WARM_START_DATASETS:
            raise ValueError(f"a warm start trains on {sorted(WARM_START_DATASETS)}, not {dataset!r}")
        settings["dataset"] = dataset
    if distinct:  # absent when False, for the same reason
        settings["distinct"] = True
    out = Path(out_dir) if out_dir is not None else cache_dir() / f"testbed-{settings_hash(settings)}"
    if is_warm_started(out):
        saved = warm_start_info(out).get("settings")
        if saved != settings:
            warnings.warn(
                f"{out} holds a warm start with other settings ({saved}); using it as it is", stacklevel=2
            )
        return out
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got {steps} and {batch_size}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not a finished warm start; pass an empty or new folder")
    threads_before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _train(out, settings, progress)
    finally:
        torch.set_num_threads(threads_before)


def _train(out: Path, settings: dict[str, Any], progress: bool) -> Path:
    begin = time.perf_counter()
    s = settings
    steps, seed, batch_size, lr, warmup = (
        s["steps"],
        s["seed"],
        s["batch_size"],
        s["lr"],
        s["warmup"],
    )
    max_positions = s["max_positions"]
    tokenizer = char_tokenizer(max_positions)
    model = tiny_model(
        tokenizer,
        n_layer=s["n_layer"],
        d_model=s["d_model"],
        n_head=s["n_head"],
        max_positions=max_positions,
        seed=seed,
    )
    module = WARM_START_DATASETS[s.get("dataset", "arithmetic")][0]
    questions = module.generate(steps * batch_size, **training_draws(s))
    examples = _examples(tokenizer, questions, s["instruction"])
    longest = max(len(p) + len(a) for p, a in examples)
    if longest > max_positions:
        raise ValueError(f"a training sequence has {longest} tokens, more than max_positions={max_positions}")
    order = np.random.default_rng(seed).permutation(len(examples))  # mix the levels within each batch

    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": s["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        betas=(0.9, 0.98),
    )

    def lr_at(step: int) -> float:
        if step < warmup:
            return lr * (step + 1) / warmup
        frac = (step - warmup) / max(1, steps - warmup)
        return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))

    losses: list[float] = []
    model.train()
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # a bar on a terminal; in a log file its refreshes pile up into one line of \r (239,000 characters for
        # `make run`), so there a line every tenth of the steps instead
        on_terminal = progress and sys.stderr.isatty()
        bar = tqdm(range(steps), desc="warm start", disable=not on_terminal, dynamic_ncols=True)
        every = max(1, steps // 10)
        for step in bar:
            rows = order[step * batch_size : (step + 1) * batch_size]
            batch = _batch([examples[i] for i in rows], tokenizer.pad_token_id)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            loss = model(**batch).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            if step % 10 == 0 or step == steps - 1:
                bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4f}")
            if progress and not on_terminal and ((step + 1) % every == 0 or step == steps - 1):
                print(
                    f"warm start: step {step + 1}/{steps}  loss {np.mean(losses[-10:]):.4f}  "
                    f"{time.perf_counter() - start:.0f} s",
                    flush=True,
                )
        bar.close()
    wall = time.perf_counter() - start
    model.eval()

    meta = {
        "settings": settings,
        "version": _VERSION,
        "parameters": sum(p.numel() for p in model.parameters()),
        "wall_seconds": round(wall, 2),
        "total_seconds": round(time.perf_counter() - begin, 2),
        "threads": torch.get_num_threads(),
        "loss_first": float(np.mean(losses[:10])),
        "loss_last": float(np.mean(losses[-10:])),
        "losses": [round(x, 5) for x in losses],
    }
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")  # written aside, then renamed: no half-saved model
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with quiet_transformers():  # its "Writing model shards" bar, \r-refreshed in a log file too
        model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / METADATA).write_text(json.dumps(meta, indent=1))
    if out.exists():
        out.rmdir()  # empty (checked before training)
    tmp.rename(out)
    return out


def training_draws(settings: dict[str, Any]) -> dict[str, Any]:
    """How a warm start with these saved `settings` drew its questions (the generator's keyword arguments),
    so that a measurement can regenerate exactly the texts it saw."""
    split = WARM_START_DATASETS[settings.get("dataset", "arithmetic")][1]
    draws = {"seed": settings["seed"], "levels": list(settings["levels"]), "split": split}
    return {**draws, "distinct": True} if settings.get("distinct") else draws


def warm_start_info(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata a warm start saved beside the model (settings, losses, wall time, parameter count)."""
    return json.loads((Path(path) / METADATA).read_text())


def warm_start_instruction(path: str | os.PathLike) -> str:
    """The prompt instruction a warm start trained with: RL and evaluation must use the same one."""
    return warm_start_info(path)["settings"].get("instruction", DEFAULT_INSTRUCTION)

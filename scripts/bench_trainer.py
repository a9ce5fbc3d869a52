"""One GRPO step: our trainer vs TRL's GRPOTrainer vs the raw ceiling, on the same model, prompts and work.

    python scripts/bench_trainer.py                         # tiny and smollm2, 3 interleaved runs each; prints
    python scripts/bench_trainer.py --models tiny --repeats 5
    python scripts/bench_trainer.py --write                 # also writes the table into docs/benchmarks.md
    python scripts/bench_trainer.py --models smollm2 --impls ours trl raw trl-defaults --busy 1 --write
                                                            # under load, on purpose (its own section)
    python scripts/bench_trainer.py --models smollm2 --impls ours trl raw ours-bf16 --repeats 2 \
        --section trainer-bf16 --write                      # our step under bf16 autocast on this CPU

The work of one step: 8 arithmetic questions x 4 attempts, exactly 64 new tokens each (EOS is suppressed with
`min_new_tokens`, so every implementation generates and trains on the same number of tokens), one optimiser
step over micro-batches of 8, KL coefficient 1e-4 to a frozen reference (our default; TRL's `beta`), fp32
on the CPU. Implementations:

- `ours`: `agents.trainer.Trainer.step_once` (curriculum request, generation, scoring through the env,
  advantages, reference log-probs, loss, AdamW step);
- `trl`: TRL 1.16 `GRPOTrainer`, 8 prompts x `num_generations=4` generated at once, `gradient_accumulation_steps=4`
  of 8 sequences, timed from its `on_step_begin` to its `on_step_end` callback; `bf16=False` and
  `gradient_checkpointing=False` (TRL's defaults are True for both: bf16 autocast and a recomputed forward in
  every backward, work the other rows do not do; rows measured before this was set timed TRL with both);
- `raw`: the ceiling: one plain `model.generate` of the 32 sequences, then forward/backward of the 32 with
  the model's own cross-entropy loss in micro-batches of 8, and the AdamW step (no scoring, no reference);
- `ours-kl0`: ours with `kl_coef=0`, so no reference model and no reference forward: what the KL term costs;
- `trl-defaults` (only with `--impls`): TRL as its GRPOConfig defaults it on this CPU (bf16 autocast, gradient
  checkpointing), the setting of the rows measured before 2026-12-05;
- `ours-bf16` (only with `--impls`): ours with `precision="bf16-mixed"` (forward passes under bf16 autocast,
  fp32 weights and optimiser), what TRL's bf16 default does for its step.

`--busy N` keeps N cores busy with spinning processes while measuring: how much each implementation suffers
from load (the rows measured on 2026-12-04 shared the two cores with other jobs).

Each run is a fresh process (`--one IMPL MODEL`) that takes one warm-up step, then times one step, and reports
its peak resident memory (the whole process: model, optimiser, reference). Runs are interleaved (every
implementation once per round, the order rotating) so that load from other work on the machine falls on all
of them alike; the table gives min and median seconds and the median's ratio to the raw ceiling and to TRL.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from agents.cli.args import exit_on_user_error  # noqa: E402  (after the path set-up above)
from mathenv.errors import UserError  # noqa: E402  (after the path set-up above)

os.environ.setdefault(
    "OMP_WAIT_POLICY", "PASSIVE"
)  # see scripts/warm_start.py: spinning threads crawl on busy cores

IMPLS = ("ours", "trl", "raw", "ours-kl0")
EXTRA_IMPLS = (
    "trl-defaults",
    "ours-bf16",
)  # on request (--impls): TRL with its own defaults; ours under bf16
QUESTIONS, ATTEMPTS, NEW_TOKENS, MICRO_BATCH, KL, LR = 8, 4, 64, 8, 1e-4, 1e-5


def _questions():
    from mathenv import load_questions

    return load_questions("arithmetic", num_questions=QUESTIONS, levels=[1, 2, 3])


def _load(model: str):
    from agents.models.policy import load_policy

    policy, tokenizer = load_policy(model, device="cpu", seed=0)
    policy.generation_config.min_new_tokens = NEW_TOKENS  # every attempt exactly NEW_TOKENS long
    return policy, tokenizer


def step_ours(model: str, out: str, kl_coef: float = KL, precision: str = "auto") -> dict[str, Any]:
    from agents.algos.grpo import GRPOConfig
    from agents.trainer import Trainer

    config = GRPOConfig(
        model=model,
        levels=[1, 2, 3],
        num_questions=QUESTIONS,
        questions_per_step=QUESTIONS,
        attempts_per_question=ATTEMPTS,
        max_new_tokens=NEW_TOKENS,
        micro_batch_size=MICRO_BATCH,
        generation_batch_size=QUESTIONS * ATTEMPTS,
        kl_coef=kl_coef,
        learning_rate=LR,
        truncated_reward=None,
        eval_questions=0,
        checkpoint_every=0,
        tensorboard=False,
        plot=False,
        progress=False,
        out=out,
        device="cpu",
        precision=precision,
    )
    trainer = Trainer(config)
    trainer.policy.generation_config.min_new_tokens = NEW_TOKENS
    trainer.step_once()  # warm-up
    start = time.perf_counter()
    record = trainer.step_once()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "generation": record["time/generation"],
        "scoring": record["time/scoring"],
        "learning": record["time/learning"],
        "response_tokens": record["train/response_tokens"],
    }


def step_trl(model: str, out: str, defaults: bool = False) -> dict[str, Any]:
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from mathenv.export import grpo_dataset
    from mathenv.rewards import mathenv_reward

    policy, tokenizer = _load(model)
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - self.start)

    args = GRPOConfig(
        output_dir=out,
        per_device_train_batch_size=MICRO_BATCH,
        gradient_accumulation_steps=QUESTIONS * ATTEMPTS // MICRO_BATCH,
        num_generations=ATTEMPTS,
        max_completion_length=NEW_TOKENS,
        max_steps=2,
        learning_rate=LR,
        beta=KL,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        generation_kwargs={"min_new_tokens": NEW_TOKENS},
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        seed=0,
        dataloader_num_workers=0,
        # equal work: TRL's GRPOConfig defaults to bf16 autocast and gradient checkpointing (an extra
        # forward in every backward); ours and raw run fp32 without checkpointing on the CPU
        **({} if defaults else {"bf16": False, "gradient_checkpointing": False}),
    )
    trainer = GRPOTrainer(
        model=policy,
        reward_funcs=mathenv_reward,
        args=args,
        processing_class=tokenizer,
        train_dataset=grpo_dataset(_questions()),
        callbacks=[Clock()],
    )
    trainer.train()
    assert len(times) == 2, times
    return {"seconds": times[1]}


def step_raw(model: str, out: str) -> dict[str, Any]:
    import torch

    from agents.core.algorithm import pack
    from agents.generation import HFGenerator, SamplingConfig
    from agents.models.hf import prompt_ids
    from mathenv.env import format_prompt

    policy, tokenizer = _load(model)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=LR)
    prompts = [
        prompt_ids(tokenizer, format_prompt(q.question)) for q in _questions() for _ in range(ATTEMPTS)
    ]
    generator = HFGenerator(policy, tokenizer, SamplingConfig(NEW_TOKENS, 1.0, 1.0, len(prompts)))

    def step() -> None:
        responses = generator.generate(prompts)
        t = pack(prompts, responses, tokenizer.pad_token_id)
        labels = t["input_ids"].masked_fill(t["response_mask"] == 0, -100)
        policy.train()
        optimizer.zero_grad(set_to_none=True)
        for s in range(0, len(prompts), MICRO_BATCH):
            rows = slice(s, s + MICRO_BATCH)
            loss = policy(
                input_ids=t["input_ids"][rows], attention_mask=t["attention_mask"][rows], labels=labels[rows]
            ).loss
            (loss * MICRO_BATCH / len(prompts)).backward()
        optimizer.step()

    step()  # warm-up
    start = time.perf_counter()
    step()
    return {"seconds": time.perf_counter() - start}


def one(impl: str, model: str, threads: int | None) -> dict[str, Any]:
    """Time one step of `impl` on `model` in this process."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as out:
        steps = {
            "ours": step_ours,
            "trl": step_trl,
            "raw": step_raw,
            "ours-kl0": lambda m, o: step_ours(m, o, kl_coef=0.0),
            "trl-defaults": lambda m, o: step_trl(m, o, defaults=True),
            "ours-bf16": lambda m, o: step_ours(m, o, precision="bf16-mixed"),
        }
        result = steps[impl](model, out)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    result["threads"] = torch.get_num_threads()
    return result


def saved_tiny(folder: Path) -> str:
    """The `tiny` model saved as a folder: TRL builds its reference model from the policy's name_or_path."""
    from agents.models.policy import load_policy

    policy, tokenizer = load_policy("tiny", device="cpu", seed=0)
    policy.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def measure(
    models: list[str], impls: list[str], repeats: int, threads: int | None, tmp: Path
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every (model, implementation) `repeats` times in fresh processes, interleaved with a rotating order."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {(m, i): [] for m in models for i in impls}
    sources = {m: saved_tiny(tmp / "tiny") if m == "tiny" else m for m in models}
    for r in range(repeats):
        for model in models:
            order = impls[r % len(impls) :] + impls[: r % len(impls)]
            for impl in order:
                cmd = [sys.executable, __file__, "--one", impl, sources[model]]
                if threads:
                    cmd += ["--threads", str(threads)]
                done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                if done.returncode != 0:
                    raise SystemExit(f"{impl} on {model} failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                runs[(model, impl)].append(result)
                print(
                    f"round {r + 1}/{repeats} {model:8} {impl:8} {result['seconds']:7.2f} s  "
                    f"peak RSS {result['peak_rss_mb']:6.0f} MB",
                    flush=True,
                )
    return runs


def table(runs: dict[tuple[str, str], list[dict[str, Any]]]) -> str:
    from _benchtable import markdown_table

    rows = []
    for (model, impl), results in runs.items():
        secs = [x["seconds"] for x in results]
        med = statistics.median(secs)
        raw = statistics.median(x["seconds"] for x in runs[(model, "raw")])
        trl = statistics.median(x["seconds"] for x in runs[(model, "trl")])
        split = ""
        if impl.startswith("ours"):
            split = " / ".join(
                f"{statistics.median(x[k] for x in results):.2f}"
                for k in ("generation", "scoring", "learning")
            )
        rows.append(
            [
                model,
                impl,
                len(secs),
                f"{min(secs):.2f}",
                f"{med:.2f}",
                f"{med / raw:.2f}x",
                f"{med / trl:.2f}x",
                split,
                f"{statistics.median(x['peak_rss_mb'] for x in results):.0f}",
            ]
        )
    return markdown_table(
        [
            "model",
            "implementation",
            "runs",
            "min s",
            "median s",
            "vs raw",
            "vs TRL",
            "generation / scoring / learning s (median)",
            "peak RSS MB (median)",
        ],
        rows,
    )


def busy_loop() -> None:
    """A process that keeps one core busy: the load under which earlier tables were measured, on purpose."""
    while True:
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["tiny", "smollm2"])
    ap.add_argument(
        "--impls",
        nargs="+",
        default=list(IMPLS),
        choices=IMPLS + EXTRA_IMPLS,
        help="implementations to time; trl-defaults is TRL with its own bf16 and gradient checkpointing",
    )
    ap.add_argument(
        "--busy",
        type=int,
        default=0,
        help="processes that keep a core busy while measuring (how sensitive each row is to load)",
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--section",
        default="trainer",
        help="the section of docs/benchmarks.md that --write replaces (with --busy N: NAME-busyN)",
    )
    ap.add_argument("--threads", type=int, default=None, help="torch threads per run (default: torch's)")
    ap.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    ap.add_argument("--one", nargs=2, metavar=("IMPL", "MODEL"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(one(a.one[0], a.one[1], a.threads)))
        return 0
    if "raw" not in a.impls or "trl" not in a.impls:
        raise UserError("--impls needs raw and trl among them: the table's ratios are to those two")
    import multiprocessing

    hogs = [multiprocessing.Process(target=busy_loop, daemon=True) for _ in range(a.busy)]
    for hog in hogs:
        hog.start()
    load_before = os.getloadavg()
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = measure(a.models, a.impls, a.repeats, a.threads, Path(tmp))
    finally:
        for hog in hogs:
            hog.terminate()
    load_after = os.getloadavg()
    from _benchtable import command_line, machine_line

    command = command_line(__file__, argv)
    loaded = (
        f", with {a.busy} busy-loop process(es) keeping cores busy on purpose"
        if a.busy
        else "; runs interleaved, so load from other work falls on every row alike: compare the ratios"
    )
    heading = "Trainer step: ours vs TRL GRPOTrainer vs the raw ceiling" + (
        f", {a.busy} core(s) kept busy" if a.busy else ""
    )
    body = (
        f"## {heading}\n\nWritten by `{command.strip()}` on "
        f"{machine_line()}; load average {load_before[0]:.1f} before and {load_after[0]:.1f} after "
        f"({(time.perf_counter() - start) / 60:.0f} min){loaded}. One GRPO step: {QUESTIONS} questions x "
        f"{ATTEMPTS} attempts, exactly {NEW_TOKENS} new tokens each, micro-batches of {MICRO_BATCH}, one "
        f"AdamW step, KL {KL} to a frozen reference (raw: none), fp32; see the script's docstring.\n\n"
        f"{table(runs)}\n"
    )
    print(body)
    if a.write:
        from _benchtable import write_section

        write_section(f"{a.section}-busy{a.busy}" if a.busy else a.section, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_on_user_error(main))

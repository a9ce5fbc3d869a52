"""Generation speed: our HF backend (agents.generation.HFGenerator) against a plain `model.generate`, per
model and batch size, on whatever device is given.

    python scripts/bench_generation.py                              # tiny and smollm2 on the CPU; prints
    python scripts/bench_generation.py --device cuda --batch-sizes 1 16 64 256 512 --write

The work: arithmetic prompts (levels 1-3, the env's default instruction, the model's chat template), sampled
at temperature 1, exactly `--new-tokens` new tokens per sequence (EOS is suppressed with `min_new_tokens`, so
both implementations and every call generate the same number of tokens). The model is
loaded as the trainer loads it (fp32 weights; on a GPU the forward passes run under bf16 autocast, the
trainer's default `precision`). Implementations, timed alternately in one process after one warm-up call each:

- `ours`: `HFGenerator.generate` on lists of token ids (left padding, per-chunk tensors, cut at EOS);
- `raw`: one `model.generate` on the same batch already padded into tensors (the reference: what transformers
  itself costs).

Rows give the median and minimum seconds of `--repeats` calls, generated tokens per second for ours, and
ours / raw (medians). `--write` puts the table into docs/benchmarks.md under a
section named after the device kind (`generation-cpu`, `generation-cuda`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see scripts/warm_start.py


def prompts_for(tokenizer: Any, n: int) -> list[list[int]]:
    """`n` arithmetic prompts (levels 1-3) as the trainer builds them."""
    import gymnasium as gym

    import mathenv  # noqa: F401
    from agents.models.hf import prompt_ids

    env = gym.make("MathReasoning-v0", levels=[1, 2, 3], num_questions=max(n, 16)).unwrapped
    return [prompt_ids(tokenizer, env.prompt(i % env.num_questions)) for i in range(n)]


def _timed(fn: Any, cuda: bool) -> tuple[float, Any]:
    import torch

    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def bench_batch(policy: Any, tokenizer: Any, device: str, batch: int, new_tokens: int, repeats: int) -> dict:
    """Ours and raw on one batch of `batch` prompts, alternately, after one warm-up call each."""
    import torch

    from agents.generation import HFGenerator, SamplingConfig

    cuda = device.startswith("cuda")
    prompts = prompts_for(tokenizer, batch)
    ours = HFGenerator(policy, tokenizer, SamplingConfig(new_tokens, 1.0, 1.0, batch_size=batch))
    width = max(len(p) for p in prompts)
    ids = torch.full((batch, width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((batch, width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(p)
        mask[i, width - len(p) :] = 1
    ids, mask = ids.to(device), mask.to(device)

    @torch.no_grad()
    def raw() -> Any:
        return policy.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            max_new_tokens=new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=sorted(ours.eos),
        )

    def mine() -> list[list[int]]:
        return ours.generate(prompts)

    times: dict[str, list[float]] = {"ours": [], "raw": []}
    tokens = []
    autocast = torch.autocast(device_type="cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext()
    with autocast:
        _timed(mine, cuda)  # warm-up: kernels, caches, allocator
        _timed(raw, cuda)
        for _ in range(repeats):
            t, out = _timed(mine, cuda)
            times["ours"].append(t)
            tokens.append(sum(len(r) for r in out))
            times["raw"].append(_timed(raw, cuda)[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "batch": batch,
        "ours_median": med["ours"],
        "ours_min": min(times["ours"]),
        "raw_median": med["raw"],
        "raw_min": min(times["raw"]),
        "tokens_per_s": statistics.median(tokens) / med["ours"],
        "ratio": med["ours"] / med["raw"],
    }


def bench_model(name: str, device: str, batch_sizes: list[int], new_tokens: int, repeats: int) -> list[dict]:
    """Load `name` as the trainer does (fp32 weights) and time every batch size."""
    import torch

    from agents.models.policy import load_policy

    policy, tokenizer = load_policy(name, device=device, dtype=torch.float32, gradient_checkpointing=False)
    policy.eval()
    policy.generation_config.min_new_tokens = new_tokens  # EOS suppressed: every call does the same work
    rows = []
    for batch in batch_sizes:
        row = {"model": name, **bench_batch(policy, tokenizer, device, batch, new_tokens, repeats)}
        rows.append(row)
        print(
            f"{name} batch {batch}: ours {row['ours_median']:.3f} s, raw {row['raw_median']:.3f} s, "
            f"{row['tokens_per_s']:,.0f} tokens/s",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--models", nargs="+", default=["tiny", "smollm2"], help="short names, hub names or folders"
    )
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[1, 16, 64], help="sequences per generate call"
    )
    ap.add_argument(
        "--new-tokens", type=int, default=64, help="most new tokens per sequence (the trainer's default)"
    )
    ap.add_argument(
        "--repeats", type=int, default=3, help="timed calls per implementation (after one warm-up)"
    )
    ap.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = ap.parse_args(argv)

    import torch
    from _benchtable import command_line, machine_line, markdown_table, write_section

    torch.manual_seed(0)
    rows = [
        r
        for m in args.models
        for r in bench_model(m, args.device, args.batch_sizes, args.new_tokens, args.repeats)
    ]
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    precision = "fp32 weights, bf16 autocast" if args.device.startswith("cuda") else "fp32"
    headers = [
        "model",
        "sequences per call",
        "ours: median s (min)",
        "raw generate: median s (min)",
        "ours / raw",
        "tokens/s (ours)",
    ]
    table = markdown_table(
        headers,
        [
            [
                r["model"],
                r["batch"],
                f"{r['ours_median']:.3f} ({r['ours_min']:.3f})",
                f"{r['raw_median']:.3f} ({r['raw_min']:.3f})",
                f"{r['ratio']:.2f}",
                f"{r['tokens_per_s']:,.0f}",
            ]
            for r in rows
        ],
    )
    command = command_line(__file__, argv)
    body = (
        f"## Generation ({where}): our HF backend vs plain `generate`\n\nWritten by `{command.strip()}` on "
        f"{machine_line()}, device {where}, {precision}; exactly {args.new_tokens} new tokens per sequence at "
        f"temperature 1, "
        f"arithmetic prompts (levels 1-3, default instruction), median of {args.repeats} calls after a warm-up. "
        f"`tiny` is the randomly initialised character model, `smollm2` "
        f"SmolLM2-135M-Instruct.\n\n{table}\n"
    )
    print(body)
    if args.write:
        write_section(f"generation-{torch.device(args.device).type}", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""GPU check of verl v1 with a curriculum: a few steps of recipes/verl_v1_sync.sh (or the async recipe) on a
0.5B model, learnability against the uniform baseline, with timings and the curriculum's refreshes printed.

    python scripts/gpu_check_verl.py                      # Qwen2.5-0.5B-Instruct, vLLM, sync, 6 steps per arm
    python scripts/gpu_check_verl.py --mode async --write # colocate_async; the table into docs/benchmarks.md

Needs one GPU with verl[vllm] 0.9.1 installed (docs/verl.md, "Install") and the model on the hub or in a local
folder (`--model /path`). verl v1's rollout is a server from its replica registry (vLLM, SGLang, TensorRT-LLM):
transformers' HF rollout is not one of them, so `--rollout` picks among those. The GSM8K parquet files are
prepared from the shared JSONL files when `--data` has none. Each arm's output goes to
`<out>/<arm>.log`; the check fails (exit 1) when a run fails or learnability did not refresh its buffer at
least twice (`curriculum/probe_attempts` growing), i.e. probes were issued, answered and reported.
Not run yet: no GPU was lent to the work that wrote it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RECIPES = {"sync": ROOT / "recipes" / "verl_v1_sync.sh", "async": ROOT / "recipes" / "verl_v1_async.sh"}
#: metrics per step shown in the table (verl's timing_s/* and the curriculum's diagnostics)
SHOWN = ("timing_s/step", "timing_s/gen", "timing_s/update_actor", "curriculum/probe_attempts")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--model", default="Qwen/Qwen2.5-0.5B-Instruct", help="hub name or local folder")
    p.add_argument(
        "--mode", choices=sorted(RECIPES), default="sync", help="which recipe: sync or colocate_async"
    )
    p.add_argument("--rollout", choices=("vllm", "sglang"), default="vllm", help="verl v1's rollout server")
    p.add_argument("--steps", type=int, default=6, help="training steps per arm")
    p.add_argument("--batch", type=int, default=16, help="questions per step (data.train_batch_size)")
    p.add_argument(
        "--refresh-every", type=int, default=3, help="learnability's T (iterations between refreshes)"
    )
    p.add_argument("--data", type=Path, default=ROOT / "runs" / "gpu_check" / "gsm8k", help="parquet folder")
    p.add_argument(
        "--jsonl", type=Path, default=ROOT.parent / "shared" / "data" / "gsm8k", help="GSM8K JSONL"
    )
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu_check", help="logs and checkpoints")
    p.add_argument("--arms", default="learnability,uniform", help="curricula to run, comma-separated")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    return p.parse_args(argv)


def arm_command(args: argparse.Namespace, arm: str) -> tuple[list[str], dict[str, str]]:
    """The recipe's command line and environment for one arm, shrunk to a few small steps."""
    overrides = [
        f"actor_rollout_ref.rollout.name={args.rollout}",
        f"data.train_batch_size={args.batch}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={args.batch // 2}",
        "data.max_response_length=256",
        f"trainer.total_training_steps={args.steps}",
        "trainer.save_freq=-1",
        "trainer.test_freq=-1",
        "trainer.val_before_train=False",
        f"trainer.experiment_name=gpu_check_{args.mode}_{arm}",
    ]
    if arm == "learnability":  # N = 4 x batch candidates, K = batch: a refresh every T steps, cheap
        overrides += [
            f"+curriculum.refresh_every={args.refresh_every}",
            f"+curriculum.num_candidates={4 * args.batch}",
            f"+curriculum.buffer_size={args.batch}",
        ]
    env = {
        "MODEL": args.model,
        "DATA": str(args.data),
        "CURRICULUM": arm,
        "OUT": str(args.out / f"ckpt_{arm}"),
    }
    return ["bash", str(RECIPES[args.mode]), *overrides], env


def read_steps(lines) -> list[dict[str, float]]:
    """verl's console logger lines (`step:N - key:value - ...`) as one dict per step."""
    steps = []
    for line in lines:
        if not line.startswith("step:"):
            continue
        row = {}
        for part in line.strip().split(" - "):
            key, _, value = part.rpartition(":")
            try:
                row[key] = float(value)
            except ValueError:
                continue
        steps.append(row)
    return steps


def refreshes(steps: list[dict[str, float]]) -> int:
    """How many times the probe attempts grew: buffer refreshes reported to the curriculum."""
    seen, count = 0.0, 0
    for row in steps:
        now = row.get("curriculum/probe_attempts", seen)
        count += now > seen
        seen = now
    return count


def prepare_data(args: argparse.Namespace) -> None:
    if (args.data / "train.parquet").exists():
        return
    cmd = [sys.executable, "-m", "integrations.verl.main", "prepare", "gsm8k", "--out", str(args.data)]
    cmd += ["--train-path", str(args.jsonl / "train.jsonl"), "--test-path", str(args.jsonl / "test.jsonl")]
    subprocess.run(cmd, check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    import os

    args = parse_args(argv)
    arms = [a for a in args.arms.split(",") if a]
    if args.dry_run:
        for arm in arms:
            cmd, env = arm_command(args, arm)
            print(" ".join(f"{k}={v}" for k, v in env.items()), " ".join(cmd))
        return 0
    prepare_data(args)
    args.out.mkdir(parents=True, exist_ok=True)
    results, ok = {}, True
    for arm in arms:
        cmd, env = arm_command(args, arm)
        log = args.out / f"{arm}.log"
        start = time.perf_counter()
        with open(log, "w") as f:
            done = subprocess.run(
                cmd, cwd=ROOT, env={**os.environ, **env}, stdout=f, stderr=subprocess.STDOUT
            )
        wall = time.perf_counter() - start
        steps = read_steps(log.read_text().splitlines())
        results[arm] = (steps, wall)
        if done.returncode != 0 or len(steps) < args.steps:
            print(f"{arm}: the run failed (exit {done.returncode}, {len(steps)} steps logged); see {log}")
            ok = False
        if arm == "learnability" and refreshes(steps) < 2:
            print(
                f"learnability refreshed its buffer {refreshes(steps)} times in {len(steps)} steps (want >= 2)"
            )
            ok = False
    from _benchtable import command_line, machine_line, markdown_table, write_section

    rows = []
    base = None
    for arm, (steps, wall) in results.items():
        later = steps[1:] or steps  # the first step pays for compilation and warm-up
        mean = {k: sum(r.get(k, 0.0) for r in later) / max(len(later), 1) for k in SHOWN}
        base = base or mean["timing_s/step"]
        rows.append(
            [arm, len(steps), f"{wall:.0f}"]
            + [f"{mean[k]:.2f}" for k in SHOWN[:3]]
            + [f"{mean['timing_s/step'] / base:.2f}" if base else "-", refreshes(steps)]
        )
    head = ["curriculum", "steps", "wall s", "step s", "gen s", "update s", "step / first arm", "refreshes"]
    table = markdown_table(head, rows)
    print(table)
    if args.write:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
        body = f"`{command_line(__file__)}`\n\n{machine_line()}, {gpu}\n\n{table}\n"
        write_section("gpu-check-verl", body)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

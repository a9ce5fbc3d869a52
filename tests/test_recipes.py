"""recipes/: the TRL script run as a user runs it (one process, and `accelerate launch` with 2 CPU processes)
on a tiny random model saved to disk, with the curriculum's state compared across processes and resumes."""

import importlib.util
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "trl_grpo.py"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("trl") is None, reason="trl not installed")

# the curriculum learns from a simulated learner (the tiny model's completions are noise): success
# probability by question id % 3, drawn per process from (step, process): the same on a resume
LEARNER = """
import numpy as np


def known_learner(prompts, completions, question_id, trainer_state, **kwargs):
    import torch.distributed as dist
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    rng = np.random.default_rng([trainer_state.global_step, rank, 3])
    p = np.array([(0.0, 0.5, 1.0)[q % 3] for q in question_id])
    return (rng.random(len(p)) < p).astype(float).tolist()
"""
POOL, B, G = 48, 4, 4
OPTIONS = '{"refresh_every": 3, "num_candidates": 8, "buffer_size": 4, "probe_attempts": 4}'


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A 1-layer Llama and a byte-level tokenizer, saved as a user's model folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab.update({"<pad>": len(vocab), "<eos>": len(vocab) + 1})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=vocab["<pad>"],
        eos_token_id=vocab["<eos>"],
        bos_token_id=None,
    )
    folder = tmp_path_factory.mktemp("tiny")
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "learner.py").write_text(LEARNER)
    return folder


def run(tiny_dir, out, processes, *extra):
    per_device = 16 // (2 * processes)  # a generation batch: 16 completions = B prompts x G, on any count
    args = [
        f"--model_name_or_path={tiny_dir}",
        "--dataset=arithmetic",
        f"--num_questions={POOL}",
        "--conversational=False",
        "--curriculum=learnability",
        f"--curriculum_options={OPTIONS}",
        f"--reward={tiny_dir / 'learner.py'}:known_learner",
        f"--output_dir={out}",
        f"--per_device_train_batch_size={per_device}",
        "--steps_per_generation=2",
        f"--num_generations={G}",
        "--max_completion_length=6",
        "--max_steps=12",
        "--save_steps=4",
        "--learning_rate=1e-3",
        "--use_cpu",
        "--report_to=none",
        "--disable_tqdm=True",
        "--dataloader_num_workers=0",
        *extra,
    ]
    if processes == 1:
        cmd = [sys.executable, str(RECIPE), *args]
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [
            sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_machines=1",
            f"--num_processes={processes}", f"--main_process_port={port}", "--mixed_precision=no",
            "--dynamo_backend=no", str(RECIPE), *args,
        ]  # fmt: skip
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    digests = dict(re.findall(r"^curriculum state (\d+) ([0-9a-f]{64})$", done.stdout, re.M))
    assert sorted(digests) == [str(p) for p in range(processes)], done.stdout[-2000:]
    return digests


@pytest.mark.parametrize("processes", [1, 2])
def test_trl_recipe_runs_and_resumes_with_one_curriculum_state(tiny_dir, tmp_path, processes):
    import torch

    import curricula
    from agents.trl_trainer import state_digest

    straight = run(tiny_dir, tmp_path / "a", processes)
    assert len(set(straight.values())) == 1  # every process made the same choices
    state = torch.load(tmp_path / "a" / "checkpoint-12" / "curriculum.pt", weights_only=False)
    assert state_digest(state) == straight["0"]  # the saved state is the one every process ended with
    cur = curricula.make("learnability", POOL, seed=0, batch_size=B, **json.loads(OPTIONS))
    cur.load_state_dict(state["curriculum"])
    # 12 steps, 2 per generation batch of B prompts x G: probe, probe, train x 3, and the first half of
    # the next probe (held until its second half is back); every reward counted (2 processes: gathered)
    assert cur.attempts.sum() == 5 * B * G
    positive = cur.buffer[cur.buffer_learnability > 0]  # the learner solves q % 3 == 1 half the time
    assert positive.size and all(q % 3 == 1 for q in positive)

    resumed = run(
        tiny_dir, tmp_path / "b", processes, f"--resume_from_checkpoint={tmp_path / 'a' / 'checkpoint-4'}"
    )
    assert resumed == straight  # the same curriculum state after a resume, on every process

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

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("trl") is None, reason="trl not installed"),
    pytest.mark.filterwarnings("ignore:.*engine is not available:UserWarning"),  # verl's import notices
]

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
    # the processes print at once: their lines may run together
    digests = dict(re.findall(r"curriculum state (\d+) ([0-9a-f]{64})", done.stdout))
    assert sorted(digests) == [str(p) for p in range(processes)], done.stdout[-2000:]
    return digests


@pytest.mark.parametrize("processes", [1, 2])
def test_trl_recipe_runs_and_resumes_with_one_curriculum_state(tiny_dir, tmp_path, processes):
    import torch

    import curricula
    from integrations.trl.rows import state_digest

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


# ---- verl v1 recipes: every key against verl's config, and verl's own trainer built from each ----------


def recipe_overrides(name, values):
    """The Hydra overrides of recipes/<name>: its `python -m integrations.verl.main` command with the script's
    variables set to `values` (the script's `${VAR:-default}` defaults otherwise)."""
    text = (ROOT / "recipes" / name).read_text()
    defaults = dict(re.findall(r"^(\w+)=\$\{\w+:-(.*)\}$", text, re.M))
    variables = {**defaults, **values}
    command = text[text.index("python -m integrations.verl.main \\\n") : text.index('"$@"')]
    words = command.replace("\\\n", " ").split()[3:]
    for _ in range(2):  # a default may name another variable (OUT names CURRICULUM)
        words = [re.sub(r"\$(\w+)", lambda m: variables.get(m.group(1), m.group(0)), w) for w in words]
    assert not [w for w in words if "$" in w], words
    return words


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("verl_v1_sync.sh", "sync"),
        ("verl_v1_async.sh", "colocate_async"),
        ("verl_v1_separate_async.sh", "separate_async"),
    ],
)
def test_verl_recipes_validate_against_verls_config(tmp_path, data_dir, monkeypatch, name, mode):
    """Each key exists in verl 0.9.1's config (Hydra refuses an unknown one), the whole passes verl's
    validate_config, `configure_v1` wires the curriculum in, the reward entry point loads through verl and
    scores with the verifier, and verl's own v1 trainer class for the mode is built from the config (its
    constructor checks the mode's constraints and builds the curriculum's buffer)."""
    pytest.importorskip("verl")
    from hydra import compose, initialize_config_dir
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.trainer.ppo.v1 import get_trainer_cls
    from verl.utils.config import validate_config

    from integrations.verl.feed import UNBOUND
    from integrations.verl.main import configure_v1, verl_config_dir
    from mathenv import load_questions
    from mathenv.export import write_verl_parquet

    src = data_dir / "gsm8k" / "train.jsonl"
    if not src.exists():
        pytest.skip(f"{src} not found")
    write_verl_parquet(
        load_questions("gsm8k", "train", data_path=src, num_questions=1300), tmp_path / "train.parquet"
    )
    write_verl_parquet(
        load_questions("gsm8k", "train", data_path=src, num_questions=50), tmp_path / "test.parquet"
    )
    monkeypatch.chdir(ROOT)  # the scripts run from the repository root (the reward path is relative)
    words = recipe_overrides(name, {"DATA": str(tmp_path), "HOME": str(tmp_path)})
    with initialize_config_dir(config_dir=verl_config_dir(), version_base=None):
        cfg = compose("ppo_trainer", overrides=[*words, f"trainer.default_local_dir={tmp_path / 'ckpt'}"])
    assert cfg.trainer.use_v1 and cfg.trainer.v1.trainer_mode == mode
    configure_v1(cfg)
    validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    reward = get_custom_reward_fn(cfg)  # recipes/math_reward.py, loaded by path as verl does
    assert reward(data_source="x", solution_str="so \\boxed{72}", ground_truth="72")["score"] == 1.0
    assert reward(data_source="x", solution_str="71", ground_truth="72")["score"] == 0.0
    UNBOUND.clear()
    trainer = get_trainer_cls(mode)(config=cfg)  # verl's constructor: the mode's checks, our buffer
    assert type(trainer.replay_buffer).__name__ == "CurriculumReplayBuffer"
    feed = trainer.replay_buffer.bind(1300, cfg.data.train_batch_size)  # the paper's N=20 x batch
    assert (feed.curriculum.name, feed.curriculum.batch_size, feed.rollout_n) == (
        "learnability",
        cfg.data.train_batch_size,
        8,
    )
    UNBOUND.clear()


def test_gpu_check_script_commands_compose_and_its_log_reader_reads_verls_console(
    tmp_path, data_dir, monkeypatch
):
    """scripts/gpu_check_verl.py (to run on a GPU): each arm's recipe plus its overrides composes against verl's
    config and passes verl's checks, and it reads verl's own console logger lines (the timings, the
    curriculum's probe attempts) and counts learnability's refreshes from them."""
    pytest.importorskip("verl")
    sys.path.insert(0, str(ROOT / "scripts"))
    import gpu_check_verl as check
    from hydra import compose, initialize_config_dir
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config
    from verl.utils.logger.aggregate_logger import concat_dict_to_str

    from integrations.verl.main import configure_v1, verl_config_dir

    monkeypatch.chdir(ROOT)
    for mode in ("sync", "async"):
        args = check.parse_args(["--mode", mode, "--data", str(tmp_path)])
        for arm in ("learnability", "uniform"):
            cmd, env = check.arm_command(args, arm)
            words = recipe_overrides(Path(cmd[1]).name, env) + cmd[2:]
            with initialize_config_dir(config_dir=verl_config_dir(), version_base=None):
                cfg = compose("ppo_trainer", overrides=words)
            assert cfg.trainer.total_training_steps == args.steps and cfg.curriculum.name == arm
            configure_v1(cfg)
            validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    lines = [
        concat_dict_to_str({"timing_s/step": 3.5, "curriculum/probe_attempts": p, "note": "text"}, step=s)
        for s, p in ((1, 128.0), (2, 128.0), (3, 128.0), (4, 256.0))
    ]
    steps = check.read_steps(["(TaskRunner) unrelated line", *lines])
    assert [r["step"] for r in steps] == [1, 2, 3, 4] and steps[3]["timing_s/step"] == 3.5
    assert check.refreshes(steps) == 2


def test_trl_recipe_refuses_bad_options_in_one_line(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("trl_grpo_recipe", RECIPE)
    recipe = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, recipe)  # dataclasses look their module up there
    spec.loader.exec_module(recipe)
    base = [
        "trl_grpo.py",
        f"--output_dir={tmp_path}",
        "--dataset=arithmetic",
        "--num_questions=32",
        "--use_cpu",
    ]
    for extra, message in (
        (["--curriculum_options={bad"], "--curriculum_options is not JSON"),
        (["--curriculum=uniform", '--curriculum_options={"preset": "fast"}'], "uniform has no option(s)"),
        (["--reward=no_function_named"], "--reward must be file.py:name or module:name"),
    ):
        monkeypatch.setattr(sys, "argv", base + extra)
        with pytest.raises(SystemExit) as done:
            recipe.main()
        err = capsys.readouterr().err.strip().splitlines()
        assert done.value.code == 2 and len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_trl_recipe_default_reward_is_the_verifier(monkeypatch):
    spec = importlib.util.spec_from_file_location("trl_grpo_recipe", RECIPE)
    recipe = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, recipe)
    spec.loader.exec_module(recipe)
    reward = recipe.load_function(recipe.RecipeArguments().reward)  # recipes/math_reward.py:trl_reward
    completions = ["so \\boxed{72}", [{"role": "assistant", "content": "#### 71"}], "no idea"]
    assert reward(prompts=[""] * 3, completions=completions, answer=["72"] * 3) == [1.0, 0.0, 0.0]

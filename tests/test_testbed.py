"""The fast testbed: character tokenizer, tiny model, cached warm start, per-level evaluation (agents.models.tiny,
agents.models.warm_start, agents.eval_policy)."""

from __future__ import annotations

import string

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from agents.eval_policy import evaluate_policy, format_table  # noqa: E402
from agents.generation import HFGenerator, SamplingConfig  # noqa: E402
from agents.models.hf import prompt_ids  # noqa: E402
from agents.models.tiny import char_tokenizer, tiny_model  # noqa: E402
from agents.models.warm_start import warm_start, warm_start_info, warm_start_instruction  # noqa: E402
from mathenv.arithmetic import generate  # noqa: E402
from mathenv.env import MathReasoningEnv  # noqa: E402

TEXTS = [
    "What is (12 + 7) * 5?\nPlease reason step by step, and put your final answer within \\boxed{}.",
    "12 + 7 = 19\n19 * 5 = 95\nThe answer is \\boxed{95}.",
    string.printable,
    "  two  spaces , and a tab\there ",
    "",
]


@pytest.fixture(scope="module")
def tokenizer():
    return char_tokenizer()


@pytest.mark.parametrize("text", TEXTS)
def test_round_trip(tokenizer, text):
    ids = tokenizer.encode(text)
    assert len(ids) == len(text)  # one token per character, nothing added
    assert tokenizer.decode(ids) == text


def test_special_tokens(tokenizer):
    assert (tokenizer.pad_token, tokenizer.bos_token, tokenizer.eos_token) == ("<pad>", "<bos>", "<eos>")
    assert len({tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id}) == 3
    assert tokenizer.padding_side == "left"
    assert tokenizer("<bos>1<eos>", add_special_tokens=False)["input_ids"] == [
        tokenizer.bos_token_id,
        tokenizer.convert_tokens_to_ids("1"),
        tokenizer.eos_token_id,
    ]
    assert tokenizer.decode(tokenizer.encode("é")) == "<unk>"
    assert len(tokenizer) == 4 + len(set(string.printable))


def test_save_load(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    loaded = transformers.AutoTokenizer.from_pretrained(tmp_path)
    for text in TEXTS:
        assert loaded.encode(text) == tokenizer.encode(text)
        assert loaded.decode(loaded.encode(text)) == text
    assert loaded.chat_template == tokenizer.chat_template
    assert loaded.padding_side == "left"
    assert (loaded.pad_token_id, loaded.bos_token_id, loaded.eos_token_id) == (
        tokenizer.pad_token_id,
        tokenizer.bos_token_id,
        tokenizer.eos_token_id,
    )


def test_chat_template(tokenizer):
    env = MathReasoningEnv(questions=generate(1, levels=[3]))
    obs, _ = env.reset(options={"question_id": 0})
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": obs}], add_generation_prompt=True, tokenize=False
    )
    assert text == f"<bos>Q: {obs}\nA: "
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and len(ids) == len(text) - len("<bos>") + 1
    turns = [
        {"role": "user", "content": "1+1?"},
        {"role": "assistant", "content": "2"},
        {"role": "user", "content": "again"},
    ]
    assert tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False) == (
        "<bos>Q: 1+1?\nA: 2<eos>\nQ: again\nA: "
    )


def test_tiny_model_generates(tokenizer):
    model = tiny_model(tokenizer, n_layer=1, d_model=32, n_head=2, seed=3)
    assert model.config.vocab_size == len(tokenizer)
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    same = tiny_model(tokenizer, n_layer=1, d_model=32, n_head=2, seed=3)
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), same.state_dict().values(), strict=True)
    )
    prompts = ["<bos>Q: What is 1 + 2?\nA: ", "<bos>Q: hi\nA: "]
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    assert batch["attention_mask"][1, 0] == 0  # left padding
    out = model.generate(**batch, max_new_tokens=6, do_sample=True, top_k=0)
    assert out.shape[0] == 2 and 0 < out.shape[1] - batch["input_ids"].shape[1] <= 6


def test_evaluate_policy_by_level(tokenizer):
    model = tiny_model(tokenizer, n_layer=1, d_model=32, n_head=2)
    questions = generate(4, levels=[1, 2])
    env = MathReasoningEnv(questions=questions, instruction="")
    gen = HFGenerator(model, tokenizer, SamplingConfig(max_new_tokens=4))
    prompts = [prompt_ids(tokenizer, env.prompt(i)) for i in range(4)]
    result = evaluate_policy(
        lambda p, greedy: gen.generate(p, greedy=greedy),
        tokenizer.decode,
        env,
        range(4),
        prompts,
        samples=2,
        seed=0,
    )
    assert set(result["per_level"]) == {1, 2}
    assert len(result["p"]) == 4
    for r in [result, *result["per_level"].values()]:
        assert r["p0"] + r["p1"] + r["mid"] == pytest.approx(1.0)
        assert 0.0 <= r["mean@k"] <= 1.0 and 0.0 <= r["pass@1"] <= 1.0
    assert "| all | 4 |" in format_table(result)
    # a seed samples from a forked stream: the same answers again, and the caller's stream untouched
    before = torch.get_rng_state()
    again = evaluate_policy(
        lambda p, greedy: gen.generate(p, greedy=greedy),
        tokenizer.decode,
        env,
        range(4),
        prompts,
        samples=2,
        seed=0,
    )
    assert again["p"] == result["p"] and torch.equal(torch.get_rng_state(), before)


def test_warm_start_trains_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("MATHENV_CACHE", str(tmp_path / "cache"))
    settings = dict(
        levels=[1, 2],
        steps=40,
        batch_size=16,
        lr=1e-2,
        warmup=5,
        n_layer=1,
        d_model=32,
        n_head=2,
        progress=False,
        threads=None,
    )
    path = warm_start(**settings)
    assert path.parent == tmp_path / "cache" and path.name.startswith("testbed-")
    info = warm_start_info(path)
    assert info["loss_last"] < 0.7 * info["loss_first"]
    assert warm_start_instruction(path) == "" == info["settings"]["instruction"]  # the bare question
    model = transformers.AutoModelForCausalLM.from_pretrained(path)
    tok = transformers.AutoTokenizer.from_pretrained(path)
    assert model.config.vocab_size == len(tok) and tok.chat_template
    stamp = (path / "warm_start.json").stat().st_mtime_ns
    assert warm_start(**settings) == path  # cached: no second training
    assert (path / "warm_start.json").stat().st_mtime_ns == stamp
    assert warm_start(**{**settings, "steps": 2}) != path  # other settings, other folder
    explicit = warm_start(tmp_path / "mine", **{**settings, "steps": 2})
    assert explicit == tmp_path / "mine" and (explicit / "config.json").exists()
    with pytest.warns(UserWarning, match="other settings"):
        assert warm_start(explicit, **{**settings, "steps": 3}) == explicit
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        warm_start(tmp_path / "busy", **settings)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "keep me"

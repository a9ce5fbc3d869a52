"""The `tiny` policy: a character-level tokenizer and a small Llama-style causal LM built from scratch.

`--model tiny` trains it from random weights (smoke runs, tests); the testbed trains it first on arithmetic
with worked solutions (agents.models.warm_start). One token per printable ASCII character keeps the vocabulary at
104 and needs no download.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded where a model is built: importing this module stays light
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)
#: Every printable ASCII character (letters, digits, punctuation, space, tab, newline, ...), one token each.
CHARS = tuple(dict.fromkeys(string.printable))

#: "<bos>Q: {question and instruction}\nA: " then the answer and "<eos>"; a system turn is a plain line first.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n"
    "{% elif message['role'] == 'user' %}Q: {{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}A: {{ message['content'] }}{{ eos_token }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}A: {% endif %}"
)


def char_tokenizer(model_max_length: int = 512) -> PreTrainedTokenizerFast:
    """A character-level tokenizer: one token per printable ASCII character, plus <pad>, <bos>, <eos>, <unk>.

    `decode(encode(s)) == s` for ASCII text (no BOS/EOS is added automatically: the chat template writes
    the BOS); padding is on the left, for generation; other characters map to <unk>.
    """
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + CHARS)}
    # BPE with no merges splits text into single characters: a character-level model with an unknown token
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    backend.decoder = decoders.Fuse()  # join the characters back without spaces
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        chat_template=CHAT_TEMPLATE,
        model_max_length=model_max_length,
    )


def tiny_model(
    tokenizer: PreTrainedTokenizerFast,
    *,
    n_layer: int = 2,
    d_model: int = 64,
    n_head: int = 4,
    max_positions: int = 512,
    seed: int = 0,
) -> PreTrainedModel:
    """A randomly initialised Llama-style causal LM over the tokenizer's vocabulary (tied embeddings).

    Rotary positions make attention depend on relative positions only, so left padding in generation and
    right padding in training see the same model.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if d_model % n_head:
        raise ValueError(f"d_model ({d_model}) must be a multiple of n_head ({n_head})")
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=d_model,
        intermediate_size=4 * d_model,
        num_hidden_layers=n_layer,
        num_attention_heads=n_head,
        num_key_value_heads=n_head,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the caller's RNG
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    gen = model.generation_config
    gen.pad_token_id, gen.bos_token_id, gen.eos_token_id = (
        tokenizer.pad_token_id,
        tokenizer.bos_token_id,
        tokenizer.eos_token_id,
    )
    return model

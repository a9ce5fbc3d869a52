"""What the policy loader (agents/models/policy.py) and the testbed's warm start (agents/models/warm_start.py) both use, kept
below both so that neither imports the other's module to get it: the env's observation as a model's prompt
(`prompt_ids`), and where models built or converted here are cached (`cache_dir`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def cache_dir() -> Path:
    """Where converted models live (MATHENV_CACHE, else ~/.cache/mathenv)."""
    return Path(os.environ.get("MATHENV_CACHE", Path.home() / ".cache" / "mathenv"))


def prompt_ids(tokenizer: PreTrainedTokenizerBase, observation: str) -> list[int]:
    """Token ids of the env's observation as the model's user turn, ready for the assistant's answer."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": observation}], add_generation_prompt=True, tokenize=False
        )
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    return tokenizer(observation + "\n", add_special_tokens=True)["input_ids"]

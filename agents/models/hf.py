"""What the policy loader (agents/models/policy.py) and the testbed's warm start (agents/models/warm_start.py) both use, kept
below both so that neither imports the other's module to get it: the env's observation as a model's prompt
(`prompt_ids`), where models built or converted here are cached (`cache_dir`), and `quiet_transformers`
around their loads and saves.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
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


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Without transformers' own progress bars ("Loading weights", "Writing model shards"): a run loads and
    saves models often, and those bars drown its own output."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()

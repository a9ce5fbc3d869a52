"""Generation backends behind one small interface: token ids in, sampled token ids and text out.

`hf` (batched `model.generate`, left padding) runs everywhere and is the default; `vllm` (optional extra,
imported only when asked for) serves GPU users and gets the policy's weights after every update. The vllm
backend is not tested in CI (no GPU and no vllm there); it follows TRL 1.16's tested colocate mode.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from agents.core.config import GENERATION_BACKENDS


@dataclass
class SamplingConfig:
    """How attempts are sampled; `greedy` evaluation ignores temperature and top_p."""

    max_new_tokens: int = 128
    temperature: float = 1.0
    top_p: float = 1.0
    batch_size: int = 32  # sequences per generate call (memory knob, not a training knob)


class Generator(Protocol):
    def generate(
        self, prompts: list[list[int]], greedy: bool = False, sampling: SamplingConfig | None = None
    ) -> list[list[int]]:
        """Response token ids per prompt, ending with EOS when the model stopped on its own; `sampling`
        overrides the generator's own settings for this call (an evaluation temperature, say)."""
        ...

    def sync(self, model: PreTrainedModel) -> None:
        """Make the next `generate` use the policy's current weights."""
        ...


def _cut_at_eos(ids: list[int], eos: set[int], pad: int | None) -> list[int]:
    for i, t in enumerate(ids):
        if t in eos:
            return ids[: i + 1]
    # no EOS: strip the padding generate appends once every sequence in the batch has stopped
    while ids and pad is not None and ids[-1] == pad and pad not in eos:
        ids = ids[:-1]
    return ids


def eos_ids(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> set[int]:
    """Every token that ends a response: the tokenizer's EOS and the generation config's (chat models often
    stop on an end-of-turn token as well)."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    gen = getattr(model.generation_config, "eos_token_id", None)
    ids |= set(gen) if isinstance(gen, list) else ({gen} if gen is not None else set())
    return ids


class HFGenerator:
    """Batched `model.generate` with left padding; samples from torch's global RNG, so a seeded run repeats."""

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, sampling: SamplingConfig
    ) -> None:
        self.model, self.tokenizer, self.sampling = model, tokenizer, sampling
        self.eos = eos_ids(model, tokenizer)
        self.pad = tokenizer.pad_token_id

    @torch.no_grad()
    def generate(
        self, prompts: list[list[int]], greedy: bool = False, sampling: SamplingConfig | None = None
    ) -> list[list[int]]:
        s = sampling or self.sampling
        out: list[list[int]] = []
        was_training = self.model.training
        self.model.eval()
        use_cache = self.model.config.use_cache
        self.model.config.use_cache = True  # gradient checkpointing turns it off for training
        device = next(self.model.parameters()).device
        try:
            for start in range(0, len(prompts), s.batch_size):
                chunk = prompts[start : start + s.batch_size]
                width = max(len(p) for p in chunk)
                input_ids = torch.full((len(chunk), width), self.pad, dtype=torch.long)
                attention = torch.zeros((len(chunk), width), dtype=torch.long)
                for i, p in enumerate(chunk):
                    input_ids[i, width - len(p) :] = torch.tensor(p)
                    attention[i, width - len(p) :] = 1
                kwargs: dict[str, Any] = {
                    "do_sample": not greedy,
                    "max_new_tokens": s.max_new_tokens,
                    "pad_token_id": self.pad,
                    "eos_token_id": sorted(self.eos),
                }
                if not greedy:
                    kwargs.update(temperature=s.temperature, top_p=s.top_p, top_k=0)
                else:
                    kwargs.update(temperature=None, top_p=None, top_k=None)
                seqs = self.model.generate(
                    input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs
                )
                for row in seqs[:, width:].tolist():
                    out.append(_cut_at_eos(row, self.eos, self.pad))
        finally:
            self.model.config.use_cache = use_cache
            self.model.train(was_training)
        return out

    def sync(self, model: PreTrainedModel) -> None:
        self.model = model  # generates with the live policy: nothing to copy


class VLLMGenerator:
    """A vLLM engine in the trainer's own process, sharing its GPU: the pattern of TRL 1.16's colocate mode
    (trl/generation/vllm_generation.py, read, not copied), which TRL tests against vLLM 0.22-0.31.

    - The engine runs in this process (`distributed_executor_backend="external_launcher"`, a world of one
      process), so its model object is reachable for weight loading.
    - Weights: before the first generation after an update, every parameter of the policy is loaded into the
      engine's model under its own name (`named_parameters`, so tied weights once), and the prefix cache is
      reset (its entries were computed with the old weights).
    - Sleep mode (`sleep=True`, level 2): outside `generate` the engine releases its weights and KV cache, so
      the trainer has the GPU memory for learning; the weights are pushed again before the next generation.

    Not tested in CI: no GPU and no vllm there. `source` is the model's name or folder (vLLM loads the
    architecture and tokenizer from it; the weights then come from the policy).
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        sampling: SamplingConfig,
        source: str,
        gpu_memory_utilization: float = 0.3,
        sleep: bool = True,
        seed: int = 0,
        dtype: torch.dtype | None = None,
    ) -> None:
        try:
            import vllm
        except ImportError as e:
            raise ImportError(
                "the vllm backend needs the optional extra: pip install 'mathenv[vllm]' "
                "(a CUDA machine), or use --generation-backend hf"
            ) from e
        if not source:
            raise ValueError(
                "the vllm backend builds its engine from the model's name or folder; a model made "
                "in memory (`tiny`) has none: save it first, or use --generation-backend hf"
            )
        self._vllm = vllm
        self.sampling = sampling
        self.model = model
        self.eos = eos_ids(model, tokenizer)
        self.pad = tokenizer.pad_token_id
        self.sleep = sleep
        _single_process_world()
        # the engine computes in the trainer's forward dtype (bf16 under bf16-mixed), whatever the master weights
        engine_dtype = str(dtype or next(model.parameters()).dtype).removeprefix("torch.")
        self.llm = vllm.LLM(
            model=source,
            tokenizer=source,
            dtype=engine_dtype,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
            enable_prefix_caching=True,
            enable_sleep_mode=sleep,
            distributed_executor_backend="external_launcher",
            max_num_batched_tokens=4096,
        )  # TRL: a larger default misleads vLLM's memory profiler
        if sleep:
            self.llm.sleep(level=2)
        self._stale = True  # the engine's weights are not the policy's (or were released by sleep)

    def sync(self, model: PreTrainedModel) -> None:
        """The policy changed: its weights are loaded into the engine before the next generation."""
        self.model = model
        self._stale = True

    def _load_weights(self) -> None:
        if self.sleep:
            torch.cuda.empty_cache()
            self.llm.wake_up(tags=["weights"])
        engine_model = self.llm.llm_engine.model_executor.driver_worker.model_runner.model
        with torch.no_grad():
            for name, param in self.model.named_parameters():
                engine_model.load_weights([(name, param.detach())])
        self.llm.reset_prefix_cache()
        self._stale = False

    def generate(
        self, prompts: list[list[int]], greedy: bool = False, sampling: SamplingConfig | None = None
    ) -> list[list[int]]:
        s = sampling or self.sampling
        if self._stale:
            self._load_weights()
        params = self._vllm.SamplingParams(
            n=1,
            max_tokens=s.max_new_tokens,
            temperature=0.0 if greedy else s.temperature,
            top_p=1.0 if greedy else s.top_p,
            stop_token_ids=sorted(self.eos),
        )
        if self.sleep:
            self.llm.wake_up(tags=["kv_cache"])
        try:
            results = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        finally:
            if self.sleep:  # level 2 releases the weights too: they are pushed again next time
                self.llm.sleep(level=2)
                self._stale = True
        return [_cut_at_eos(list(r.outputs[0].token_ids), self.eos, self.pad) for r in results]


def _single_process_world() -> None:
    """The distributed environment vLLM's external launcher reads, for a world of this one process (variables
    already set, by torchrun for instance, are kept)."""
    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "localhost")):
        os.environ.setdefault(key, value)
    if os.environ.get("MASTER_PORT", "").strip().lower() in ("", "0", "auto"):
        with socket.socket() as sock:
            sock.bind(("localhost", 0))
            os.environ["MASTER_PORT"] = str(sock.getsockname()[1])


def make_generator(
    backend: str,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    sampling: SamplingConfig,
    *,
    source: str = "",
    seed: int = 0,
    gpu_memory_utilization: float = 0.3,
    sleep: bool = True,
    dtype: torch.dtype | None = None,
) -> Generator:
    """The generation backend `backend`; `dtype` is the vllm engine's (default: the model's own)."""
    if backend == "hf":
        return HFGenerator(model, tokenizer, sampling)
    if backend == "vllm":
        return VLLMGenerator(
            model,
            tokenizer,
            sampling,
            source=source,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
            sleep=sleep,
            dtype=dtype,
        )
    raise ValueError(f"unknown generation backend {backend!r}; choose one of {GENERATION_BACKENDS}")

"""Rows of TRL's generation output (one per completion) as the curriculum trainer reshapes them: selected by
kept group, masked out of the loss as fill, merged across generation batches; and a digest of a curriculum
state to compare processes (integrations.trl.trainer).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

#: keys of TRL's generation output that hold one row per completion; prompts are left-padded
PROMPT_KEYS = ("prompt_ids", "prompt_mask")
COMPLETION_KEYS = (
    "completion_ids",
    "completion_mask",
    "old_per_token_logps",
    "ref_per_token_logps",
    "sampling_per_token_logps",
    "importance_sampling_ratio",
    "tool_mask",
)


def state_digest(state: Any) -> str:
    """sha256 of a curriculum state dict's content (arrays by dtype, shape and bytes; dicts by sorted keys),
    to compare states across processes and runs (a pickle's bytes also depend on object sharing)."""
    import hashlib

    h = hashlib.sha256()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            h.update(b"{")
            for k in sorted(x, key=repr):
                h.update(repr(k).encode())
                walk(x[k])
            h.update(b"}")
        elif isinstance(x, list | tuple | set | frozenset):
            h.update(b"[")
            for v in sorted(x, key=repr) if isinstance(x, set | frozenset) else x:
                walk(v)
            h.update(b"]")
        elif isinstance(x, np.ndarray) and x.dtype != object:
            h.update(f"{x.dtype.str}{x.shape}".encode() + np.ascontiguousarray(x).tobytes())
        elif isinstance(x, np.ndarray):
            walk(x.tolist())
        else:
            h.update(repr(x.item() if isinstance(x, np.generic) else x).encode())

    walk(state)
    return h.hexdigest()


def select_rows(output: dict, keep: np.ndarray) -> dict:
    """The rows `keep` (a mask, or row numbers) of a TRL generation output (text only: any other per-row
    key is refused)."""
    other = set(output) - set(PROMPT_KEYS) - set(COMPLETION_KEYS) - {"advantages", "num_items_in_batch"}
    if other:
        raise ValueError(
            f"curriculum batches under TRL support text completions only; the generation output "
            f"also holds {sorted(other)}"
        )
    keep = np.asarray(keep)
    rows = np.flatnonzero(keep) if keep.dtype == bool else keep
    index = torch.as_tensor(rows, device=output["advantages"].device)
    return {k: v for k, v in output.items() if k == "num_items_in_batch"} | {
        k: v.index_select(0, index) for k, v in output.items() if k != "num_items_in_batch" and v is not None
    }


def masked_rows(output: dict, n: int) -> dict:
    """`n` rows of a generation output (repeated as needed) that add nothing to the loss: advantage 0 and
    no completion token counted."""
    rows = select_rows(output, np.resize(np.arange(len(output["advantages"])), n))
    rows["advantages"] = torch.zeros_like(rows["advantages"])
    rows["completion_mask"] = torch.zeros_like(rows["completion_mask"])
    return rows


def merge_rows(parts: list[dict], pad_token_id: int) -> dict:
    """Generation outputs as one: prompts left-padded, completions right-padded to the widest, and
    `num_items_in_batch` (the completion tokens the loss is normalised by) recounted."""
    out = {}
    for key in parts[0]:
        if key == "num_items_in_batch":
            continue
        tensors = [p[key] for p in parts]
        if tensors[0].dim() > 1:
            width = max(t.shape[1] for t in tensors)
            value = pad_token_id if key.endswith("_ids") else 0
            left = key in PROMPT_KEYS
            tensors = [
                torch.nn.functional.pad(
                    t, (width - t.shape[1], 0) if left else (0, width - t.shape[1]), value=value
                )
                for t in tensors
            ]
        out[key] = torch.cat(tensors)
    mask = out["completion_mask"] if "tool_mask" not in out else out["completion_mask"] * out["tool_mask"]
    out["num_items_in_batch"] = mask.sum().to(parts[0]["num_items_in_batch"].dtype)
    return out

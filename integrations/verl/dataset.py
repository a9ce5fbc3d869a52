"""verl's dataset whose training rows are the curriculum's choices (`data.custom_cls`:
`pkg://integrations.verl.dataset`, name `CurriculumRLDataset`), wrapping the dataset class verl would have
built (its RLHFDataset, or a user's own). Importing this module imports verl."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset
from verl.utils.dataset.rl_dataset import RLHFDataset
from verl.utils.import_utils import load_extern_object

from integrations.verl.feed import UNBOUND, CurriculumFeed


class CurriculumRLDataset(Dataset):
    """verl's dataset (`data.custom_cls`) whose rows, for training, are the curriculum's choices.

    It wraps the dataset class verl would have used: `data.curriculum_base_cls.{path,name}` (a user's
    own `custom_cls`: multimodal, tool agents; `configure_v1` moves a `data.custom_cls` there), else
    verl's `RLHFDataset`, built with the same arguments; rows, length and any other attribute come from it.
    verl v1 builds the train and the validation dataset from this class. The first one built after a
    `CurriculumReplayBuffer` joins it and becomes its prompt stream: item i is the next slot of the
    curriculum's requests (whatever i is), the wrapped dataset's row for that question with
    `extra_info.curriculum_index` / `curriculum_request` / `curriculum_slot` and `__rollout_n__` (verl's
    per-prompt attempt count: L for a probe). Any other (validation) is the wrapped dataset as it is. It
    needs `data.gen_batch_size=1` (the buffer asks for exact numbers of prompts) and
    `data.dataloader_num_workers=0` (workers would draw ahead of the rewards). Its `state_dict` is the
    feed's, which verl's StatefulDataLoader saves in `data.pt`.
    """

    def __init__(
        self, data_files: Any, tokenizer: Any, config: Any, processor: Any = None, max_samples: int = -1
    ) -> None:
        base = config.get("curriculum_base_cls", None)
        cls = load_extern_object(base.path, base.name) if base and base.get("path") else RLHFDataset
        self.dataset = cls(
            data_files=data_files,
            tokenizer=tokenizer,
            config=config,
            processor=processor,
            max_samples=max_samples,
        )
        self.feed: CurriculumFeed | None = None
        if UNBOUND:
            if config.get("gen_batch_size", None) != 1:
                raise ValueError(
                    f"the curriculum's buffer asks verl for exact numbers of prompts: set "
                    f"data.gen_batch_size=1 (got {config.get('gen_batch_size', None)})"
                )
            if config.get("dataloader_num_workers", 0):
                raise ValueError(
                    "set data.dataloader_num_workers=0: loader workers would draw prompts "
                    "before the rewards they depend on arrive"
                )
            self.feed = UNBOUND.pop().bind(len(self.dataset), int(config.train_batch_size))
            UNBOUND.clear()

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: int) -> dict:
        if self.feed is None:
            return self.dataset[item]
        q, no, slot, attempts = self.feed.next_prompt()
        row = dict(self.dataset[q])
        row["extra_info"] = {
            **(row.get("extra_info") or {}),
            "curriculum_index": q,
            "curriculum_request": no,
            "curriculum_slot": slot,
        }
        row["__rollout_n__"] = attempts
        return row

    def __getattr__(self, name: str) -> Any:  # everything else (dataframe, ...) from the wrapped dataset
        if name in ("dataset", "feed"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def state_dict(self) -> dict[str, Any]:
        return {} if self.feed is None else self.feed.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.feed is not None and state:
            self.feed.load_state_dict(state)

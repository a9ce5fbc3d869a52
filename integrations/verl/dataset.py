"""verl's RLHFDataset whose training rows are the curriculum's choices (`data.custom_cls`:
`pkg://integrations.verl.dataset`, name `CurriculumRLDataset`). Importing this module imports verl."""

from __future__ import annotations

from typing import Any

from verl.utils.dataset.rl_dataset import RLHFDataset

from integrations.verl.feed import UNBOUND, CurriculumFeed


class CurriculumRLDataset(RLHFDataset):
    """verl's RLHFDataset (`data.custom_cls`) whose rows, for training, are the curriculum's choices.

    verl v1 builds the train and the validation dataset from this class. The first one built after a
    `CurriculumReplayBuffer` joins it and becomes its prompt stream: item i is the next slot of the
    curriculum's requests (whatever i is), with `extra_info.curriculum_index` / `curriculum_request` /
    `curriculum_slot` and `__rollout_n__` (verl's per-prompt attempt count: L for a probe). Any other
    (validation) behaves as RLHFDataset. It needs `data.gen_batch_size=1` (the buffer asks for exact
    numbers of prompts) and `data.dataloader_num_workers=0` (workers would draw ahead of the rewards).
    Its `state_dict` is the feed's, which verl's StatefulDataLoader saves in `data.pt`.
    """

    def __init__(
        self, data_files: Any, tokenizer: Any, config: Any, processor: Any = None, max_samples: int = -1
    ) -> None:
        super().__init__(data_files, tokenizer, config, processor=processor, max_samples=max_samples)
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
            self.feed = UNBOUND.pop().bind(super().__len__(), int(config.train_batch_size))
            UNBOUND.clear()

    def __getitem__(self, item: int) -> dict:
        if self.feed is None:
            return super().__getitem__(item)
        q, no, slot, attempts = self.feed.next_prompt()
        row = super().__getitem__(q)
        row["extra_info"] = {
            **(row.get("extra_info") or {}),
            "curriculum_index": q,
            "curriculum_request": no,
            "curriculum_slot": slot,
        }
        row["__rollout_n__"] = attempts
        return row

    def state_dict(self) -> dict[str, Any]:
        return {} if self.feed is None else self.feed.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.feed is not None and state:
            self.feed.load_state_dict(state)

"""The curriculum's side of TRL's GRPOTrainer (checked against trl 1.16.0): a sampler that keeps TRL's
RepeatSampler layout while the curriculum chooses each generation batch's prompts.

The trainer (`integrations.trl.trainer.CurriculumGRPOTrainer`), the dataset (`mathenv.export.grpo_dataset`) and the
reward (`mathenv.rewards.mathenv_reward`) live with their kind; the module docstring of integrations.trl.trainer
explains how the pieces fit.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

from curricula.schedule import BatchSchedule


class CurriculumRepeatSampler(Sampler[int]):
    """TRL's RepeatSampler layout with the curriculum choosing each chunk of `schedule.batch_size` prompts:
    for each chunk, `repeat_count` times, each id `mini_repeat_count` (= num_generations) times."""

    def __init__(
        self,
        schedule: BatchSchedule,
        mini_repeat_count: int,
        repeat_count: int = 1,
        num_chunks: int | None = None,
    ) -> None:
        self.schedule = schedule
        self.mini_repeat_count = int(mini_repeat_count)
        self.repeat_count = int(repeat_count)
        pool = schedule.curriculum.num_questions
        self.num_chunks = int(num_chunks) if num_chunks else max(1, pool // schedule.batch_size)

    def __len__(self) -> int:
        return self.num_chunks * self.schedule.batch_size * self.mini_repeat_count * self.repeat_count

    def __iter__(self) -> Iterator[int]:
        for _ in range(self.num_chunks):
            req = self.schedule.next_request()  # chosen when the loader asks for the chunk's first row
            chunk = np.repeat(req.question_ids, self.mini_repeat_count).tolist()
            for _ in range(self.repeat_count):
                yield from chunk


__all__ = ["CurriculumRepeatSampler"]

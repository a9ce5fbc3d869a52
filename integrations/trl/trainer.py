"""Train with TRL's GRPOTrainer (checked against trl 1.16.0) on our curricula and verifier.

    from integrations.trl.trainer import CurriculumGRPOTrainer
    from mathenv.export import grpo_dataset
    from mathenv.rewards import mathenv_reward

    train = grpo_dataset(questions)                       # prompt, answer, question_id (= row number)
    cur = curricula.make("learnability", len(train), preset="fast", batch_size=B)
    trainer = CurriculumGRPOTrainer(model=..., args=GRPOConfig(...), train_dataset=train,
                                    reward_funcs=[mathenv_reward], curriculum=cur)
    trainer.train()

How it fits GRPOTrainer: TRL draws one *generation batch* of `generation_batch_size` rows = B prompts x
`num_generations` (G) copies, and repeats it `num_iterations x steps_per_generation` times so that every
micro-step that reuses the generations sees the same prompts; that is `RepeatSampler`'s layout, and
`integrations.trl.sampler.CurriculumRepeatSampler` keeps it, choosing each generation batch's B prompts
(`curriculum.request_size`) with a `BatchSchedule` (learnability probe batches included). After TRL gathers
the rewards of a generation batch from all processes, `_calculate_rewards` hands them to the curriculum
(grouped per prompt; which reward function counts is `curriculum_reward`, the first by default). Then, in
`_generate_and_score_completions`, exactly this happens:

- A training batch the curriculum keeps whole (uniform, learnability, prioritized, posterior, ...): trained
  on as TRL made it.
- Feedback that keeps part of the rows or is not `done` (the filters; DAPO's dynamic sampling), with one
  process: the kept rows are set aside and further generation batches drawn straight from the curriculum,
  generated and scored by TRL's own code, until the curriculum's batch is complete; the step trains on exactly
  the kept groups (`batch_size x G` rows, TRL's per-group advantages). A batch the curriculum ends short
  (`max_num_gen_batches`) is filled to `batch_size` groups with rows masked out of the loss, so TRL's slicing
  holds (`curriculum/masked_groups`; a step with nothing kept warns).
- The same with several processes: extra generation would have to be coordinated across processes, which
  TRL's loop does not offer; dropped rows get advantage 0 instead and a short DAPO batch is trained on as
  it is (the curriculum still completes its batch over the following generation batches).
- Per-question attempt counts (`per_question_attempts`: SPEED), one process: `_curriculum_requests` draws
  the requests itself, repeats each prompt as often as asked (a multiple of `num_generations`), has TRL's
  code generate and score them, and reports. A held group (SPEED's screening) waits in `curriculum_held` and
  joins its continuation; each kept group gets GRPO's advantage over all its attempts (TRL's per-group
  formula; `scale_rewards` "group" or "none"), filled with masked rows to a multiple of
  `steps_per_generation`; the loader's rows only pace the loop. Held groups are saved in `curriculum.pt`.
- A probe batch (learnability): every row gets advantage 0. The optimiser step still runs on it, so
  Adam's momentum moves the weights a little: the closest TRL allows without rewriting its loop.

Every process holds an identical curriculum, fed the same gathered rewards; each checkpoint compares their
states (`state_digest`) and raises if they differ. `recipes/trl_grpo.py` is the script to copy.

Checkpoints: `curriculum.pt` (the schedule's and curriculum's state) is written into each `checkpoint-<step>`
and read back by `train(resume_from_checkpoint=...)`. It is the data position, so the trainer sets
`args.ignore_data_skip=True` (fast-forwarding the loader would draw batches it never trains on). Exact resumes need checkpoints on generation-batch
boundaries (`save_steps` a multiple of `steps_per_generation x num_iterations / gradient_accumulation_steps`).

The loader draws one batch ahead (accelerate prefetches): with `steps_per_generation x num_iterations == 1`
choices lag one generation batch (`schedule.lagged_batches`); `steps_per_generation >= 2` avoids it.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler
from trl import GRPOTrainer
from trl.trainer.utils import nanstd

from curricula.completions import HeldGroups
from curricula.protocol import Curriculum, Feedback, padded_rewards
from curricula.schedule import CURRICULUM_CHECKPOINT, BatchSchedule
from integrations.trl.rows import masked_rows, merge_rows, select_rows, state_digest
from integrations.trl.sampler import CurriculumRepeatSampler
from mathenv.export import QUESTION_ID


class CurriculumGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose prompts come from `curriculum` and whose rewards go back to it.

    `curriculum_reward`: which reward function (index or `__name__`) the curriculum learns from.
    `question_id_column`: the dataset column holding each row's question id (its row number).
    """

    def __init__(
        self,
        *args: Any,
        curriculum: Curriculum,
        curriculum_reward: int | str = 0,
        question_id_column: str = QUESTION_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        data = self.train_dataset
        if data is None or not hasattr(data, "__len__") or question_id_column not in data.column_names:
            raise ValueError(
                f"CurriculumGRPOTrainer needs a map-style train_dataset with a "
                f"{question_id_column!r} column (its row numbers; see grpo_dataset)"
            )
        if len(data) != curriculum.num_questions:
            raise ValueError(
                f"the curriculum covers {curriculum.num_questions} questions but the dataset "
                f"has {len(data)} rows"
            )
        names = list(self.reward_func_names)
        if isinstance(curriculum_reward, str):
            if curriculum_reward not in names:
                raise ValueError(f"no reward function named {curriculum_reward!r}; they are {names}")
            curriculum_reward = names.index(curriculum_reward)
        if not 0 <= curriculum_reward < len(names):
            raise ValueError(
                f"curriculum_reward={curriculum_reward} but there are {len(names)} reward functions"
            )
        self.curriculum_reward = int(curriculum_reward)
        self.question_id_column = question_id_column
        self._curriculum = curriculum
        #: per-question attempt counts: the trainer draws, generates and reports the curriculum's requests
        #: itself (`_curriculum_requests`); the data loader's rows only pace TRL's loop
        self.curriculum_direct = bool(curriculum.per_question_attempts)
        self.curriculum_schedule: BatchSchedule | None = None
        if self.curriculum_direct:
            self._check_direct(curriculum)
            self.curriculum_held: HeldGroups = HeldGroups(self._join_groups)
        else:
            self.curriculum_schedule = BatchSchedule(
                curriculum, self.args.generation_batch_size // self.num_generations, self.num_generations
            )
        rows = curriculum.batch_size * self.num_generations
        if (
            not self.curriculum_direct
            and curriculum.request_size != curriculum.batch_size
            and rows % self.args.steps_per_generation
        ):
            raise ValueError(
                f"{curriculum.name} trains on batch_size x num_generations = {rows} rows per "
                f"generation batch, which does not split into steps_per_generation="
                f"{self.args.steps_per_generation} slices"
            )
        self.args.ignore_data_skip = True  # the curriculum's state is the data position (see module doc)
        self._curriculum_fb: Feedback | None = None  # feedback on the generation batch just scored
        self._curriculum_filling = False  # generating a batch drawn straight from the curriculum

    @property
    def curriculum(self) -> Curriculum:
        return self._curriculum

    def _check_direct(self, curriculum: Curriculum) -> None:
        """What a curriculum with per-question attempt counts needs of TRL's settings (one line each)."""
        if self.accelerator.num_processes > 1:
            raise ValueError(
                f"{curriculum.name} asks a different number of attempts of each question, which "
                f"CurriculumGRPOTrainer generates itself in one process only: run one process (or agents.train)"
            )
        if self.multi_objective_aggregation != "sum_then_normalize" or self.scale_rewards not in (
            "group",
            "none",
        ):
            raise ValueError(
                f"{curriculum.name} trains groups joined across generation batches, whose advantages are "
                f"taken per group: use multi_objective_aggregation='sum_then_normalize' and scale_rewards "
                f"'group' or 'none' (got {self.multi_objective_aggregation!r}, {self.scale_rewards!r})"
            )
        for option in ("screen_attempts", "group_size"):  # SPEED's N_init and N
            value = getattr(curriculum, option, None)
            if value is not None and value % self.num_generations:
                raise ValueError(
                    f"{curriculum.name}'s {option}={value} is not a multiple of num_generations="
                    f"{self.num_generations}: TRL generates each prompt's attempts in groups of num_generations"
                )

    def _get_train_sampler(self, dataset=None) -> Sampler:
        if self.curriculum_direct:  # the rows only pace the loop: `_curriculum_requests` chooses the prompts
            return super()._get_train_sampler(dataset)
        return CurriculumRepeatSampler(
            self.curriculum_schedule,
            self.num_generations,
            self.num_iterations * self.args.steps_per_generation,
        )

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if self.model.training and self.curriculum_direct:
            self._curriculum_rewards = rewards_per_func  # reported by `_curriculum_requests`
        elif self.model.training:
            self._curriculum_feedback(inputs, rewards_per_func)
        return rewards_per_func

    def _curriculum_feedback(self, inputs: list[dict], rewards_per_func: torch.Tensor) -> None:
        from accelerate.utils import gather_object

        ids = [int(x[self.question_id_column]) for x in inputs]
        if self.accelerator.num_processes > 1:
            ids = gather_object(ids)
        g = self.num_generations
        ids = np.asarray(ids, dtype=np.int64).reshape(-1, g)
        if not (ids == ids[:, :1]).all():
            raise ValueError(
                "a group of num_generations rows spans several questions: the sampler's layout was changed"
            )
        rewards = rewards_per_func[:, self.curriculum_reward].float().cpu().numpy().reshape(-1, g)
        if self._curriculum_filling:  # drawn from the curriculum itself, not issued by the schedule
            fb = self.curriculum.report(ids[:, 0], rewards, "train")
        else:
            fb = self.curriculum_schedule.report(ids[:, 0], rewards)
        self._curriculum_fb = Feedback(np.repeat(fb.keep, g), fb.done, fb.phase)
        self._log_curriculum(fb)

    def _log_curriculum(self, fb: Feedback) -> None:
        metrics = self._metrics["train"]
        for key, value in self.curriculum.diagnostics().items():
            if np.isscalar(value) and np.isfinite(value):
                metrics[key].append(float(value))
        metrics["curriculum/probe_batch"].append(float(fb.phase == "probe"))

    def _generate_and_score_completions(self, inputs):
        if self.curriculum_direct and self.model.training:
            return self._curriculum_requests()
        output = super()._generate_and_score_completions(inputs)
        fb, self._curriculum_fb = self._curriculum_fb, None
        if fb is None or (fb.done and fb.keep.all()):
            return output
        if fb.phase == "train" and self.accelerator.num_processes == 1:
            return self._curriculum_batch(output, fb)
        n = len(inputs)
        local = fb.keep[self.accelerator.process_index * n : (self.accelerator.process_index + 1) * n]
        adv = output["advantages"]
        output["advantages"] = adv.masked_fill(
            torch.as_tensor(~local, device=adv.device).view(-1, *([1] * (adv.dim() - 1))), 0.0
        )
        return output

    def _curriculum_batch(self, output: dict, fb: Feedback) -> dict:
        """The kept rows of this generation batch and of further ones drawn from the curriculum until
        its feedback is done, as one generation batch (one process; see the module docstring). A batch
        the curriculum ends short (a cap on generation batches) is filled up to `batch_size` groups with
        rows masked out of the loss, so TRL's slicing holds; `curriculum/masked_groups` counts them."""
        outputs, parts = [output], [select_rows(output, fb.keep)]
        while not fb.done:
            req = self.curriculum.next_request()
            rows = [
                self.train_dataset[int(q)]
                for q in req.question_ids.tolist()
                for _ in range(self.num_generations)
            ]
            self._curriculum_filling = True
            try:
                more = super()._generate_and_score_completions(rows)
            finally:
                self._curriculum_filling = False
            fb, self._curriculum_fb = self._curriculum_fb, None
            outputs.append(more)
            parts.append(select_rows(more, fb.keep))
        pad = self.processing_class.pad_token_id
        g = self.num_generations
        missing = self.curriculum.batch_size * g - sum(len(p["advantages"]) for p in parts)
        if missing > 0:
            every = [select_rows(o, np.ones(len(o["advantages"]), dtype=bool)) for o in outputs]
            parts.append(masked_rows(merge_rows(every, pad), missing))
            if missing == self.curriculum.batch_size * g:
                warnings.warn(
                    f"{self.curriculum.name} kept no group this step: every row is masked out of the "
                    f"loss, so the update is empty (curriculum/masked_groups)",
                    stacklevel=2,
                )
        self._metrics["train"]["curriculum/masked_groups"].append(float(max(missing, 0) // g))
        return merge_rows(parts, pad)

    def _curriculum_requests(self) -> dict:
        """One training batch of a curriculum that asks per-question attempt counts (SPEED), one process:
        each request is drawn from the curriculum, each question's prompt repeated as often as asked (a
        multiple of num_generations), generated and scored by TRL's own code, and reported; until the
        feedback is done. A group the feedback holds (SPEED's screening) waits in `curriculum_held` and is
        joined to its continuation; every kept group gets GRPO's advantage over all its attempts (TRL's
        per-group formula, whatever generation batches they came from). The step trains on the kept groups,
        filled with rows masked out of the loss to a multiple of steps_per_generation
        (`curriculum/masked_rows`)."""
        cur, g, pad = self.curriculum, self.num_generations, self.processing_class.pad_token_id
        outputs, parts, done = [], [], False
        while not done:
            req = cur.next_request()
            counts = req.counts(g)
            if (counts % g).any():
                raise ValueError(
                    f"{cur.name} asked {sorted(set(counts.tolist()))} attempts of its questions; TRL "
                    f"generates them in groups of num_generations={g}: ask multiples of {g}"
                )
            rows = [
                self.train_dataset[q]
                for q, k in zip(req.question_ids.tolist(), counts.tolist(), strict=True)
                for _ in range(k)
            ]
            out = super()._generate_and_score_completions(rows)
            outputs.append(out)
            per_func, self._curriculum_rewards = self._curriculum_rewards, None
            learnt = per_func[:, self.curriculum_reward].float().cpu().numpy()
            fb = cur.report(req.question_ids, padded_rewards(learnt, counts), req.phase)
            self._log_curriculum(fb)
            done = fb.done
            if fb.phase != "train":
                continue
            reward = (per_func * self.reward_weights.to(per_func.device)).nansum(dim=1)
            reward[torch.isnan(per_func).all(dim=1)] = torch.nan  # unscorable, as TRL marks it
            ends = np.cumsum(counts).tolist()
            groups = [
                (select_rows(out, np.arange(end - k, end)), reward[end - k : end])
                for end, k in zip(ends, counts.tolist(), strict=True)
            ]
            for _, (group, r) in self.curriculum_held.absorb(req, fb, groups):
                parts.append({**group, "advantages": self._group_advantages(r)})
        kept = sum(len(p["advantages"]) for p in parts)
        spg = self.args.steps_per_generation
        missing = (-kept) % spg if kept else spg
        if missing:
            every = [select_rows(o, np.ones(len(o["advantages"]), dtype=bool)) for o in outputs]
            parts.append(masked_rows(merge_rows(every, pad), missing))
        if not kept:
            warnings.warn(
                f"{cur.name} kept no group this step: every row is masked out of the loss, so the update is "
                f"empty (curriculum/masked_rows)",
                stacklevel=2,
            )
        self._metrics["train"]["curriculum/masked_rows"].append(float(missing))
        return merge_rows(parts, pad)

    def _group_advantages(self, rewards: torch.Tensor) -> torch.Tensor:
        """GRPO's advantage within one group of any size, as TRL takes it per group of num_generations
        (`scale_rewards` 'group' or 'none'); an unscorable attempt gets 0."""
        adv = rewards - torch.nanmean(rewards)
        if self.scale_rewards != "none":
            adv = adv / (nanstd(rewards) + 1e-4)
        return torch.nan_to_num(adv, nan=0.0)

    def _join_groups(self, held: tuple[dict, torch.Tensor], more: tuple[dict, torch.Tensor]):
        """A held group's rows and rewards with its continuation's, as one group (held first)."""
        rows = merge_rows([held[0], more[0]], self.processing_class.pad_token_id)
        return rows, torch.cat([held[1], more[1]])

    # -- checkpoints --

    def curriculum_state(self) -> dict[str, Any]:
        """What `curriculum.pt` holds: the schedule's state, or (per-question attempts) the curriculum's and
        the held groups' rows."""
        if self.curriculum_schedule is not None:
            return self.curriculum_schedule.state_dict()
        return {"curriculum": self.curriculum.state_dict(), "held": dict(self.curriculum_held.groups)}

    def load_curriculum_state(self, state: dict[str, Any]) -> None:
        if self.curriculum_schedule is not None:
            self.curriculum_schedule.load_state_dict(state)
        else:
            self.curriculum.load_state_dict(state["curriculum"])
            self.curriculum_held.groups = dict(state["held"])

    def curriculum_state_digest(self) -> str:
        """sha256 of the curriculum's (and schedule's) state: equal on every process of a run."""
        return state_digest(self.curriculum_state())

    def _save_checkpoint(self, model, trial) -> None:
        super()._save_checkpoint(model, trial)
        if self.accelerator.num_processes > 1:  # every process must have made the same choices
            from accelerate.utils import gather_object

            digests = gather_object([self.curriculum_state_digest()])
            if len(set(digests)) > 1:
                raise RuntimeError(
                    f"the curriculum's state differs across processes at step {self.state.global_step} "
                    f"(digests {digests}): every process must build it with the same options and seed"
                )
        if self.args.should_save:
            folder = os.path.join(self._get_output_dir(trial=trial), f"checkpoint-{self.state.global_step}")
            os.makedirs(folder, exist_ok=True)
            torch.save(self.curriculum_state(), os.path.join(folder, CURRICULUM_CHECKPOINT))

    def _load_optimizer_and_scheduler(self, checkpoint):
        device = self.args.device
        if checkpoint is None or device.type != "cpu" or device.index is None:
            return super()._load_optimizer_and_scheduler(checkpoint)
        # several CPU processes: transformers maps the saved optimizer state to args.device, "cpu:0",
        # which torch.load cannot restore to; load it to plain "cpu" (the same memory)
        cached = self.args.__dict__["_setup_devices"]
        self.args.__dict__["_setup_devices"] = torch.device("cpu")
        try:
            return super()._load_optimizer_and_scheduler(checkpoint)
        finally:
            self.args.__dict__["_setup_devices"] = cached

    def train(self, resume_from_checkpoint: str | bool | None = None, *args: Any, **kwargs: Any):
        path = resume_from_checkpoint
        if path is True:
            from transformers.trainer_utils import get_last_checkpoint

            path = get_last_checkpoint(self.args.output_dir)
        if isinstance(path, str | os.PathLike):
            state_file = os.path.join(path, CURRICULUM_CHECKPOINT)
            if not os.path.exists(state_file):
                raise FileNotFoundError(
                    f"{state_file} is missing: the checkpoint was not written by "
                    f"CurriculumGRPOTrainer, so the curriculum cannot resume"
                )
            self.load_curriculum_state(torch.load(state_file, weights_only=False))
        return super().train(resume_from_checkpoint, *args, **kwargs)


__all__ = ["CurriculumGRPOTrainer"]

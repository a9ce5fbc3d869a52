"""MathReasoning-v0: one maths question is one episode; the action is the model's written answer.

The observation is the prompt (question plus an instruction on how to state the final answer). `step`
scores the answer with the verifier: reward 1 for a right answer, 0 for a wrong one, minus an optional
format penalty when no answer could be read. With `max_turns > 1` a wrong answer gets a short feedback
observation and another try. An answer longer than `max_answer_chars` (the action space's bound) is not read
at all: it scores as unreadable with the reason `too_long` (reward 0, or -format_penalty), so a runaway
generation costs the verifier nothing.

Trainers that generate many completions at once use `batch_rewards(question_ids, completions)`, the batch path
with no per-episode overhead; curricula choose questions through `reset(options={"question_id": i})`.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from mathenv.datasets import load_questions
from mathenv.questions import Question
from mathenv.rewards import reward as to_reward
from mathenv.verify import DEFAULT_TIMEOUT, Verdict, score, score_batch, warm_up

DEFAULT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def format_prompt(question: str, instruction: str | None = DEFAULT_INSTRUCTION) -> str:
    """The text that opens a question: the question, then the instruction on its own line (None: the
    default instruction; "": the bare question). The env, verl's parquet and TRL's dataset all use this."""
    instruction = DEFAULT_INSTRUCTION if instruction is None else instruction
    return f"{question}\n{instruction}" if instruction else question


FEEDBACK = "Your answer {extracted} is not correct. Please check your reasoning and try again."
_OPTIONS = ("question_id", "prefix")
#: the verdict of an answer longer than max_answer_chars: never shown to the verifier
TOO_LONG = Verdict(False, "too_long", None)


class UnicodeText(gym.spaces.Text):
    """Any string of bounded length (questions and answers use all of Unicode, not one charset).

    `sample` draws printable ASCII; `contains` accepts every str within the length bounds.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: int | None = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=string.printable, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"


class MathReasoningEnv(gym.Env[str, str]):
    """A pool of maths questions as a Gymnasium environment (see module docstring)."""

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}  # fps: required by Gymnasium for text too

    def __init__(
        self,
        dataset: str = "arithmetic",
        split: str = "train",
        *,
        questions: Sequence[Question] | None = None,
        data_path: str | None = None,
        num_questions: int | None = None,
        data_seed: int = 0,
        levels: Sequence[int] | None = None,
        question_field: str | None = None,
        answer_field: str | None = None,
        instruction: str = DEFAULT_INSTRUCTION,
        format_penalty: float = 0.0,
        last_number_fallback: bool = True,
        numeric_answers: bool = True,
        max_turns: int = 1,
        verifier_timeout: float = DEFAULT_TIMEOUT,
        max_prompt_chars: int = 16_384,
        max_answer_chars: int = 32_768,
        render_mode: str | None = None,
    ) -> None:
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if format_penalty < 0:
            raise ValueError(
                f"format_penalty is subtracted from the reward; pass a value >= 0, got {format_penalty}"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        if questions is None:
            questions = load_questions(
                dataset,
                split,
                data_path=data_path,
                num_questions=num_questions,
                seed=data_seed,
                levels=levels,
                question_field=question_field,
                answer_field=answer_field,
            )
        if len(questions) == 0:
            raise ValueError("the question pool is empty; pass a dataset with at least one question")
        self.questions: list[Question] = list(questions)
        self.instruction = instruction
        self.format_penalty = float(format_penalty)
        self.last_number_fallback = last_number_fallback
        # where the gold is a number, only a number scores: "83 + 64" restates "What is 83 + 64?"
        self.numeric_answers = numeric_answers
        self.max_turns = max_turns
        self.verifier_timeout = verifier_timeout
        # math-verify's helper process starts now, in the background, so the first answer it must judge does not
        # wait seconds for its imports (a pool of number golds needs it too: `12 m`, `5x`, lists go to it)
        warm_up(wait=False)
        self.render_mode = render_mode
        self.observation_space = UnicodeText(max_prompt_chars)
        self.action_space = UnicodeText(max_answer_chars)
        self._golds = [q.answer for q in self.questions]
        self._question: Question | None = None
        self._question_id = -1
        self._prefix = ""
        self._turn = 0
        self._done = True
        self._last: dict[str, Any] = {}

    @property
    def num_questions(self) -> int:
        return len(self.questions)

    def prompt(self, question_id: int) -> str:
        """The observation that opens question `question_id`."""
        return format_prompt(self.questions[question_id].question, self.instruction)[
            : self.observation_space.max_length
        ]

    def _question_info(self) -> dict[str, Any]:
        q = self._question
        assert q is not None
        return {
            "question_id": self._question_id,
            "uid": q.uid,
            "question": q.question,
            "answer": q.answer,
            "difficulty": q.difficulty,
            "level": q.difficulty,
            "subject": q.subject,
            "source": q.source,
            "prefix": self._prefix,
            "turn": self._turn,
        }

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        """Open a question: `options={"question_id": i}` picks one, else the env's seeded RNG does;
        `options={"prefix": s}` continues from a partial solution, scored as prefix + action."""
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - set(_OPTIONS)
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {sorted(unknown)}; MathReasoning-v0 accepts {list(_OPTIONS)}"
            )
        question_id = options.get("question_id")
        if question_id is None:
            question_id = int(self.np_random.integers(self.num_questions))
        elif not isinstance(question_id, (int, np.integer)) or not 0 <= question_id < self.num_questions:
            raise ValueError(f"question_id must be an int in [0, {self.num_questions}), got {question_id!r}")
        prefix = options.get("prefix") or ""
        if not isinstance(prefix, str):
            raise TypeError(f"reset option 'prefix' must be a str, got {type(prefix).__name__}")
        self._question_id = int(question_id)
        self._question = self.questions[self._question_id]
        self._prefix = prefix
        self._turn = 0
        self._done = False
        obs = self.prompt(self._question_id)
        self._last = {"observation": obs}
        return obs, self._question_info()

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        """Score the answer; terminates unless multi-turn and wrong with turns left."""
        if self._done:
            raise RuntimeError("the episode is over (or never started): call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"the action is the model's written answer, a str; got {type(action).__name__}")
        if len(action) > self.action_space.max_length:
            verdict = TOO_LONG
        else:
            verdict = score(
                self._prefix + action,
                self._question.answer,
                last_number=self.last_number_fallback,
                numbers_only=self.numeric_answers,
                timeout=self.verifier_timeout,
            )
        self._turn += 1
        reward = to_reward(verdict, self.format_penalty)
        terminated = verdict.correct or self._turn >= self.max_turns
        obs = "" if terminated else FEEDBACK.format(extracted=verdict.extracted or "(none found)")
        self._done = terminated
        info = self._question_info()
        info.update(correct=verdict.correct, extracted=verdict.extracted, reason=verdict.reason)
        self._last = {
            "observation": self._last.get("observation", ""),
            "action": action,
            "reward": reward,
            "verdict": verdict,
        }
        if self.render_mode == "human":
            print(self.render_text())
        return obs, reward, terminated, False, info

    def batch_rewards(
        self, question_ids: Sequence[int], completions: Sequence[str], prefixes: Sequence[str] | None = None
    ) -> tuple[np.ndarray, list[Verdict]]:
        """Rewards and verdicts of many completions at once (the batch path for trainers; `step` scores one
        episode, `mathenv.verify.score` one answer); no episode state changes. A completion longer than
        max_answer_chars gets the verdict `too_long`, as in `step`."""
        if len(question_ids) != len(completions):
            raise ValueError(f"got {len(question_ids)} question ids but {len(completions)} completions")
        for name, texts in (("completion", completions), ("prefix", prefixes or ())):
            bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
            if bad is not None:
                raise TypeError(
                    f"{name} {bad} has type {type(texts[bad]).__name__} ({texts[bad]!r:.40}); batch_rewards scores the "
                    f"model's written answers: pass each {name} as a str (decode token ids first)"
                )
        ids = np.asarray(question_ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_questions):
            raise ValueError(f"question ids must lie in [0, {self.num_questions})")
        limit = self.action_space.max_length
        long = [i for i, c in enumerate(completions) if len(c) > limit]
        if long:  # never shown to the verifier: an empty placeholder, its verdict replaced below
            completions = ["" if len(c) > limit else c for c in completions]
        if prefixes is not None:
            if len(prefixes) != len(completions):
                raise ValueError(f"got {len(prefixes)} prefixes for {len(completions)} completions")
            completions = [p + c for p, c in zip(prefixes, completions, strict=True)]
        golds = [self._golds[i] for i in ids.tolist()]
        verdicts = list(
            score_batch(
                completions,
                golds,
                last_number=self.last_number_fallback,
                numbers_only=self.numeric_answers,
                timeout=self.verifier_timeout,
            )
        )
        for i in long:
            verdicts[i] = TOO_LONG
        rewards = np.fromiter(
            (to_reward(v, self.format_penalty) for v in verdicts), dtype=np.float32, count=len(verdicts)
        )
        return rewards, verdicts

    def render_text(self) -> str:
        last = self._last
        lines = [f"[question {self._question_id}] {last.get('observation', '')}"]
        if "action" in last:
            v = last["verdict"]
            lines += [
                f"[answer] {self._prefix}{last['action']}",
                f"[verdict] {v.reason} (extracted {v.extracted!r}), reward {last['reward']}",
            ]
        return "\n".join(lines)

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self.render_text()
        if self.render_mode == "human":
            print(self.render_text())
        return None

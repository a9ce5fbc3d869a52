"""CurriculumWrapper: the curriculum chooses the question each `reset()` opens and learns from its rewards,
one episode at a time, for any trainer that only knows `reset`/`step` (a batch trainer calls the curriculum
itself: `curriculum.next_request()`, then `curricula.completions.report_completions`):

    env = CurriculumWrapper(gym.make("MathReasoning-v0"), "learnability", preset="fast",
                            attempts_per_question=8)
    obs, info = env.reset(seed=0)        # info["curriculum_phase"]: "probe", "train" or "explicit"

  Each id of a request is opened `attempts_per_question` (G, default 8 as in the paper, or the curriculum's
  probe L) times in a row (a probe id `curriculum.probe_attempts` times, and each id of a request with
  per-question attempts its own count); once every episode of the request has finished, the (n, G) episode
  returns (NaN-padded when counts differ) go to the curriculum in one `report`, and the info of the call
  that finished the request carries the result as `info["curriculum_report"]` (with the keep mask a filter
  curriculum decides, and SPEED's `hold` / `continues` masks: join a continued row's episodes to the held
  ones, e.g. with `curricula.HeldGroups`).

  Seeding follows Gymnasium's convention (seed once): the first `reset(seed=s)` seeds the curriculum; later
  seeds go to the inner env only, so `reset(seed=episode)` on every episode still learns. Repeating the seed
  of the previous seeded reset repeats that episode (what Gymnasium's env checker asks of a seeded reset).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import gymnasium as gym
import numpy as np

from curricula.protocol import Curriculum, Request, padded_rewards
from curricula.registry import CURRICULA, make, with_group_size

#: G when not given: the paper's 8 attempts per question (64 x 8 batches), the same as its probe L, so probes
#: take the paper's share of episodes (29% for the recommended buffer) rather than most of them
DEFAULT_ATTEMPTS = 8


class CurriculumWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Let `curriculum` choose the question of every `reset()` that does not name one.

    Args:
        env: a MathReasoning-v0 env (possibly wrapped); its pool defines the question ids.
        curriculum: a `Curriculum` over `env.unwrapped.num_questions` questions, or a name for
            `curricula.make` (then `options` are its options, `seed` included; `easy_to_hard` reads its
            difficulty from the env's questions unless `difficulty=` is given).
        attempts_per_question: G, how many episodes in a row open each training id; default: the curriculum's
            probe L if it probes, else 8 (the paper's G). With G = 1 a learnability probe (N x L episodes)
            would take most episodes (76% for the recommended buffer), so G < L warns.

    Rules:
        - `reset()` without `question_id`/`prefix` serves pending probe requests first (phase "probe"),
          then training samples (phase "train"); `info` carries `curriculum_phase`, the row and attempt
          of the episode in its batch, and the curriculum's view of the question (`question_info`).
        - `reset(options={"question_id": i})` or with a `"prefix"` (Monte-Carlo rollouts from a partial
          solution, as VinePPO does) passes straight through and is not reported (phase "explicit").
        - An episode's reward is its return (sum of step rewards) once it terminates or is truncated; a
          curriculum episode abandoned by a reset before it finished counts as NaN (never finished).
        - Seeding, Gymnasium's convention (seed once, then let the streams run): the first `reset(seed=s)`
          calls `curriculum.seed(s)` (a batch being served is dropped, with a warning if episodes of it had
          finished); a later `reset(seed=s2)` passes `s2` to the inner env only and the curriculum's batch
          goes on, so a loop that seeds every episode (`reset(seed=ep)`) loses no pending work and learns.
          `reset(seed=s)` with the same `s` as the previous seeded reset repeats that reset: the episode it
          served is served again (its earlier result replaced) and the batch goes on from there, so the same
          seed gives the same episode, as Gymnasium's checker requires; if that batch has been reported,
          the curriculum is seeded afresh instead.
    """

    def __init__(
        self,
        env: gym.Env,
        curriculum: Curriculum | str,
        *,
        attempts_per_question: int | None = None,
        **options: Any,
    ) -> None:
        base = env.unwrapped
        num_questions = getattr(base, "num_questions", None)
        if num_questions is None:
            raise ValueError(
                "CurriculumWrapper needs an env with a question pool (env.unwrapped.num_questions), "
                "such as MathReasoning-v0"
            )
        if isinstance(curriculum, str):
            recorded: dict[str, Any] = {"curriculum": curriculum, **options}
            questions = getattr(base, "questions", None)
            curriculum = make(
                curriculum,
                num_questions if questions is None else None,
                seed=options.pop("seed", 0),
                questions=questions,
                **with_group_size(curriculum, options, attempts_per_question),
            )
        elif isinstance(curriculum, Curriculum):
            if options:
                raise ValueError(
                    f"options {sorted(options)} configure a curriculum built by name; this one is "
                    f"already built ({curriculum!r}): set them when you build it"
                )
            if curriculum.num_questions != num_questions:
                raise ValueError(
                    f"the curriculum covers {curriculum.num_questions} questions but the env's pool "
                    f"holds {num_questions}: build it with num_questions={num_questions}"
                )
            if CURRICULA.get(curriculum.name) is type(curriculum):
                # a fresh copy of the same configuration, so `env.spec` can rebuild this wrapper
                recorded = {
                    "curriculum": curriculum.name,
                    "seed": curriculum.initial_seed,
                    **curriculum.config,
                }
            else:
                recorded = {"curriculum": curriculum}
        else:
            raise TypeError(
                f"curriculum must be a Curriculum or the name of one, got {type(curriculum).__name__}"
            )
        G = (
            (curriculum.probe_attempts or DEFAULT_ATTEMPTS)
            if attempts_per_question is None
            else attempts_per_question
        )
        if not isinstance(G, (int, np.integer)) or isinstance(G, bool) or G < 1:
            raise ValueError(f"attempts_per_question (G) must be an int >= 1, got {G!r}")
        if G < curriculum.min_attempts:
            raise ValueError(
                f"{curriculum.name} scores each question from its own group of attempts: pass "
                f"attempts_per_question >= {curriculum.min_attempts}, got {G}"
            )
        if G < curriculum.probe_attempts:
            warnings.warn(
                f"attempts_per_question={G} is below {curriculum.name}'s probe L="
                f"{curriculum.probe_attempts}: probes will take a larger share of episodes than in the "
                f"paper (which trains on G = L = 8 attempts per question)",
                stacklevel=2,
            )
        gym.utils.RecordConstructorArgs.__init__(self, attempts_per_question=int(G), **recorded)
        gym.Wrapper.__init__(self, env)
        self.curriculum: Curriculum = curriculum
        self.attempts_per_question = int(G)
        self.last_report: dict[str, Any] | None = None
        self._clear_batch()
        self._current = -1  # flat slot (row * attempts + attempt) of the curriculum episode in progress
        self._return = 0.0
        self._phase: str | None = None  # phase of the episode in progress (None before the first reset)
        self._counts = {"explicit": 0, "abandoned": 0}
        self._batches = 0  # requests drawn so far: tells whether the last seeded reset's batch is current
        self._seed: int | None = None  # seed of the latest seeded reset (None: never seeded)
        self._seed_slot: tuple[int, int] | None = None  # (batch, slot) that reset served

    # ---- Gymnasium -----------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        options = {} if options is None else dict(options)
        report = self._abandon() if self._current >= 0 else None
        if seed is not None:
            self._apply_seed(seed)
        if options.get("question_id") is not None or options.get("prefix"):
            obs, info = self.env.reset(seed=seed, options=options)
            self._phase = "explicit"
            self._counts["explicit"] += 1
            qid = info.get("question_id", options.get("question_id"))
            info["curriculum_phase"] = "explicit"
            if qid is not None:
                info.update(self.curriculum.question_info(int(qid)))
        else:
            if self._ids is None:
                self._next_batch()
            row, attempt = self._row_of(self._next_slot)
            qid = self._id_list[row]
            options["question_id"] = qid
            obs, info = self.env.reset(seed=seed, options=options)
            self._current, self._return = self._next_slot, 0.0
            if seed is not None:
                self._seed_slot = (self._batches, self._next_slot)
            self._next_slot += 1
            self._phase = self._batch_phase
            info["curriculum_phase"] = self._batch_phase
            info["curriculum_row"], info["curriculum_attempt"] = row, attempt
            info.update(self.curriculum.question_info(qid))
        if report is not None:
            info["curriculum_report"] = report
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["curriculum_phase"] = self._phase
        if self._current >= 0:
            self._return += float(reward)
            if terminated or truncated:
                self._returns[self._current] = self._return
                self._current = -1
                report = self._maybe_report()
                if report is not None:
                    info["curriculum_report"] = report
        return obs, reward, terminated, truncated, info

    # ---- state and diagnostics -----------------------------------------------------------------------

    def diagnostics(self) -> dict[str, Any]:
        """The curriculum's diagnostics plus the wrapper's episode counts."""
        out = self.curriculum.diagnostics()
        out["curriculum/explicit_episodes"] = self._counts["explicit"]
        out["curriculum/abandoned_episodes"] = self._counts["abandoned"]
        return out

    def state_dict(self) -> dict[str, Any]:
        """The curriculum's state and the batch being served. An episode in progress is not saved: after
        `load_state_dict` it counts as abandoned (NaN), and the next `reset` opens the batch's next slot."""
        batch = None
        if self._ids is not None:
            batch = {
                "phase": self._batch_phase,
                "ids": self._ids.copy(),
                "attempts": self._row_counts.copy(),
                "continues": self._continues.copy(),
                "rewards": self._reward_array(),
                "next_slot": self._next_slot,
            }
        return {
            "curriculum": self.curriculum.state_dict(),
            "batch": batch,
            "counts": dict(self._counts),
            "attempts_per_question": self.attempts_per_question,
            "seeding": (self._seed, self._seed_slot, self._batches),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("attempts_per_question") != self.attempts_per_question:
            raise ValueError(
                f"state was saved with attempts_per_question={state.get('attempts_per_question')}, "
                f"this wrapper has {self.attempts_per_question}"
            )
        self.curriculum.load_state_dict(state["curriculum"])
        self._clear_batch()
        batch = state["batch"]
        if batch is not None:
            ids = batch["ids"].copy()
            req = Request(batch["phase"], ids, batch["attempts"], batch.get("continues"))
            self._serve(req)
            r = np.asarray(batch["rewards"], dtype=float)
            self._returns = r[np.arange(r.shape[1])[None, :] < self._row_counts[:, None]].tolist()
            self._next_slot = int(batch["next_slot"])
        self._counts = dict(state["counts"])
        self._seed, self._seed_slot, self._batches = state["seeding"]
        self._current, self._phase = -1, None

    # ---- internals -----------------------------------------------------------------------------------

    def _apply_seed(self, seed: int) -> None:
        """Gymnasium's seed-once convention (see the class docstring); the inner env gets `seed` anyway."""
        first, again, previous = self._seed is None, seed == self._seed, self._seed_slot
        self._seed, self._seed_slot = (
            seed,
            None,
        )  # the curriculum branch of reset() records the slot it serves
        if again and previous is not None and previous[0] == self._batches and self._ids is not None:
            slot = previous[1]  # serve that episode again; the batch goes on from there
            self._returns[slot] = math.nan
            self._next_slot = slot
            return
        if first or (again and previous is not None):  # (previous None: it opened an explicit question)
            finished = sum(not math.isnan(r) for r in self._returns)
            if finished:
                warnings.warn(
                    f"reset(seed={seed}) seeds the curriculum and drops the batch in progress, with "
                    f"{finished} finished episodes; seed the first reset only to keep them",
                    stacklevel=3,
                )
            self._clear_batch()
            self.curriculum.seed(seed)

    def _clear_batch(self) -> None:
        self._batch_phase = "train"
        self._ids: np.ndarray | None = None
        self._id_list: list[int] = []
        self._attempts: int | None = self.attempts_per_question  # episodes per row; None: they differ
        self._row_counts = np.zeros(0, dtype=np.int64)  # episodes of each row (the request's attempts)
        self._starts = np.zeros(1, dtype=np.int64)  # first slot of each row, and the total at the end
        self._slot_row: list[int] = []  # row of each slot, when rows differ in episodes
        self._slot_start: list[int] = []
        self._continues = np.zeros(0, dtype=bool)
        self._returns: list[float] = []  # episode returns of the batch, row-major; NaN until an episode ends
        self._next_slot = 0

    def _next_batch(self) -> None:
        req = self.curriculum.next_request()
        if req.question_ids.size == 0:
            raise RuntimeError(
                f"{self.curriculum.name} returned no question to attempt; a request must not be empty"
            )
        self._batches += 1
        self._serve(req)

    def _serve(self, req: Request) -> None:
        """Lay the request out in episode slots: row i gets its `counts(G)[i]` episodes in a row."""
        ids = np.asarray(req.question_ids)
        self._batch_phase, self._ids, self._id_list = req.phase, ids, ids.tolist()
        self._row_counts = req.counts(self.attempts_per_question)
        self._continues = req.continuing()
        self._starts = np.concatenate([[0], np.cumsum(self._row_counts)])
        same = self._row_counts.size and (self._row_counts == self._row_counts[0]).all()
        self._attempts = int(self._row_counts[0]) if same else None
        # per-episode lookups as Python lists: reset() costs no numpy call however the counts differ
        self._slot_row = [] if same else np.repeat(np.arange(ids.size), self._row_counts).tolist()
        self._slot_start = [] if same else self._starts.tolist()
        self._returns = [math.nan] * int(self._starts[-1])
        self._next_slot = 0

    def _row_of(self, slot: int) -> tuple[int, int]:
        """(row, attempt) of an episode slot."""
        if self._attempts is not None:
            return divmod(slot, self._attempts)
        row = self._slot_row[slot]
        return row, slot - self._slot_start[row]

    def _reward_array(self) -> np.ndarray:
        if self._attempts is not None:
            return np.array(self._returns, dtype=np.float32).reshape(-1, self._attempts)
        return padded_rewards(self._returns, self._row_counts).astype(np.float32)

    def _abandon(self) -> dict[str, Any] | None:
        """The curriculum episode in progress ends unfinished (NaN); report the batch if that completes it."""
        if self._current < 0:
            return None
        self._counts["abandoned"] += 1
        self._current = -1
        return self._maybe_report()

    def _maybe_report(self) -> dict[str, Any] | None:
        if self._ids is None or self._current >= 0 or self._next_slot < len(self._returns):
            return None
        ids, rewards, phase, continues = self._ids, self._reward_array(), self._batch_phase, self._continues
        self._clear_batch()
        fb = self.curriculum.report(ids, rewards, phase)
        self.last_report = {
            "phase": phase,
            "question_ids": ids,
            "rewards": rewards,
            "keep": fb.keep,
            "done": fb.done,
            "hold": fb.held(),
            "continues": continues,
        }
        return self.last_report

"""Prioritized Level Replay (Jiang, Grefenstette & Rocktaeschel 2021) with questions as levels."""

from __future__ import annotations

import math

import numpy as np

from curricula.base import EMPTY, Curriculum, learnability

SCORES = {"learnability": learnability, "failure": lambda p: 1.0 - p}


class Prioritized(Curriculum):
    """PLR: replay seen questions by rank-based score priority mixed with staleness; draw the rest fresh.

    Each batch takes `fresh_share` of its questions from the uniform epoch order (unseen ones first, since
    replay only returns seen questions) and replays the rest from a buffer of the `buffer_size` best-scoring
    seen questions with P = (1 - staleness_coef) * P_S + staleness_coef * P_C, where
    P_S(i) is proportional to (1 / rank(score_i)) ** (1 / temperature) and P_C(i) to iterations since i was last
    attempted. Scores come from each question's latest group of attempts: p(1 - p) by default, or
    1 - p (`score="failure"`). The bounded buffer keeps the cost per batch independent of the pool size.

    The default temperature is 1, not PLR's 0.1: PLR draws one level per worker with replacement, where 0.1
    puts ~90% of the mass on the top rank; a batch drawn without replacement would then take its first
    question by score and the rest almost only by staleness. At 1, the top-scoring questions fill the batch.
    """

    name = "prioritized"
    _state_keys = ("buffer",)

    def __init__(self, num_questions: int, seed: int = 0, *, score: str = "learnability", temperature: float = 1.0,
                 staleness_coef: float = 0.1, fresh_share: float = 0.5, buffer_size: int | None = None,
                 batch_size: int = 64, solved_threshold: float = 0.5) -> None:
        super().__init__(num_questions, seed, batch_size=batch_size, solved_threshold=solved_threshold)
        K = min(4096, self.num_questions) if buffer_size is None else buffer_size
        self._require(score in SCORES, f"unknown score {score!r}; choose one of {sorted(SCORES)}")
        self._require(temperature > 0, f"temperature must be > 0 (smaller replays the top ranks more), got {temperature!r}")
        self._require(0.0 <= staleness_coef <= 1.0, f"staleness_coef must lie in [0, 1], got {staleness_coef!r}")
        self._require(0.0 <= fresh_share <= 1.0, f"fresh_share must lie in [0, 1], got {fresh_share!r}")
        self._require(isinstance(K, int) and 1 <= K <= self.num_questions,
                      f"buffer_size must be an int in [1, {self.num_questions}] (the pool size), got {K!r}")
        self.score, self.temperature, self.staleness_coef = score, float(temperature), float(staleness_coef)
        self.fresh_share, self.buffer_size = float(fresh_share), K
        self.config.update(score=score, temperature=self.temperature, staleness_coef=self.staleness_coef,
                           fresh_share=self.fresh_share, buffer_size=K)
        self.buffer = EMPTY.copy()  # seen question ids, best score first (ties: latest attempted, then id)
        self._member = np.zeros(self.num_questions, dtype=np.int8)  # 1 where in the buffer (derived state)
        self._rank_weights = np.zeros(0)  # (1 / rank) ** (1 / temperature), cached per buffer size
        self._probs: np.ndarray | None = None  # replay distribution over the buffer, rebuilt after updates
        self._replayable = 0  # buffer slots with non-zero replay probability
        self._slots: dict[int, int] | None = None  # question id -> buffer slot, built when question_info asks

    def replay_probs(self) -> np.ndarray:
        """P(replay picks buffer[j]) for each buffer slot (the buffer is ordered by score, so rank = j + 1)."""
        if self._probs is None:
            if self.buffer.size == 0:
                self._probs = np.zeros(0)
            else:
                if self._rank_weights.size != self.buffer.size:
                    h = (1.0 / np.arange(1, self.buffer.size + 1)) ** (1.0 / self.temperature)
                    self._rank_weights = h / h.sum()
                probs = self._rank_weights
                staleness = (self.iteration - self.last_seen[self.buffer]).astype(np.float64)
                if self.staleness_coef > 0 and staleness.sum() > 0:
                    probs = (1 - self.staleness_coef) * probs + self.staleness_coef * staleness / staleness.sum()
                self._probs = probs
            self._replayable = int(np.count_nonzero(self._probs))
        return self._probs

    def _sample(self, n: int | None = None) -> np.ndarray:
        n = self._n(n)
        probs = self.replay_probs()
        n_replay = min(n - round(self.fresh_share * n), self._replayable)
        replay = EMPTY
        if n_replay:
            # successive draws without replacement, each in proportion to probs (exponential race:
            # the n_replay smallest of Exp(1) / probs, in the order they finish)
            with np.errstate(divide="ignore"):
                race = self.rng.standard_exponential(probs.size) / probs
            first = np.argpartition(race, n_replay - 1)[:n_replay]
            replay = self.buffer[first[np.argsort(race[first])]]
        return np.concatenate([replay, self._draw_uniform(n - n_replay)])

    def _after_update(self, ids, solved, tried, phase):
        """Merge the questions just attempted into the score-ordered buffer and keep the best K.

        Scores change only for questions just attempted, so the rest of the buffer stays in order: take the
        attempted ones out, and insert them (and newcomers) where their new score puts them, ahead of older
        entries with an equal score. No sort over the buffer: the cost per update is O(K), not O(K log K).
        """
        new = np.unique(ids[tried > 0])  # ascending id: the last tie-break
        if new.size == 0:
            return
        member = self._member
        was = member[new]
        member[new] |= 2
        rest = self.buffer[member[self.buffer] < 2]
        member[new] = was
        score = SCORES[self.score]
        new_score = score(self.p[new].astype(np.float64))
        order = np.argsort(-new_score, kind="stable")
        new, new_score = new[order], new_score[order]
        at = np.searchsorted(-score(self.p[rest].astype(np.float64)), -new_score, side="left")
        merged = np.insert(rest, at, new)
        member[new] = 1
        member[merged[self.buffer_size:]] = 0
        self.buffer = merged[: self.buffer_size]
        self._invalidate()

    def _invalidate(self):
        self._probs = None
        self._slots = None

    def _on_load(self):
        self._member[:] = 0
        self._member[self.buffer] = 1
        self._invalidate()

    def _slot(self, question_id: int) -> int:
        if self._slots is None:  # built once per update, only when someone asks (the Gymnasium path)
            self._slots = dict(zip(self.buffer.tolist(), range(self.buffer.size), strict=True))
        return self._slots.get(int(question_id), -1)

    def _in_buffer(self, question_id: int) -> bool:
        return bool(self._member[question_id])

    def _sampling_prob(self, question_id: int) -> float:
        probs = self.replay_probs()
        replay_share = min(1.0 - self.fresh_share, self._replayable / self.batch_size)
        slot = self._slot(question_id)
        return float((1.0 - replay_share) / self.num_questions + (replay_share * probs[slot] if slot >= 0 else 0.0))

    def _buffer_stats(self):
        if self.buffer.size == 0:
            return 0, 0, math.nan
        age = float(np.mean(self.iteration - self.last_seen[self.buffer]))
        return int(self.buffer.size), age, float(np.mean(learnability(self.p[self.buffer].astype(np.float64))))

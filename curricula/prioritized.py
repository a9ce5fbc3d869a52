"""Prioritized Level Replay (Jiang, Grefenstette & Rocktaeschel 2021) with questions as levels."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from curricula.protocol import EMPTY, Curriculum
from curricula.statistics import SOLVED_REWARD, learnability

SCORES = {"learnability": learnability, "failure": lambda p: 1.0 - p}


class Groups:
    """Question ids grouped by an integer key, each group an array with O(1) add, remove (the last member
    moves into the hole) and uniform draws; `slot[q]` is q's index in its group. Plain numpy arrays and
    dicts, so a curriculum's state_dict copies it whole."""

    def __init__(self, num_questions: int) -> None:
        self.slot = np.full(num_questions, -1, dtype=np.int32)
        self.members: dict[int, np.ndarray] = {}  # key -> array (capacity >= size)
        self.size: dict[int, int] = {}

    def add(self, key: int, ids: np.ndarray) -> None:
        """Add `ids` (unique, in no group) to group `key`."""
        size = self.size.get(key, 0)
        arr = self.members.get(key)
        if arr is None or arr.size < size + ids.size:
            grown = np.empty(max(16, 2 * (size + ids.size)), dtype=np.int32)
            if arr is not None:
                grown[:size] = arr[:size]
            arr = self.members[key] = grown
        arr[size : size + ids.size] = ids
        self.slot[ids] = np.arange(size, size + ids.size, dtype=np.int32)
        self.size[key] = size + ids.size

    def remove(self, key: int, ids: np.ndarray) -> None:
        """Remove `ids` (unique, all in group `key`): members from the tail fill the holes."""
        arr, size = self.members[key], self.size[key]
        slots = self.slot[ids].astype(np.int64)
        new = size - ids.size
        tail = np.ones(size - new, dtype=bool)
        tail[slots[slots >= new] - new] = False  # tail positions being removed anyway
        movers = np.arange(new, size)[tail]
        holes = slots[slots < new]
        arr[holes] = arr[movers]
        self.slot[arr[holes]] = holes
        self.slot[ids] = -1
        if new:
            self.size[key] = new
        else:
            del self.size[key], self.members[key]

    def pick(self, key: int, k: int, rng: np.random.Generator, replace: bool) -> np.ndarray:
        """`k` uniform members of group `key` (distinct unless `replace`)."""
        return self.members[key][rng.choice(self.size[key], k, replace=replace)].astype(np.int64)

    def state(self) -> dict[str, Any]:
        return {"slot": self.slot, "members": self.members, "size": self.size}

    def load(self, state: dict[str, Any]) -> None:
        self.slot, self.members, self.size = state["slot"], state["members"], state["size"]


class Prioritized(Curriculum):
    """PLR: each draw replays a seen question with probability P_replay = (seen questions) / (pool), else
    opens an unseen one; a replay picks question i with P = (1 - staleness_coef) P_S + staleness_coef P_C.

    As in facebookresearch/level-replay (`LevelSampler`, proportionate replay schedule, rank score
    transform, power staleness transform): P_S(i) is proportional to (1 / rank_i) ** (1 / temperature),
    rank 1 the highest score among *all* seen questions; P_C(i) to i's staleness; every draw is independent
    (with replacement), so a batch can hold a question several times; unseen questions come only from fresh
    draws (uniform over the unseen); once every question is seen, every draw is a replay. Defaults are the
    PLR commands': temperature 0.1, staleness_coef 0.1, rank transform.

    Adapted to questions: the score is `score(p)` of the question's latest group of attempts, p(1 - p) by
    default (PLR scores a level by its mean |GAE| or similar; without a value function, the reward variance
    p(1 - p) is the learnability signal a group gives), or 1 - p (`score="failure"`); staleness counts
    training iterations since the question's latest attempts were requested (PLR counts sampling events;
    a report that comes late dates its attempts by their request, and an older group reported after a newer
    one changes neither the score nor the staleness); ties in score
    are ranked in a random order, drawn afresh for each batch (PLR's argsort leaves them arbitrary); PLR's
    replay threshold rho (replay only once that share of levels is seen; 1.0 in its commands) is 0 here,
    since on a pool of 10^5 questions a full pass before any replay would mean no replay at all.

    Cost: questions are kept in groups by score and by the iteration they were last attempted, so a batch
    costs O(batch x log(seen)) plus O(iterations since the stalest seen question), never a pass over the
    pool.
    """

    name = "prioritized"
    options_doc: ClassVar[dict[str, str]] = {
        "score": "learnability (p(1 - p) of the latest group) or failure (1 - p)",
        "temperature": "rank temperature of the replay distribution (PLR's 0.1)",
        "staleness_coef": "weight of staleness in the replay distribution (PLR's 0.1)",
    }
    _state_keys = ("_by_score", "_by_time", "_time_size", "_time_lo", "_last_seen_sum")

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        score: str = "learnability",
        temperature: float = 0.1,
        staleness_coef: float = 0.1,
        batch_size: int = 64,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        super().__init__(num_questions, seed, batch_size=batch_size, solved_threshold=solved_threshold)
        self._require(score in SCORES, f"unknown score {score!r}; choose one of {sorted(SCORES)}")
        self._require(
            temperature > 0,
            f"temperature must be > 0 (smaller replays the top ranks more), got {temperature!r}",
        )
        self._require(
            0.0 <= staleness_coef <= 1.0, f"staleness_coef must lie in [0, 1], got {staleness_coef!r}"
        )
        self.score, self.temperature, self.staleness_coef = score, float(temperature), float(staleness_coef)
        self.config.update(score=score, temperature=self.temperature, staleness_coef=self.staleness_coef)
        self._scores = Groups(
            self.num_questions
        )  # by score level: key = index into _levels (see _level_keys)
        self._times = Groups(self.num_questions)  # by the iteration of the latest attempt
        self._level_of: dict[float, int] = {}  # score value -> group key, for groups with members
        self._next_level = 0  # key of the next new score value
        self._time_size = np.zeros(16, dtype=np.int64)  # seen questions last attempted at each iteration
        self._time_lo = 0  # no seen question was last attempted before this iteration
        self._last_seen_sum = 0  # sum of last_seen over seen questions (mean staleness in O(1))
        self._rank_cdf = np.zeros(0)  # cumulative (1 / rank) ** (1 / temperature), grown on demand
        self._cache: tuple[Any, ...] | None = None  # sampling tables, rebuilt after each report or iteration
        self._mass: dict[int, float] = {}  # P_S of one question, by score group (with the tables)
        self._version = 0

    # group state lives in Groups objects; state_dict sees plain dicts
    @property
    def _by_score(self) -> dict[str, Any]:
        return {"groups": self._scores.state(), "levels": dict(self._level_of), "next": self._next_level}

    @_by_score.setter
    def _by_score(self, state: dict[str, Any]) -> None:
        self._scores.load(state["groups"])
        self._level_of, self._next_level = dict(state["levels"]), state["next"]

    @property
    def _by_time(self) -> dict[str, Any]:
        return self._times.state()

    @_by_time.setter
    def _by_time(self, state: dict[str, Any]) -> None:
        self._times.load(state)

    # ---- what a draw does --------------------------------------------------------------------------------

    def _sample(self, n: int | None = None) -> np.ndarray:
        n = self._n(n)
        seen = self.stats.seen
        replays = int(self.rng.binomial(n, seen / self.num_questions)) if seen else 0
        levels, counts, cdf, time_keys, time_cdf = self._tables()
        stale = (
            int(self.rng.binomial(replays, self.staleness_coef)) if time_cdf.size and time_cdf[-1] > 0 else 0
        )
        parts = [
            self._draw_unseen(n - replays),
            self._draw_by_rank(replays - stale, levels, counts, cdf),
            self._draw_by_staleness(stale, time_keys, time_cdf),
        ]
        ids = np.concatenate(parts)
        self.rng.shuffle(ids)
        return ids

    def _draw_unseen(self, k: int) -> np.ndarray:
        """`k` unseen questions, uniformly: the next ones in the epoch order, seen questions skipped (and
        left where they are, so no unseen question is passed over)."""
        out, n = [], self.num_questions
        k = min(k, n - self.stats.seen)
        while k > 0:
            order = self._epoch()
            window = order[
                self._order_pos : min(n, self._order_pos + max(64, 2 * k * n // (n - self.stats.seen)))
            ]
            found = np.flatnonzero(np.isnan(self.p[window]))[:k]
            if found.size == k:
                self._order_pos += int(found[-1]) + 1
            else:
                self._order_pos += window.size
            out.append(window[found].astype(np.int64))
            k -= found.size
        return np.concatenate(out) if out else EMPTY.copy()

    def _draw_by_rank(self, k: int, levels: np.ndarray, counts: np.ndarray, cdf: np.ndarray) -> np.ndarray:
        """`k` independent draws of a rank r with P proportional to (1 / r) ** (1 / temperature), each mapped
        to the question at that rank (ties in score in a random order: distinct ranks, distinct questions)."""
        if k == 0:
            return EMPTY.copy()
        rank = np.minimum(np.searchsorted(cdf, self.rng.random(k) * cdf[-1], side="right"), cdf.size - 1)
        ends = np.cumsum(counts)
        level = np.searchsorted(ends, rank, side="right")
        pos = rank - (ends[level] - counts[level])
        out = np.empty(k, dtype=np.int64)
        for lv in np.unique(level):
            mask = level == lv
            distinct, inverse = np.unique(pos[mask], return_inverse=True)
            out[mask] = self._scores.pick(int(levels[lv]), distinct.size, self.rng, replace=False)[inverse]
        return out

    def _draw_by_staleness(self, k: int, time_keys: np.ndarray, time_cdf: np.ndarray) -> np.ndarray:
        """`k` independent draws with P(i) proportional to iterations since i was last attempted."""
        if k == 0:
            return EMPTY.copy()
        group = np.searchsorted(time_cdf, self.rng.random(k) * time_cdf[-1], side="right")
        out = np.empty(k, dtype=np.int64)
        for g in np.unique(group):
            mask = group == g
            out[mask] = self._times.pick(int(time_keys[g]), int(mask.sum()), self.rng, replace=True)
        return out

    def _tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(score group keys best first, their sizes, rank cdf over the seen, iteration keys, staleness cdf),
        rebuilt once per report or iteration; also `_mass[key]`, P_S of one question of score group `key`.
        Costs O(score groups + iterations since the stalest seen question), never O(pool)."""
        key = (self._version, self.iteration)
        if self._cache is None or self._cache[0] != key:
            size = self._scores.size
            by_value = sorted(self._level_of.items(), key=lambda vg: -vg[0])
            levels = np.array([g for _, g in by_value], dtype=np.int64)
            counts = np.array([size[g] for g in levels.tolist()], dtype=np.int64)
            seen = int(counts.sum())
            if self._rank_cdf.size < seen:
                grow = min(self.num_questions, max(seen, 2 * self._rank_cdf.size, 1024))
                self._rank_cdf = np.cumsum(
                    np.arange(1, grow + 1, dtype=np.float64) ** (-1.0 / self.temperature)
                )
            cdf = self._rank_cdf[:seen]
            self._mass = {}
            if seen:
                ends = np.cumsum(counts)
                mass = np.diff(np.concatenate([[0.0], cdf[ends - 1]])) / cdf[-1] / counts
                self._mass = dict(zip(levels.tolist(), mass.tolist(), strict=True))
            hi = self.iteration  # questions attempted in the current iteration have staleness 0
            time_keys = np.arange(self._time_lo, min(hi, self._time_size.size))
            weights = self._time_size[time_keys] * (self.iteration - time_keys)
            self._cache = (key, levels, counts, cdf, time_keys, np.cumsum(weights, dtype=np.float64))
        return self._cache[1:]

    # ---- bookkeeping -------------------------------------------------------------------------------------

    def _observe(self, ids, attempts, successes):
        """Move the questions just attempted to their new score group and to the iteration they were requested
        at (a late report: `report_lag` iterations back); a question holding newer evidence stays put."""
        self._version += 1
        when = self.iteration - self.report_lag
        newer = self.last_seen[ids] <= when
        ids, attempts, successes = ids[newer], attempts[newer], successes[newer]
        old_p = self.p[ids]
        was = ~np.isnan(old_p)
        if was.any():
            for g, members in self._split(self._level_keys(old_p[was]), ids[was]):
                self._scores.remove(g, members)
            if len(self._level_of) > len(self._scores.size):  # forget score values no question holds any more
                self._level_of = {v: g for v, g in self._level_of.items() if g in self._scores.size}
            old_time = self.last_seen[ids[was]].astype(np.int64)
            for t, members in self._split(old_time, ids[was]):
                self._times.remove(int(t), members)
                self._time_size[t] -= members.size
            self._last_seen_sum -= int(old_time.sum())
        new_p = (successes / attempts).astype(np.float32)
        for g, members in self._split(self._level_keys(new_p), ids):
            self._scores.add(g, members)
        t = when
        if self._time_size.size <= t:
            self._time_size = np.concatenate(
                [self._time_size, np.zeros(max(t + 1, self._time_size.size), dtype=np.int64)]
            )
        self._times.add(t, ids.astype(np.int32))
        self._time_size[t] += ids.size
        self._last_seen_sum += t * ids.size
        self._time_lo = min(self._time_lo, t)
        while self._time_lo < t and self._time_size[self._time_lo] == 0:
            self._time_lo += 1

    def _level_keys(self, p: np.ndarray) -> np.ndarray:
        """Group key of each score value (a new key for a value never seen before)."""
        values = SCORES[self.score](p.astype(np.float64))
        uniq, inverse = np.unique(values, return_inverse=True)
        keys = np.empty(uniq.size, dtype=np.int64)
        for i, v in enumerate(uniq.tolist()):
            if v not in self._level_of:
                self._level_of[v] = self._next_level
                self._next_level += 1
            keys[i] = self._level_of[v]
        return keys[inverse]

    @staticmethod
    def _split(keys: np.ndarray, ids: np.ndarray):
        order = np.argsort(keys, kind="stable")
        keys, ids = keys[order], ids[order]
        cuts = np.flatnonzero(np.diff(keys)) + 1
        for chunk_keys, chunk in zip(np.split(keys, cuts), np.split(ids, cuts), strict=True):
            yield int(chunk_keys[0]), chunk.astype(np.int32)

    def _restart(self):
        self._cache = None

    def _on_load(self):
        self._cache = None
        self._version += 1

    # ---- what the wrapper and diagnostics ask -------------------------------------------------------------

    def sampling_probs(self, question_ids: Any) -> np.ndarray:
        """P(one draw of a batch picks each of `question_ids`), as PLR defines it (ties in score share their
        ranks' probability evenly)."""
        return np.array([self._sampling_prob(q) for q in np.asarray(question_ids).reshape(-1).tolist()])

    def _sampling_prob(self, question_id: int) -> float:
        # plain Python floats: the wrapper asks this for every episode
        time_cdf = self._tables()[-1]
        n, seen = self.num_questions, self.stats.seen
        p = float(self.p[question_id])
        if p != p:  # unseen: only a fresh draw opens it
            return (1.0 - seen / n) / max(1, n - seen)
        by_score = self._mass[self._level_of[SCORES[self.score](p)]]
        total = float(time_cdf[-1]) if time_cdf.size else 0.0
        if total <= 0:
            return seen / n * by_score
        stale = (self.iteration - int(self.last_seen[question_id])) / total
        return seen / n * ((1.0 - self.staleness_coef) * by_score + self.staleness_coef * stale)

    def _in_buffer(self, question_id: int) -> bool:
        p = float(self.p[question_id])
        return p == p  # seen: every seen question can be replayed

    def _buffer_stats(self):
        if not self.stats.seen:
            return 0, 0, math.nan
        levels, counts, *_ = self._tables()
        value = {g: v for v, g in self._level_of.items()}
        mean_score = float(
            sum(value[int(g)] * c for g, c in zip(levels.tolist(), counts.tolist(), strict=True))
            / self.stats.seen
        )
        return self.stats.seen, self.iteration - self._last_seen_sum / self.stats.seen, mean_score

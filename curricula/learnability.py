"""Sampling for learnability (Foster & Foerster 2025): train where p(1 - p), the reward variance, is high.

`Learnability` is the buffer form of the paper's released configuration; `LearnabilityFilter` the in-batch
form of its later version.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import numpy as np

from curricula.protocol import EMPTY, Curriculum
from curricula.statistics import SOLVED_REWARD, learnability

#: (T, N, K) of the paper's settings at its batch of N_l = 64 questions; L=8, rho=0.5 in all three.
LEARNABILITY_PRESETS = {
    "recommended": {"refresh_every": 50, "num_candidates": 1280, "buffer_size": 256},
    "fast": {"refresh_every": 10, "num_candidates": 256, "buffer_size": 64},
    "very_fast": {"refresh_every": 5, "num_candidates": 128, "buffer_size": 64},
}
PAPER_BATCH = 64  # N_l of the paper's presets


def buffer_options(preset: str = "recommended", batch_size: int = PAPER_BATCH) -> dict[str, Any]:
    """The paper's buffer preset for a batch of `batch_size` (N_l) questions: T as in the paper, N and K
    scaled by N_l / 64 so that N / N_l and K / N_l keep the paper's ratios, L = 8, rho = 0.5.

    The three presets spend the same probe compute per training step, N x L / T = 0.4 N_l x L (205 attempts
    at the paper's 64 x 8), so the scaled buffer keeps the paper's balance of probe to training attempts
    (29% of all attempts at G = L = 8) at any batch size; unscaled, the recommended N = 1280 at N_l = 8 would
    spend 1280 x 8 probe attempts before the first update. At N_l = 64 this is the paper's table exactly.
    The one place the buffer's size is decided: `Learnability` (every entry point builds it), and
    scripts/reproduce.py."""
    if preset not in LEARNABILITY_PRESETS:
        raise ValueError(
            f"learnability: unknown preset {preset!r}; choose one of {sorted(LEARNABILITY_PRESETS)} "
            f"or pass refresh_every, num_candidates and buffer_size yourself"
        )
    chosen = LEARNABILITY_PRESETS[preset]
    scale = batch_size / PAPER_BATCH
    return {
        "refresh_every": chosen["refresh_every"],
        "num_candidates": max(1, round(chosen["num_candidates"] * scale)),
        "buffer_size": max(1, round(chosen["buffer_size"] * scale)),
        "probe_attempts": 8,
        "rho": 0.5,
    }


class Learnability(Curriculum):
    """Buffer SFL: every T iterations, probe N uniform candidates L times each and keep the K with the
    highest p(1 - p) as the buffer; each batch of N_l takes a share rho from the buffer (without
    replacement) and the rest uniformly from the pool.

    `preset` gives T, N and K from the paper's table, N and K scaled to `batch_size` (`buffer_options`);
    options given explicitly win. Probe attempts score questions; by default they are not trained on
    (`train_on_probes`), as in the paper, and they always count in `curriculum/probe_attempts`. A probe
    report that scores no candidate (empty, or every attempt NaN) is not a refresh: the old buffer stays,
    a warning says so, and the next request is a new probe.
    """

    name = "learnability"
    options_doc: ClassVar[dict[str, str]] = {
        "preset": "the paper's buffer setting: recommended (T=50, N=1280, K=256 at N_l=64), fast, very_fast",
        "refresh_every": "T: training iterations between probes (None: the preset's)",
        "num_candidates": "N: questions a probe attempts (None: the preset's, scaled to batch_size)",
        "buffer_size": "K: the most learnable candidates kept (None: the preset's, scaled to batch_size)",
        "probe_attempts": "L: attempts per probe question",
        "rho": "share of each batch drawn from the buffer (the rest uniformly)",
        "train_on_probes": "also train on the probe groups",
    }
    _state_keys = ("buffer", "buffer_learnability", "last_refresh", "_pending")

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        preset: str = "recommended",
        refresh_every: int | None = None,
        num_candidates: int | None = None,
        buffer_size: int | None = None,
        probe_attempts: int = 8,
        batch_size: int = 64,
        rho: float = 0.5,
        train_on_probes: bool = False,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        buffer_options(preset)  # an unknown preset fails before anything else
        super().__init__(num_questions, seed, batch_size=batch_size, solved_threshold=solved_threshold)
        chosen = buffer_options(preset, self.batch_size)
        T = chosen["refresh_every"] if refresh_every is None else refresh_every
        N = chosen["num_candidates"] if num_candidates is None else num_candidates
        K = chosen["buffer_size"] if buffer_size is None else buffer_size
        L = probe_attempts
        self._require(isinstance(T, int) and T >= 1, f"refresh_every (T) must be an int >= 1, got {T!r}")
        self._require(isinstance(N, int) and N >= 1, f"num_candidates (N) must be an int >= 1, got {N!r}")
        self._require(isinstance(K, int) and K >= 1, f"buffer_size (K) must be an int >= 1, got {K!r}")
        self._require(
            isinstance(L, int) and L >= 2,
            f"probe_attempts (L) must be an int >= 2 (p(1-p) of one attempt is always 0), got {L!r}",
        )
        self._require(
            K <= N,
            f"buffer_size K={K} exceeds num_candidates N={N}: the buffer keeps the K best of "
            f"N candidates, so lower K or raise N",
        )
        self._require(
            N <= self.num_questions,
            f"num_candidates N={N} exceeds the pool of {self.num_questions} "
            f"questions: lower N (e.g. preset='very_fast') or use a larger pool",
        )
        self._require(
            0.0 <= rho <= 1.0,
            f"rho (share of each batch drawn from the buffer) must lie in [0, 1], got {rho!r}",
        )
        self._require(
            round(rho * self.batch_size) <= K,
            f"rho * batch_size = {round(rho * self.batch_size)} buffer questions per batch exceed the "
            f"buffer of K={K}: lower rho or batch_size, or raise buffer_size",
        )
        self.refresh_every, self.num_candidates, self.buffer_size, self._probe_attempts = T, N, K, L
        self.rho = float(rho)
        self.train_on_probes = bool(train_on_probes)
        self.config.update(
            refresh_every=T,
            num_candidates=N,
            buffer_size=K,
            probe_attempts=L,
            rho=self.rho,
            train_on_probes=self.train_on_probes,
        )
        self.buffer = EMPTY.copy()  # question ids, best learnability first
        self.buffer_learnability = np.zeros(0)
        self.last_refresh = -1  # iteration at which the buffer was last rebuilt
        self._pending = EMPTY.copy()  # candidates drawn, results not yet reported
        self._members: frozenset[int] = frozenset()  # the buffer as a set: O(1) membership for question_info

    @property
    def probe_attempts(self) -> int:
        return self._probe_attempts

    def refresh_due(self) -> bool:
        """Is a probe due before the next training batch (first batch, or T iterations since the refresh)?"""
        return self.last_refresh < 0 or self.iteration - self.last_refresh >= self.refresh_every

    def planned_probe_attempts(self, iterations: int) -> int:
        first = (
            self.iteration
            if (self._pending.size or self.refresh_due())
            else self.last_refresh + self.refresh_every
        )
        ahead = self.iteration + iterations - first
        refreshes = max(0, math.ceil(ahead / self.refresh_every))
        return refreshes * self.num_candidates * self.probe_attempts

    def _probe_ids(self) -> np.ndarray:
        if self._pending.size == 0 and self.refresh_due():
            self._pending = self.rng.choice(self.num_questions, self.num_candidates, replace=False)
        return self._pending.copy()

    def _sample(self, n: int | None = None) -> np.ndarray:
        n = self._n(n)
        if self.buffer.size == 0:
            self._warn_once(
                "no_buffer",
                "learnability: a training batch before the first buffer was built, so it "
                "is uniform; report the probe request that next_request() returns first",
            )
        n_buffer = min(round(self.rho * n), self.buffer.size)
        ids = np.concatenate(
            [self.rng.choice(self.buffer, n_buffer, replace=False), self._draw_uniform(n - n_buffer)]
        )
        self.rng.shuffle(ids)
        return ids

    def _keep(self, ids, solved, tried, phase):
        if phase == "probe":
            return (tried > 0) & self.train_on_probes
        return tried > 0

    def _check(self, ids, phase):
        if phase != "probe":
            return
        if self._pending.size == 0:
            raise ValueError(
                "learnability: got a probe report but no probe was requested; report the ids of "
                "the probe request next_request() returned, with phase='probe'"
            )
        if not np.isin(ids, self._pending).all():
            raise ValueError("learnability: the probe report holds ids the probe request did not ask for")

    def _after_update(self, ids, solved, tried, phase):
        if phase != "probe":
            return
        # per-candidate totals, in the order the candidates were drawn (a random order: fair tie-breaks)
        order = np.argsort(self._pending)
        pos = order[np.searchsorted(self._pending[order], ids)]
        a = np.bincount(pos, weights=tried, minlength=self._pending.size).astype(np.float64)
        s = np.bincount(pos, weights=solved, minlength=self._pending.size).astype(np.float64)
        scored = a > 0
        if not scored.any():
            warnings.warn(
                f"learnability: the probe report scored none of its {self._pending.size} candidates "
                f"({ids.size} reported, no finished attempt): the buffer is not refreshed (it keeps "
                f"its {self.buffer.size} questions) and the next request is a new probe",
                stacklevel=3,
            )
            self._pending = EMPTY.copy()
            return
        score = np.where(scored, learnability(np.divide(s, a, out=np.zeros_like(a), where=scored)), -np.inf)
        best = np.argsort(-score, kind="stable")[: self.buffer_size]
        best = best[scored[best]]
        self.buffer = self._pending[best]
        self.buffer_learnability = score[best]
        self._on_load()
        self._pending = EMPTY.copy()
        self.last_refresh = self.iteration

    def _restart(self):
        self._pending = EMPTY.copy()

    def _on_load(self):
        self._members = frozenset(self.buffer.tolist())

    def _in_buffer(self, question_id: int) -> bool:
        return int(question_id) in self._members

    def _sampling_prob(self, question_id: int) -> float:
        if self.buffer.size == 0:
            return 1.0 / self.num_questions
        share = min(round(self.rho * self.batch_size), self.buffer.size) / self.batch_size
        return (1.0 - share) / self.num_questions + (
            share / self.buffer.size if self._in_buffer(question_id) else 0.0
        )

    def _buffer_stats(self):
        if self.last_refresh < 0:
            return 0, 0, math.nan
        return (
            int(self.buffer.size),
            self.iteration - self.last_refresh,
            float(self.buffer_learnability.mean()),
        )


class LearnabilityFilter(Curriculum):
    """In-batch SFL: draw ratio x N_l uniform candidates, attempt all, train on the N_l with the highest
    p(1 - p) estimated from their own attempts in this batch."""

    name = "learnability_filter"
    min_attempts = 2
    options_doc: ClassVar[dict[str, str]] = {"ratio": "candidates attempted per group kept"}

    def __init__(
        self,
        num_questions: int,
        seed: int = 0,
        *,
        ratio: float = 4,
        batch_size: int = 64,
        solved_threshold: float = SOLVED_REWARD,
    ) -> None:
        super().__init__(num_questions, seed, batch_size=batch_size, solved_threshold=solved_threshold)
        self._require(ratio >= 1, f"ratio (candidates per kept question) must be >= 1, got {ratio!r}")
        self._require(
            math.ceil(ratio * self.batch_size) <= self.num_questions,
            f"ratio * batch_size = {math.ceil(ratio * self.batch_size)} candidates exceed the pool of "
            f"{self.num_questions} questions: lower ratio or batch_size, or use a larger pool",
        )
        self.ratio = float(ratio)
        self.config.update(ratio=self.ratio)

    @property
    def request_size(self) -> int:
        return math.ceil(self.ratio * self.batch_size)

    def _sample(self, n: int | None = None) -> np.ndarray:
        return self._draw_uniform(math.ceil(self.ratio * self._n(n)))

    def _keep(self, ids, solved, tried, phase):
        if phase == "probe":
            return np.zeros(len(ids), dtype=bool)
        n_keep = max(1, round(len(ids) / self.ratio))
        share = np.divide(solved, tried, out=np.zeros(len(ids)), where=tried > 0)
        score = np.where(tried > 0, learnability(share), -1.0)
        keep = np.zeros(len(ids), dtype=bool)
        keep[np.argsort(-score, kind="stable")[:n_keep]] = True  # candidates come in random order: fair ties
        return keep & (tried > 0)

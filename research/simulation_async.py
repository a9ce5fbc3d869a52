"""The curriculum protocol under asynchronous rollouts, against the simulated learner (research.simulation):
requests drawn while earlier ones are still being attempted, reported late and out of order.

    python scripts/simulate_curricula.py --lag     # the learnable share of trained groups with reports late
"""

from __future__ import annotations

from typing import Any

import numpy as np

from curricula import make
from research.simulation import Learner, SimGroups, made, with_difficulty


class AsyncLoop:
    """The protocol under asynchronous rollouts, against the simulated learner: requests are drawn while
    `lag` earlier ones are still being attempted, reported late, out of order (`shuffle`: any of the requests
    in flight, the oldest at most 2 x lag + 1 requests late), with a share `drop` of groups evicted unread
    (NaN rows) and a share `lose` of training requests never reported at all. A lost probe is reported with
    NaN rows (the protocol needs its answer). Attempts are made with the learner as it is when the request is
    drawn; training on the kept groups happens when the report arrives. lag=0 is the synchronous loop.

    `step()` draws one request and reports whatever leaves the window; `state()` / `restore()` copy the whole
    loop (curriculum, learner, requests in flight), so a resumed loop can be checked against a straight one."""

    def __init__(
        self,
        name: str,
        n: int,
        seed: int,
        *,
        lag: int,
        G: int = 8,
        shuffle: bool = True,
        drop: float = 0.0,
        lose: float = 0.0,
        **options: Any,
    ) -> None:
        self.learner = Learner(n, seed)
        self.cur = make(name, n, seed=seed, **with_difficulty(name, options, self.learner))
        self.held = SimGroups()
        self.lag, self.G, self.shuffle, self.drop, self.lose = lag, G, shuffle, drop, lose
        self.rng = np.random.default_rng(seed + 7)
        self.inflight: list[dict[str, Any]] = []  # issued, phase, ids, rewards, learnable at attempt, age
        self.reported = 0.0  # finished attempts handed to report
        self.trained = self.learnable = (
            0  # groups trained on, those whose question was learnable when attempted
        )
        self.log: list[tuple[str, list[int]]] = []  # every request drawn

    def step(self) -> None:
        cur = self.cur
        out = any(r["phase"] == "probe" for r in self.inflight)
        req = cur.next_request(probe=not out)  # a probe already out is not drawn twice
        ids = np.asarray(req.question_ids)
        p = self.learner.p(ids)
        self.inflight.append(
            {
                "issued": cur.iteration,
                "phase": req.phase,
                "request": req,
                "ids": ids,
                "age": 0,
                "rewards": self.learner.attempt(ids, req.counts(self.G)),
                "learnable": (p > 0) & (p < 1),
            }
        )
        self.log.append((req.phase, ids.tolist()))
        while len(self.inflight) > self.lag:
            oldest = max(range(len(self.inflight)), key=lambda i: self.inflight[i]["age"])
            pick = oldest
            if self.shuffle and self.inflight[oldest]["age"] <= 2 * self.lag:
                pick = int(self.rng.integers(len(self.inflight)))
            self._report(self.inflight.pop(pick))
        for r in self.inflight:
            r["age"] += 1

    def _report(self, r: dict[str, Any]) -> None:
        rewards = r["rewards"].copy()
        if self.drop:
            rewards[self.rng.random(len(rewards)) < self.drop] = np.nan
        if self.lose and self.rng.random() < self.lose:
            if r["phase"] == "train":
                return  # never reported: nothing counted
            rewards[:] = np.nan
        fb = self.cur.report(r["ids"], rewards, r["phase"], issued=r["issued"])
        self.reported += float(made(rewards))
        rows, groups = self.held.trained(r["request"], fb, rewards)
        if rows.size:
            self.trained += rows.size
            self.learnable += int(r["learnable"][rows].sum())
            self.learner.train(r["ids"][rows], groups)

    def learnable_share(self) -> float:
        """Share of trained groups whose question was learnable (0 < p < 1) when it was attempted."""
        return self.learnable / max(1, self.trained)

    def state(self) -> dict[str, Any]:
        import copy

        return copy.deepcopy(
            {
                "cur": self.cur.state_dict(),
                "learner": self.learner,
                "rng": self.rng,
                "inflight": self.inflight,
                "held": self.held.groups,
                "counts": (self.reported, self.trained, self.learnable),
            }
        )

    def restore(self, state: dict[str, Any]) -> None:
        import copy

        state = copy.deepcopy(state)
        self.cur.load_state_dict(state["cur"])
        self.learner, self.rng, self.inflight = state["learner"], state["rng"], state["inflight"]
        self.held.groups = state["held"]
        self.reported, self.trained, self.learnable = state["counts"]
        self.log = []


def learnable_share_under_lag(
    name: str,
    lags: tuple[int, ...] = (0, 1, 4),
    *,
    n: int = 2000,
    iterations: int = 150,
    seeds: int = 3,
    batch_size: int = 32,
    G: int = 8,
    **options: Any,
) -> dict[int, float]:
    """Mean learnable share of trained groups after `iterations` requests, per lag (out of order, 5% of groups
    evicted unread): how much a curriculum loses when its reports come late."""
    out = {}
    for lag in lags:
        shares = []
        for seed in range(seeds):
            loop = AsyncLoop(
                name, n, seed, lag=lag, G=G, drop=0.05 if lag else 0.0, batch_size=batch_size, **options
            )
            for _ in range(iterations):
                loop.step()
            shares.append(loop.learnable_share())
        out[lag] = float(np.mean(shares))
    return out

"""Training curves of one or more runs: train reward, held-out pass@1 and the zero-advantage share, against
training steps or against compute (every generated attempt, probes and rollouts included).

    python -m agents.plots runs/grpo-uniform-* runs/grpo-learnability-* --out curves.png [--x compute]

Every training run draws its own into `out/curves.png` at the end. Runs whose config.json agree on everything
but the seed (and the bookkeeping in agents.core.config.RUN_ONLY_FIELDS) are drawn as one line: the mean over the
seeds with a band from the lowest to the highest; the legend, below the panels, names the settings in which
the lines differ (a setting another algorithm does not have is left out). The training shares (reward,
zero-advantage share) are drawn on an axis spanning at least 0 to 1, so that a small change does not look like
a cliff; held-out points carry 95% binomial error bars from the number of questions scored (eval/questions,
times the seeds pooled), and their axis runs from 0 to just above the highest bar, so that a pass@1 of 2-5% is
readable and the bars show what the noise allows. Both x axes count whole steps or attempts.
Needs matplotlib (`pip install matplotlib`, in the `plot` and `dev` extras).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.core import metrics as M
from agents.core.config import RUN_ONLY_FIELDS
from curricula.statistics import learnability
from mathenv.errors import UserError

PANELS = [
    (M.TRAIN_REWARD, "train reward"),
    (M.EVAL_PASS1, "held-out pass@1 (greedy)"),
    (M.TRAIN_ZERO_ADVANTAGE, "share of questions with zero advantage"),
]
X_KEYS = {"step": (M.STEP, "training step"), "compute": (M.ATTEMPTS_TOTAL, "attempts generated")}
#: always in the label, in this order
HEAD = ("algo", "curriculum")


def load_run(run: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(config, metric records) of a run folder; a UserError naming the folder when it is not a run."""
    metrics = run / "metrics.jsonl"
    if not run.is_dir():
        raise UserError(f"{run}: no such folder; pass the --out folder of a training run")
    if not metrics.exists():
        raise UserError(f"{run} has no metrics.jsonl: pass the --out folder of a training run")
    config = json.loads((run / "config.json").read_text()) if (run / "config.json").exists() else {}
    return config, M.read_records(metrics)


def group_key(config: dict[str, Any]) -> str:
    """What makes runs the same experiment: the config without seed and bookkeeping, as sorted JSON."""
    return json.dumps(
        {k: v for k, v in config.items() if k not in RUN_ONLY_FIELDS and k != "seed"},
        sort_keys=True,
        default=str,
    )


def labels(configs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """A legend label per group: algo / curriculum, then every other setting whose value differs among the
    groups that have it (a run with another model or learning rate is a line of its own, not a seed; PPO's
    value-function options do not differ from GRPO's, which has none); the curriculum's options only where one
    curriculum appears with several. A setting left unset (null) is not written out."""

    def varies(key: str, among: list[dict[str, Any]]) -> bool:
        having = [c for c in among if key in c]
        return len({json.dumps(c[key], sort_keys=True, default=str) for c in having}) > 1

    everyone = list(configs.values())
    keys = sorted({k for c in everyone for k in c} - set(HEAD))
    shown = [k for k in keys if k != "curriculum_options" and varies(k, everyone)]
    by_curriculum: dict[Any, list[dict[str, Any]]] = {}
    for c in everyone:
        by_curriculum.setdefault(c.get("curriculum"), []).append(c)
    out = {}
    for key, c in configs.items():
        extra = shown + (
            ["curriculum_options"]
            if "curriculum_options" in keys
            and varies("curriculum_options", by_curriculum[c.get("curriculum")])
            else []
        )
        head = " / ".join(str(c.get(k, "?")) for k in HEAD)
        rest = ", ".join(f"{k}={_text(c[k])}" for k in extra if c.get(k) is not None)
        out[key] = f"{head}, {rest}" if rest else head
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def series(records: list[dict], key: str, x_key: str) -> tuple[np.ndarray, np.ndarray]:
    pts = [(r.get(x_key, 0), r[key]) for r in records if r.get(key) is not None]
    if not pts:
        return np.zeros(0), np.zeros(0)
    x, y = zip(*pts, strict=True)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def binomial_halfwidth(p: np.ndarray, n: np.ndarray, z: float = 1.96) -> np.ndarray:
    """Half-width of the 95% Wilson interval's normal approximation, z sqrt(p(1 - p) / n), for accuracies
    measured on n questions; at p = 0 or 1 it uses p(1 - p) of half a question, not a zero-width bar."""
    p = np.clip(p, 0.5 / n, 1 - 0.5 / n)
    return z * np.sqrt(learnability(p) / n)  # p(1 - p), the Bernoulli variance


def plot(
    runs: Sequence[str | Path], out: str | Path, x: str = "step", smooth: int = 1, title: str | None = None
) -> Path:
    """Draw the panels for `runs` into `out` (PNG); ImportError when matplotlib is not installed."""
    import matplotlib.pyplot as plt

    fig = figure(runs, x, smooth, title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def figure(runs: Sequence[str | Path], x: str = "step", smooth: int = 1, title: str | None = None) -> Any:
    """The matplotlib Figure of `plot` (one panel per entry of PANELS), not yet saved."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    groups: dict[str, list[list[dict]]] = {}
    configs: dict[str, dict[str, Any]] = {}
    for run in runs:
        config, records = load_run(Path(run))
        key = group_key(config)
        groups.setdefault(key, []).append(records)
        configs.setdefault(key, {k: v for k, v in config.items() if k not in RUN_ONLY_FIELDS and k != "seed"})
    names = labels(configs)
    x_key, x_label = X_KEYS[x]
    # the legend goes below the panels (constrained layout makes room): long labels never squeeze the axes
    fig, axes = plt.subplots(
        1, len(PANELS), figsize=(5 * len(PANELS), 3.6 + 0.2 * len(groups)), layout="constrained"
    )
    for ax, (key, name) in zip(axes, PANELS, strict=True):
        lows: list[float] = []
        highs: list[float] = []
        tops: list[float] = []  # held-out points' upper error bars
        for group in sorted(groups, key=names.__getitem__):
            curves = [c for c in (series(r, key, x_key) for r in groups[group]) if c[0].size]
            if not curves:
                continue
            grid = np.unique(np.concatenate([c[0] for c in curves]))
            ys = np.stack([np.interp(grid, cx, cy) for cx, cy in curves])
            if smooth > 1 and key.startswith("train/"):
                kernel = np.ones(smooth) / smooth
                ys = np.stack(
                    [np.convolve(np.pad(y, (smooth - 1, 0), mode="edge"), kernel, "valid") for y in ys]
                )
            mean = ys.mean(axis=0)
            sparse = key.startswith("eval/")  # a few evaluations: marked points, with their sampling error
            (line,) = ax.plot(
                grid,
                mean,
                marker="o" if sparse else None,
                markersize=4,
                label=f"{names[group]} (n={len(curves)})",
            )
            if sparse:
                n = np.zeros_like(grid)  # questions scored at each point, pooled over the seeds
                for sx, sy in (series(r, M.EVAL_QUESTIONS, x_key) for r in groups[group]):
                    if sx.size:
                        n += np.interp(grid, sx, sy)
                if (n > 0).all():
                    half = binomial_halfwidth(mean, n)  # cut at 0 and 1, where accuracy ends
                    yerr = np.stack([np.minimum(half, mean), np.minimum(half, 1 - mean)])
                    ax.errorbar(
                        grid, mean, yerr=yerr, fmt="none", ecolor=line.get_color(), capsize=3, alpha=0.8
                    )
                    tops.append(float(np.max(mean + yerr[1])))
            if len(curves) > 1:
                ax.fill_between(grid, ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2)
            lows.append(float(np.nanmin(ys)))
            highs.append(float(np.nanmax(ys)))
        ax.set_title(name)
        ax.set_xlabel(x_label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps and attempts are whole numbers
        if tops:  # held-out: from 0 to above the highest error bar, which shows how far the noise reaches
            ax.set_ylim(0.0, min(1.0, max([*tops, *highs])) * 1.08 + 0.005)
        else:  # training shares: at least 0 to 1, so that a small change is not blown up into a cliff
            ax.set_ylim(min([0.0, *lows]) - 0.02, max([1.0, *highs]) + 0.02)
        ax.grid(alpha=0.3)
    handles = {}
    for ax in axes:  # every line once, whichever panels it has points in
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig

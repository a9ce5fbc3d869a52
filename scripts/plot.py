"""Plot training curves of one or more runs: train reward, held-out pass@1 and the zero-advantage share,
against training steps or against compute (every generated attempt, probes and rollouts included).

    python scripts/plot.py runs/grpo-uniform-* runs/grpo-learnability-* --out docs/curves.png [--x compute]

Runs that share (algo, curriculum) in their config.json are drawn as one line: the mean over seeds with a
band from the lowest to the highest seed.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PANELS = [("train/reward", "train reward"), ("eval/pass@1", "held-out pass@1 (greedy)"),
          ("train/frac_zero_advantage", "share of questions with zero advantage")]
X_KEYS = {"step": ("step", "training step"), "compute": ("compute/attempts_total", "attempts generated")}


def load_run(run: Path) -> tuple[str, list[dict]]:
    """(label, metric records) of a run folder."""
    metrics = run / "metrics.jsonl"
    if not metrics.exists():
        raise SystemExit(f"{run} has no metrics.jsonl: pass the --out folder of a training run")
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    config = json.loads((run / "config.json").read_text()) if (run / "config.json").exists() else {}
    label = f"{config.get('algo', '?')} / {config.get('curriculum', run.name)}"
    return label, records


def series(records: list[dict], key: str, x_key: str) -> tuple[np.ndarray, np.ndarray]:
    pts = [(r.get(x_key, 0 if x_key != "step" else r["step"]), r[key]) for r in records
           if r.get(key) is not None]
    if not pts:
        return np.zeros(0), np.zeros(0)
    x, y = zip(*pts, strict=True)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def plot(runs: list[Path], out: Path, x: str = "step", smooth: int = 1, title: str | None = None) -> Path:
    """Draw the panels for `runs` into `out` (PNG)."""
    groups: dict[str, list[list[dict]]] = defaultdict(list)
    for run in runs:
        label, records = load_run(run)
        groups[label].append(records)
    x_key, x_label = X_KEYS[x]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 3.6))
    for ax, (key, name) in zip(axes, PANELS, strict=True):
        for label, seeds in sorted(groups.items()):
            curves = [series(r, key, x_key) for r in seeds]
            curves = [c for c in curves if c[0].size]
            if not curves:
                continue
            grid = np.unique(np.concatenate([c[0] for c in curves]))
            ys = np.stack([np.interp(grid, cx, cy) for cx, cy in curves])
            if smooth > 1 and key.startswith("train/"):
                kernel = np.ones(smooth) / smooth
                ys = np.stack([np.convolve(np.pad(y, (smooth - 1, 0), mode="edge"), kernel, "valid") for y in ys])
            mean = ys.mean(axis=0)
            (line,) = ax.plot(grid, mean, label=f"{label} (n={len(curves)})")
            if len(curves) > 1:
                ax.fill_between(grid, ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2)
        ax.set_title(name)
        ax.set_xlabel(x_label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders (each with metrics.jsonl)")
    ap.add_argument("--out", type=Path, default=Path("docs/curves.png"))
    ap.add_argument("--x", choices=sorted(X_KEYS), default="step")
    ap.add_argument("--smooth", type=int, default=1, help="moving average window for train curves")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    print(plot(a.runs, a.out, a.x, a.smooth, a.title))


if __name__ == "__main__":
    main()

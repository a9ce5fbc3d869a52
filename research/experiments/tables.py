"""Markdown tables of a grid's results, and writing one marked section of a document (docs/results.md,
docs/benchmarks.md) without touching the others."""

from __future__ import annotations

import math
import os
import platform
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import torch

from research.experiments import stats
from research.experiments.analysis import CellSummary, Comparison, Gate, outcome, verdict
from research.experiments.reevaluate import per_seed

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results.md"
RESULTS_HEADER = (
    "# Results: learnability vs uniform\n\nEach section is written by the script named in it; rerun "
    "its command to refresh it.\n"
)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as a GitHub markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, body: str, doc: Path = RESULTS, header: str = RESULTS_HEADER) -> None:
    """Replace (or append) the section `name` of `doc`, delimited by `<!-- begin NAME -->` / `<!-- end NAME -->`
    comments, so several scripts can each rewrite their own section."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = doc.read_text() if doc.exists() else header
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    )
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def machine_line() -> str:
    """One line naming where the numbers were taken, so tables from different machines are not mixed up."""
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}, measured {date.today().isoformat()}"
    )


def command_line(script: str, argv: Sequence[str] | None = None) -> str:
    """The command that wrote a table, as a reader would retype it: `python scripts/NAME.py ARGS`."""
    args = list(argv) if argv is not None else sys.argv[1:]
    return " ".join(["python", f"scripts/{Path(script).name}", *args])


def fmt(mean: float, half: float = math.nan, pct: bool = True) -> str:
    """`mean ± half` (in % when `pct`), `–` when there is no number."""
    if mean is None or not math.isfinite(mean):
        return "–"
    scale = 100 if pct else 1
    return f"{scale * mean:.1f}" if not math.isfinite(half) else f"{scale * mean:.1f} ± {scale * half:.1f}"


def fmt_values(values: Sequence[float | None], pct: bool = True) -> str:
    """Mean and 95% t half-width of values."""
    return fmt(*stats.mean_ci(values), pct=pct)


def fmt_p(p: float) -> str:
    if not math.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_paired(paired: stats.Paired | None, pct: bool = True) -> str:
    """A paired difference: `+1.2 [-0.3, 2.7], p 0.12 (n 5)`."""
    if paired is None:
        return "(reference)"
    if paired.n == 0:
        return "–"
    scale = 100 if pct else 1
    if not math.isfinite(paired.half_width):
        return f"{scale * paired.mean:+.1f} (n {paired.n})"
    return (
        f"{scale * paired.mean:+.1f} [{scale * paired.low:+.1f}, {scale * paired.high:+.1f}], "
        f"p {fmt_p(paired.p)} (n {paired.n})"
    )


def _row_name(cell: str) -> str:
    return cell.replace("-", " / ", 1)


def cells_table(
    summaries: Mapping[str, CellSummary], budgets: Mapping[str, Sequence[float]], reference: str = "uniform"
) -> str:
    """The training-curve table: per cell, the held-out metric of the runs' own subsets at step 0 and at the end,
    paired changes, equal compute (each algorithm at its own budgets), the area under the curve and the
    speed to a common target against the reference arm, and the training shares."""
    headers = [
        "algorithm / arm",
        "seeds",
        "step 0 (%)",
        "final (%)",
        "final minus step 0 (same seed)",
        f"final minus {reference}'s (same seed)",
        "at equal compute: half / all of the algorithm's budget (%)",
        f"area under the curve minus {reference}'s, step axis (points)",
        f"area minus {reference}'s, attempts axis up to the budget (points)",
        f"steps to the target: {reference}'s / this arm's (seeds reached: arm, {reference})",
        "attempts to the target: ratio (reached)",
        "zero-advantage share of attempted questions over training (%): mean; first -> last quarter",
        "p = 0 share (%)",
        "p = 1 share (%)",
        "attempts per step",
        "tokens per step",
    ]
    rows = []
    for cell, s in summaries.items():
        algo = cell.split("-", 1)[0]
        at_budget = " / ".join(
            fmt_values(list(v.values())) + ("" if all(x is not None for x in v.values()) else "*")
            for v in s.at_budget.values()
        )
        budget_text = ", ".join(f"{b:,.0f}" for b in budgets.get(algo, []))

        def target(t: stats.ToTarget | None) -> str:
            if t is None:
                return "(reference)"
            return (
                f"{t.ratio:.2f}x ({t.reached_arm}/{t.difference.n}, {t.reached_ref}/{t.difference.n})"
                if math.isfinite(t.ratio)
                else f"– ({t.reached_arm}/{t.difference.n})"
            )

        rows.append(
            [
                _row_name(cell),
                s.seeds,
                fmt_values(s.start),
                fmt_values(s.final),
                fmt_paired(s.gain),
                fmt_paired(s.vs_reference),
                f"{at_budget} (at {budget_text} attempts)",
                fmt_paired(s.auc_steps),
                fmt_paired(s.auc_compute),
                target(s.to_target_steps),
                target(s.to_target_compute),
                f"{fmt_values(s.shares['zero_advantage'])}; {fmt_values(s.shares['zero_advantage_first'])} -> "
                f"{fmt_values(s.shares['zero_advantage_last'])}",
                fmt_values(s.shares["p0"]),
                fmt_values(s.shares["p1"]),
                f"{stats.mean_ci(s.attempts_per_step)[0]:.0f}",
                _count(s.tokens_per_step),
            ]
        )
    return markdown_table(headers, rows) + (
        "\n\n(*: some runs ended before that budget.) The target of a pair of runs of one seed lies halfway from "
        "their common start to the lower of their two smoothed finals (moving average over 3 evaluations); a "
        "seed that never reaches it counts at the horizon, so every seed is counted."
    )


def shares_table(summaries: Mapping[str, CellSummary], trained: bool = False) -> str:
    """Per cell, the shares of the questions attempted for training that gave GRPO no signal (zero advantage),
    that no attempt solved (p = 0) and that every attempt solved (p = 1): mean over training, and over its
    first and last quarter (does uniform's zero-advantage share grow as the policy learns, as the paper
    reports?). With `trained`, first the zero-advantage share of the groups trained on: a selector that
    attempts more candidates than it trains on (a filter, SPEED's screen) differs there."""
    keys = (["zero_advantage_trained"] if trained else []) + ["zero_advantage", "p0", "p1"]
    names = {
        "zero_advantage_trained": "zero-advantage share of trained groups (%)",
        "zero_advantage": "zero-advantage share (%)",
        "p0": "p = 0 share (%)",
        "p1": "p = 1 share (%)",
    }
    headers = ["algorithm / arm", "seeds"]
    for key in keys:
        headers += [names[key], "first quarter", "last quarter"]
    rows = []
    for cell, s in summaries.items():
        row: list[Any] = [_row_name(cell), s.seeds]
        for key in keys:
            row += [
                fmt_values(s.shares[key]),
                fmt_values(s.shares[f"{key}_first"]),
                fmt_values(s.shares[f"{key}_last"]),
            ]
        rows.append(row)
    return markdown_table(headers, rows)


def buffer_age_table(by_run: Mapping[str, Mapping[int, Mapping[str, float]]], width: int = 10) -> str:
    """Per bin of buffer age, over runs (each run's mean in the bin, then mean and 95% interval): the training
    shares and the attempted questions' p(1 - p). A buffer whose questions are learned before its refresh shows
    its zero-advantage share rising with age."""
    ages = sorted({a for run in by_run.values() for a in run})
    rows = []
    for age in ages:
        row: list[Any] = [f"{age}-{age + width - 1}", sum(age in run for run in by_run.values())]
        for key in ("zero_advantage", "p1", "p0", "learnability"):
            values = [run[age][key] for run in by_run.values() if key in run.get(age, {})]
            row.append(
                fmt_values(values)
                if key != "learnability"
                else (f"{stats.mean_ci(values)[0]:.3f}" if values else "–")
            )
        rows.append(row)
    return markdown_table(
        [
            "buffer age (iterations since refresh)",
            "runs",
            "zero-advantage share (%)",
            "p = 1 share (%)",
            "p = 0 share (%)",
            "mean p(1 - p) of attempted questions",
        ],
        rows,
    )


def _count(values: Sequence[float]) -> str:
    m = stats.mean_ci(values)[0]
    return "–" if not math.isfinite(m) else f"{m:,.0f}"


def reevaluation_table(
    scores: Mapping[str, Mapping[str, Any]],
    runs: Sequence[Any],
    metrics: Sequence[str],
    reference: str = "uniform",
    start: str = "start",
) -> str:
    """Per cell and metric (`pass@1`, `mean@k`): the mean over seeds, the change from the start policy and the
    paired difference with the reference arm on the common set; then per level."""
    s0 = scores.get(start)
    headers = ["algorithm / arm", "seeds"]
    for m in metrics:
        headers += [f"{m} (%)", "minus the start's", f"minus {reference}'s (same seed)"]
    rows: list[list[Any]] = []
    if s0:
        rows.append(
            ["start (every run's initial policy)", 1] + sum(([fmt(s0[m]), "", ""] for m in metrics), [])
        )
    tables = {m: per_seed(scores, runs, m) for m in metrics}
    cells = list(tables[metrics[0]])
    for cell in cells:
        algo = cell.split("-", 1)[0]
        row: list[Any] = [_row_name(cell), len(tables[metrics[0]][cell])]
        for m in metrics:
            values = tables[m][cell]
            gain = [v - s0[m] for v in values.values()] if s0 else []
            ref = tables[m].get(f"{algo}-{reference}")
            vs = None if cell == f"{algo}-{reference}" else stats.paired_difference(values, ref or {})
            row += [fmt_values(list(values.values())), fmt_values(gain), fmt_paired(vs)]
        rows.append(row)
    text = markdown_table(headers, rows)
    levels = sorted((s0 or {}).get("per_level") or {}, key=int)
    if levels:
        m = metrics[0]
        level_rows: list[list[Any]] = [
            [f"start ({m}, %)", ""] + [fmt(s0["per_level"][lv][m]) for lv in levels]
        ]
        for cell in cells:
            algo = cell.split("-", 1)[0]
            row = [_row_name(cell), len(tables[m][cell])]
            for lv in levels:
                values = per_seed(scores, runs, m, level=lv)
                if cell == f"{algo}-{reference}":
                    row.append(
                        fmt_values([v - s0["per_level"][lv][m] for v in values[cell].values()])
                        + " (vs start)"
                    )
                else:
                    row.append(
                        fmt_paired(
                            stats.paired_difference(values[cell], values.get(f"{algo}-{reference}", {}))
                        )
                    )
            level_rows.append(row)
        n = {lv: s0["per_level"][lv]["questions"] for lv in levels}
        text += (
            f"\n\n{m} by difficulty level on the same set: the start's; for {reference} its change from the "
            f"start; for every other arm its paired difference with {reference} (points):\n\n"
            + markdown_table(
                ["algorithm / arm", "seeds"] + [f"level {lv} ({n[lv]} q)" for lv in levels], level_rows
            )
        )
    return text


def preregistered_table(
    comparisons: Sequence[Comparison], gates: Sequence[Gate] | None, label: str = "primary comparison"
) -> str:
    """The primary comparisons (paired 95% interval, raw and Holm-adjusted p) under the gates' verdict: a
    failed gate marks every comparison VOID, which is not a negative result. `gates` None: a family read
    under another family's gates (the secondary arms), no gate table of its own."""
    status = verdict(gates or [])
    void = status != "VALID"
    rows = [
        [
            f"{c.arm} minus {c.reference}",
            c.paired.n,
            fmt_paired(c.paired),
            fmt_p(c.paired.p),
            fmt_p(c.p_holm),
            fmt(c.detectable),
            "VOID" if void else outcome(c),
        ]
        for c in comparisons
    ]
    gate_rows = [
        [g.name, fmt(g.value), g.threshold_text, "pass" if g.passed else "FAIL"] for g in gates or []
    ]
    return markdown_table(
        [
            label,
            "seeds",
            "paired difference (points, 95% t interval)",
            "p",
            "p (Holm)",
            "detectable with these seeds (points, 80% power)",
            "result",
        ],
        rows,
    ) + (
        ""
        if gates is None
        else f"\n\nValidity gates (fixed in advance): **{status}**.\n\n"
        + markdown_table(["gate", "value", "needs", "verdict"], gate_rows)
    )


def plot_links(outs: Sequence[Path], folder: Path, label: str, title: str) -> str:
    """Curves of every arm's runs (`outs`; mean over seeds, min-max band) against steps and against attempts
    generated, drawn into `folder` as `results_<label>_grpo_<x>.png` (docs/ only when a table is written), as
    Markdown image links; empty when matplotlib is not installed."""
    from agents.curves import plot

    links = []
    for x in ("step", "compute"):
        png = folder / f"results_{label}_grpo_{x}.png"
        try:
            plot(list(outs), png, x=x, smooth=5, title=title)
        except ImportError:
            return ""
        links.append(f"![{label} {x}]({png.name})")
    return "\n" + "\n".join(links) + "\n"


def comparisons_plot(families: Mapping[str, Sequence[Comparison]], png: Path, title: str) -> str:
    """Every comparison's paired difference with its 95% interval, one row each, families top to bottom, a
    line at zero: the answer to "which arm beat its reference, by how much" in one picture, where a curve plot
    of every arm would be unreadable. Returns its Markdown image link; empty without matplotlib or rows."""
    rows = [(family, c) for family, cs in families.items() for c in cs if c.paired.n >= 2]
    if not rows:
        return ""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ""
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.4))
    palette = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    colours = {family: palette[i % len(palette)] for i, family in enumerate(families)}
    for y, (family, c) in enumerate(reversed(rows)):
        p = c.paired
        ax.errorbar(100 * p.mean, y, xerr=100 * p.half_width, fmt="o", color=colours[family], capsize=3)
        ax.text(
            1.02, y, f"n {p.n}, Holm p {fmt_p(c.p_holm)}", transform=ax.get_yaxis_transform(), va="center"
        )
    ax.set_yticks(range(len(rows)), [f"{c.arm} minus {c.reference}" for _, c in reversed(rows)])
    for label, (family, _) in zip(ax.get_yticklabels(), reversed(rows), strict=True):
        label.set_color(colours[family])
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_xlabel("paired difference, points (mean and 95% t interval over seeds)")
    named = ", ".join(f"{family} in {colour.removeprefix('tab:')}" for family, colour in colours.items())
    ax.set_title(f"{title}; {named}", fontsize=9)
    ax.margins(x=0.1, y=0.5 / len(rows))
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return f"![{png.stem}]({png.name})\n"

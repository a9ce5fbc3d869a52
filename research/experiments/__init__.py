"""Experiments as a library: grids of seeded training runs and their statistics.

- `grid`: arms, the runs of a grid (`plan`), the resumable runner (`run_grid`), configs parsed as
  `agents.train` parses them (`configs_from_argv`).
- `reevaluate`: every final policy and the start on one common question set (`EvalSet`, `reevaluate`).
- `heldout`: a held-out set never shares a question with the training pool (`check_held_out`).
- `stats`: paired differences with t intervals, Holm, power, areas under curves, steps to a target,
  compute matching.
- `analysis`: per-cell summaries, training shares, the pre-registered gates and primary comparisons.
- `tables`: markdown tables and marked sections of docs/results.md.

scripts/reproduce.py and scripts/sweep_baseline.py are thin grids over it.
"""

"""Framework trainers on our curricula, one package per engine; each imports its framework. Nothing in
mathenv, curricula or agents imports them, but the one-line aliases left at their old paths
(agents/verl_trainer.py, agents/trl_trainer.py, curricula/integrations/).

- `integrations.verl` — verl 0.9.1: `main` (the entry point, `python -m integrations.verl.main`), v1's
  `replay_buffer` + `dataset` + `feed`, the legacy trainer's `sampler` + `trainer` (docs/verl.md).
- `integrations.trl` — TRL 1.16: `sampler` (`CurriculumRepeatSampler`) and `trainer`
  (`CurriculumGRPOTrainer`) (docs/scaling.md).

The curriculum side is the one protocol (`curricula.protocol`) through `curricula.schedule.BatchSchedule`;
the data and rewards are `mathenv.export` and `mathenv.rewards`.
"""

"""Run our curricula inside existing trainers (verl, TRL) and score with our verifier there.

Importing this package is free: each integration imports its framework only when used.

- `curricula.integrations.schedule.BatchSchedule` — the framework-free core: turns a curriculum's batch
  protocol (probe requests, `sample`, `update`) into fixed-size batches of prompt ids, and routes each
  batch's per-prompt rewards back to the curriculum. Both integrations below are thin layers over it.
- `curricula.integrations.verl` — `CurriculumSampler` (verl's `train_sampler`), `CurriculumRayPPOTrainer`
  (feeds each step's rewards back, skips training on probe batches, checkpoints the curriculum), a Hydra
  entry point `python -m curricula.integrations.verl`, and `write_verl_parquet` for the data. See
  docs/verl.md.
- `curricula.integrations.verl_reward.compute_score` — our verifier as verl's `custom_reward_function`
  (`custom_reward_function.path=pkg://curricula.integrations.verl_reward`).
- `curricula.integrations.trl` — `CurriculumGRPOTrainer` (a `trl.GRPOTrainer` whose sampler is the
  curriculum), `mathenv_reward` (our verifier as a TRL reward function) and `grpo_dataset`.
"""

__all__ = ["schedule", "trl", "verl", "verl_reward"]

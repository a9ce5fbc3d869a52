"""TRL 1.16 on our curricula: `sampler` (`CurriculumRepeatSampler`) and `trainer` (`CurriculumGRPOTrainer`)."""

"""`from agents.trl_trainer import CurriculumGRPOTrainer`: moved to integrations/trl/trainer.py."""

from integrations.trl.trainer import *  # noqa: F403

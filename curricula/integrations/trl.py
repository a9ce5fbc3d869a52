"""Moved to integrations/trl/sampler.py."""

from integrations.trl.sampler import *  # noqa: F403

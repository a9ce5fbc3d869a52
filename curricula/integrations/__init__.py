"""Moved to the top-level `integrations` package; `curricula.integrations.verl` / `.trl` still resolve."""

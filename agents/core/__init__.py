"""What an algorithm needs and nothing else: the batch it learns from and the `Algorithm` interface
(`algorithm`), the shared options (`config`), the pieces of the losses (`losses`) and the metric names
(`metrics`). Imports torch and numpy, never the curricula, the env or the verifier."""

"""The algorithms, one file each (CleanRL style): `grpo`, `ppo`, `vineppo`, each importing `agents.core` only;
`registry` is the one list of their names (`--algo`)."""

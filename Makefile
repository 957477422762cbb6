# Everything runs from .venv, created from requirements.lock by `make venv`.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

# The other supported versions: python3.X on PATH, else pyenv's install of it (PY312=... overrides).
find-python = $(shell for p in python$(1) $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$(1).*/bin/python$(1); do \
	"$$p" -c "" 2>/dev/null && { echo "$$p"; break; }; done)
PY312   ?= $(call find-python,3.12)
PY313   ?= $(call find-python,3.13)

.PHONY: venv venv312 venv313 proto proto-check lint typecheck imports test unit e2e test-py312 test-py313 \
	demo bench soak clean

# $(call make-venv,PYTHON,DIR,VERSION): DIR from the exact pins of requirements.lock, this project
# editable on top; `pip check` proves the pins satisfy pyproject's ranges.
define make-venv
	@test -n "$(1)" || { echo "python$(3) not found: install it or set PY$(subst .,,$(3))=/path/to/python$(3)"; exit 1; }
	$(1) -m venv $(2)
	$(2)/bin/pip install --quiet --upgrade pip
	$(2)/bin/pip install --quiet -r requirements.lock
	$(2)/bin/pip install --quiet --no-deps -e .
	$(2)/bin/pip check
	touch $(2)/.installed
endef

venv: $(STAMP)
venv312: .venv312/.installed
venv313: .venv313/.installed

$(STAMP): requirements.lock pyproject.toml
	$(call make-venv,$(PY),$(VENV),3.11)

.venv312/.installed: requirements.lock pyproject.toml
	$(call make-venv,$(PY312),.venv312,3.12)

.venv313/.installed: requirements.lock pyproject.toml
	$(call make-venv,$(PY313),.venv313,3.13)

proto: $(STAMP)
	PYTHON=$(CURDIR)/$(BIN)/python proto/generate.sh

proto-check: $(STAMP)
	@tmp=$$(mktemp -d); PYTHON=$(CURDIR)/$(BIN)/python proto/generate.sh $$tmp/gen >/dev/null 2>&1 && \
	  if diff -r -x __pycache__ $$tmp/gen pkg/proto/gen >/dev/null; then echo "proto: generated code is up to date"; rm -rf $$tmp; \
	  else echo "proto: pkg/proto/gen differs from a fresh generation; run 'make proto'"; diff -r -x __pycache__ $$tmp/gen pkg/proto/gen | head -20; rm -rf $$tmp; exit 1; fi

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

# The unit tests on the other supported versions (CI runs both after `make test`).
test-py312: venv312
	.venv312/bin/python -m pytest -q -p no:cacheprovider -m "not e2e" tests

test-py313: venv313
	.venv313/bin/python -m pytest -q -p no:cacheprovider -m "not e2e" tests

demo: $(STAMP)
	$(BIN)/python -m demo

bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.fleet

# Churn against a real core for SOAK_SECONDS (default 600); fails when its resources grow or a
# subscriber loses anything. Results in bench/results/soak-<timestamp>.json.
SOAK_SECONDS ?= 600
soak: $(STAMP)
	$(BIN)/python -m bench.soak --seconds $(SOAK_SECONDS)

clean:
	rm -rf $(VENV) .venv312 .venv313 .mypy_cache .pytest_cache .ruff_cache build dist

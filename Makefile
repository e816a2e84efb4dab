# TCAM Bridge. Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   - creates .venv, installs, runs the pipeline on the embedded broker
#   make test   - creates .venv, installs, runs the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo demo-serve bench test check lint format typecheck asyncapi clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tcam demo

demo-serve: $(STAMP)
	$(BIN)/tcam demo --serve

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

test: $(STAMP)
	$(BIN)/python -m pytest

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check services tests benchmarks
	$(BIN)/ruff format --check services tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format services tests benchmarks
	$(BIN)/ruff check --fix services tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

asyncapi: $(STAMP)
	$(BIN)/faststream docs gen --factory tcam_bridge.pipeline.app:asyncapi_app --yaml --out contracts/asyncapi.yaml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/artifacts

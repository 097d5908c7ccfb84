# Two commands a fresh machine needs: `make serve` (sip2d and what it needs to run) and
# `make test` (also the test, lint and type-check tools).
# Everything lives in .venv, created on first use from whatever python3 is on PATH (3.11+).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make serve` installs sip2d alone (its runtime dependencies), not the test and lint tools.
SERVE_STAMP := $(VENV)/.installed-serve

.PHONY: serve test lint fmt bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(SERVE_STAMP)

serve: $(SERVE_STAMP)
	$(BIN)/sip2d serve --demo

lint: $(STAMP)
	$(BIN)/ruff check sip2d tests conformance benchmarks
	$(BIN)/ruff format --check sip2d tests conformance benchmarks
	$(BIN)/mypy

# The second run takes the statement layer's other route (plain conn.execute, see
# sip2d/storage/prepared.py) through the tests that cover it.
test: lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)
	SIP2D_PLAIN_STATEMENTS=1 $(BIN)/python -m pytest -q $(PYTEST_ARGS) tests/storage tests/circulation

fmt: $(STAMP)
	$(BIN)/ruff format sip2d tests conformance benchmarks
	$(BIN)/ruff check --fix sip2d tests conformance benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/codec.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

# The two commands a newcomer needs: `make run` and `make test`.
# Both create .venv with Python 3.11 and install the pinned dependencies first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n auto

.PHONY: install run test lint clean bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $@

run: install
	$(BIN)/gophermart

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install  # ruff (lint and format) and mypy, as CI runs them before the tests
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-bench  # BENCH_ARGS="--quick" or "--only api|pipeline|report"; writes docs/BENCHMARKS.md
	$(BIN)/python bench/run.py $(BENCH_ARGS)

$(VENV)/.installed-bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

clean:
	rm -rf $(VENV) instance .pytest_cache

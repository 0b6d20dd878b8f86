# The two commands a newcomer needs: `make run` and `make test`.
# Both create .venv with Python 3.11 and install the pinned dependencies first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n auto
# Every package, indirect ones included, at the version CI tested (made by `make lock`).
LOCK := requirements.lock
LOCK_ARGS ?=

.PHONY: install run test lint clean bench lock

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(LOCK)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[test,lint]'
	touch $@

# Regenerate the lock from pyproject.toml with the extras CI installs; pins already in it are
# kept while they still fit (LOCK_ARGS=--upgrade, or --upgrade-package NAME, to move them).
# Not through `install`: a lock that disagrees with pyproject.toml is what this repairs.
lock:
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[lock]'
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/python -m piptools compile --quiet \
		--extra test --extra lint --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
		$(LOCK_ARGS) --output-file $(LOCK) pyproject.toml

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
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[bench]'
	touch $@

clean:
	rm -rf $(VENV) instance .pytest_cache

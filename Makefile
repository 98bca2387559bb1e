# The two Quickstart commands: `make demo` and `make test`. Everything lives in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Four test processes: most tests wait on databases, servers and sockets, not the CPU, so
# even a two-core machine runs the suite in about half the time; the 15 slowest are listed
# so a slow newcomer shows in CI output. PYTEST_ARGS replaces both.
PYTEST_ARGS ?= -n 4 --dist loadgroup --durations=15

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Set up and run the demo on the embedded SQLite default (./leadgate.db, rebuilt each run;
## pinned here so that a LEADGATE_DATABASE_URL in the environment is never emptied).
demo: $(STAMP)
	LEADGATE_DATABASE_URL=sqlite:///./leadgate.db $(BIN)/leadgate demo --reset $(DEMO_ARGS)

## Set up and run the whole test suite: lint, type checks, unit, integration (SQLite and
## PostgreSQL) and end-to-end tests.
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

## Speed and memory benchmarks, printed as a table (not pass/fail).
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache leadgate.db leadgate.db-wal leadgate.db-shm

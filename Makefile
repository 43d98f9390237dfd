# deskside: `make run` starts a controller and a local agent, `make demo` a seeded demo
# desk with a small fleet; `make test` runs every suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run demo test lint proto bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/python scripts/run_local.py

# A controller, 3 demo agents, a seeded desk and faults to fix (docs/TOUR.md); e.g.
# `make demo DEMO_ARGS="--agents 2 --port 8090"`.
demo: $(VENV)/.installed
	$(BIN)/deskside demo $(DEMO_ARGS)

test: $(VENV)/.installed
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python scripts/gen_protos.py --check

proto: $(VENV)/.installed
	$(BIN)/python scripts/gen_protos.py

BENCHES = bench/agent_footprint.py bench/run_roundtrip.py bench/desk_api.py bench/desk_queues_pg.py

bench: $(VENV)/.installed
	@for script in $(BENCHES); do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

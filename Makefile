# deskside: `make run` starts a controller and a local agent; `make test` runs every suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint proto bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/python scripts/run_local.py

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

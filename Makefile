# The README's commands. `make demo` and `make test` work on a fresh clone with only Python installed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench install clean kb

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/twinrx demo

test: $(STAMP)
	$(BIN)/ruff check services tests scripts bench
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check services tests scripts bench
	$(BIN)/ruff format --check services tests scripts bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/pgx.py
	$(BIN)/python bench/prs.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/cds.py

kb: $(STAMP)
	$(BIN)/python scripts/build_kb.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache twinrx-report

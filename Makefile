# The two commands a new user needs: `make demo` (pipeline end to end on the embedded default) and
# `make test`. Both create the virtual environment on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench airflow clean-state

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python run_etl.py --env dev demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m mcq_bench $(BENCH_ARGS)

airflow: $(STAMP)
	scripts/airflow_local.sh

lint: $(STAMP)
	$(BIN)/ruff check .

clean-state:
	rm -rf .mcq

# The two commands a new user needs: `make demo` (pipeline end to end on the embedded default) and
# `make test`. Both create the virtual environment on first use; each first brings the system packages it
# needs (scripts/setup_system.sh: installs them with apt-get as root on Debian, else names them in one line).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system demo test lint bench airflow clean-state

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# Everything the whole product needs: PostgreSQL server, Java 17+, the JDBC driver, Chromium + chromedriver.
system:
	scripts/setup_system.sh

setup: system $(STAMP)

demo: $(STAMP)
	scripts/setup_system.sh postgres
	$(BIN)/python run_etl.py --env dev demo

test: setup
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m mcq_bench $(BENCH_ARGS)

# The dashboard on the embedded default (after `make demo`): http://127.0.0.1:8501 (docs/dashboard.md).
.PHONY: dashboard
dashboard: $(STAMP)
	$(BIN)/python -m mcq_analytics.dashboard --env dev $(DASHBOARD_ARGS)

airflow: $(STAMP)
	scripts/setup_system.sh postgres
	scripts/airflow_local.sh

# Stops `make airflow` (from another shell) and the embedded PostgreSQL.
.PHONY: airflow-stop
airflow-stop: $(STAMP)
	scripts/airflow_local.sh stop

lint: $(STAMP)
	$(BIN)/ruff check .

clean-state:
	rm -rf .mcq

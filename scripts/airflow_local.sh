#!/usr/bin/env bash
# Local Airflow 3 (api-server + dag-processor + scheduler + triggerer) on the embedded PostgreSQL, UI on
# http://localhost:8080 — see docs/airflow.md. Options: --check, --port N, --env NAME, --parallelism N.
# `scripts/airflow_local.sh stop` stops it and the embedded PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "airflow_local.sh: no .venv here; run 'make setup' first" >&2; exit 2; }
exec "$PY" scripts/airflow_local.py "$@"

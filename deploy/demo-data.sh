#!/usr/bin/env bash
# One-shot mcq-demo-data service: apply the schema (idempotent) and fill the source database with
# generated demo activity. Keeps existing data on later `docker compose up` runs unless
# MCQ_DEMO_DATA_RESET=true; MCQ_DEMO_DATA=false skips everything (a real source database).
set -euo pipefail
cd "${MCQ_HOME:-/opt/mcq}"

if [[ "${MCQ_DEMO_DATA:-true}" != "true" ]]; then
    echo "mcq-demo-data: MCQ_DEMO_DATA=${MCQ_DEMO_DATA}, nothing to do"
    exit 0
fi

python run_etl.py --env "${MCQ_ENV:-docker}" init-db

has_sessions=$(python - <<'PY'
import os

import psycopg

with psycopg.connect(os.environ["MCQ_SOURCE_URL"], connect_timeout=10) as conn:
    print("yes" if conn.execute("SELECT EXISTS (SELECT 1 FROM sessions)").fetchone()[0] else "no")
PY
)
if [[ "${has_sessions}" == "yes" && "${MCQ_DEMO_DATA_RESET:-false}" != "true" ]]; then
    echo "mcq-demo-data: the source database already has sessions; set MCQ_DEMO_DATA_RESET=true to regenerate"
    exit 0
fi

# MCQ_DEMO_DATA_ARGS: extra mcq-generate options from .env, split on spaces on purpose.
# shellcheck disable=SC2086
mcq-generate --url "${MCQ_SOURCE_URL}" --reset ${MCQ_DEMO_DATA_ARGS:-}
echo "mcq-demo-data: demo data generated"

#!/usr/bin/env bash
# mcq-db first start (docker-entrypoint-initdb.d, runs only while the data volume is empty): create the
# warehouse database beside the source one (POSTGRES_DB) and apply the project's DDL to both.
# The DDL is idempotent; `python run_etl.py --env docker init-db` (mcq-demo-data) applies it again later,
# which is how an existing volume picks up new tables.
set -euo pipefail

sql_dir="${MCQ_SQL_DIR:-/mcq/sql}"
source_db="${POSTGRES_DB:?}"
warehouse_db="${MCQ_WAREHOUSE_DB:-mcq_warehouse}"
psql_cmd=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:?}")

if [[ "${warehouse_db}" != "${source_db}" ]]; then
    "${psql_cmd[@]}" --dbname postgres --set=db="${warehouse_db}" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
fi

"${psql_cmd[@]}" --dbname "${source_db}" --single-transaction --file "${sql_dir}/source_schema.sql"
"${psql_cmd[@]}" --dbname "${warehouse_db}" --single-transaction --file "${sql_dir}/analytics_schema.sql"
echo "mcq-db: ${source_db} and ${warehouse_db} created with the project's schema"

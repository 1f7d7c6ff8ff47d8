"""Apply the project's DDL (``include/sql/*_schema.sql``); every statement is idempotent."""

from __future__ import annotations

import psycopg

from mcq_analytics.paths import read_sql

SOURCE_DDL = "source_schema.sql"
ANALYTICS_DDL = "analytics_schema.sql"


def apply_ddl(url: str, ddl_file: str) -> None:
    """Run one DDL file in a single transaction, so a half-applied schema never remains."""
    with psycopg.connect(url) as conn:
        conn.execute(read_sql(ddl_file))


def init_databases(source_url: str, warehouse_url: str) -> None:
    apply_ddl(source_url, SOURCE_DDL)
    apply_ddl(warehouse_url, ANALYTICS_DDL)

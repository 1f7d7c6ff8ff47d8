"""Apply the project's DDL (``include/sql/*_schema.sql``); every statement is idempotent."""

from __future__ import annotations

import psycopg

from mcq_analytics.paths import read_sql

SOURCE_DDL = "source_schema.sql"
ANALYTICS_DDL = "analytics_schema.sql"
#: The item-analysis range functions (docs/data_contract.md §6) read the warehouse facts, so they are part of
#: the warehouse schema: applying ANALYTICS_DDL applies them too, wherever it is applied (init-db, tests, bench).
ITEM_ANALYSIS_SQL = "item_analysis.sql"
_WITH = {ANALYTICS_DDL: (ITEM_ANALYSIS_SQL,)}


def apply_ddl(url: str, ddl_file: str) -> None:
    """Run one DDL file (and the files that belong with it) in a single transaction, so a half-applied schema
    never remains."""
    with psycopg.connect(url) as conn:
        for name in (ddl_file, *_WITH.get(ddl_file, ())):
            conn.execute(read_sql(name))


def init_databases(source_url: str, warehouse_url: str) -> None:
    apply_ddl(source_url, SOURCE_DDL)
    apply_ddl(warehouse_url, ANALYTICS_DDL)

"""In-database SQL reference implementation of the facts: the oracle the engines are compared with and
the speed anchor they are measured against.

It runs plain SQL (``include/sql/reference/*.sql``) inside the SOURCE database and writes to a scratch
schema (default ``mcq_reference``) whose fact tables have the columns of ``analytics.*``, beside
``rejects`` (source_table, source_key, reason: the quarantine of the current source) and the bookkeeping
table ``session_bucket`` (the bucket each valid session was last counted in). A window run
recomputes the affected sessions and buckets exactly as the contract's incremental engines must, so the
same function gives both the full-recompute truth and the windowed behaviour to test convergence against.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import psycopg
from psycopg import sql

from mcq_analytics.facts import AUDIT_COLUMNS, REGISTRY
from mcq_analytics.paths import read_sql

DEFAULT_SCHEMA = "mcq_reference"

#: The SQL files in the order they run, each with the table whose inserted rows it reports (None: only
#: temp tables and bookkeeping).
_STEPS: tuple[tuple[str, str | None], ...] = (
    ("rejects.sql", "rejects"),
    ("question_interaction_fact.sql", "question_interaction_fact"),
    ("buckets.sql", None),
    ("test_summary_fact.sql", "test_summary_fact"),
    ("test_funnel_fact.sql", "test_funnel_fact"),
    ("item_scores.sql", None),
    ("item_statistics_fact.sql", "item_statistics_fact"),
    ("option_choice_fact.sql", "option_choice_fact"),
)

#: Tables returned by fetch_reference, with the key they are ordered by.
_TABLE_KEYS: dict[str, tuple[str, ...]] = {
    **{f.name: f.keys for f in REGISTRY},
    "rejects": ("source_table", "source_key"),
}


def _script(name: str, schema: str, run_id: str) -> sql.Composed:
    """A reference SQL file with its schema identifier and run id substituted (no bind parameters, so
    a file may hold several statements)."""
    return sql.SQL(read_sql(f"reference/{name}")).format(
        schema=sql.Identifier(schema), run_id=sql.Literal(run_id)
    )


def _last_rowcount(cur: psycopg.Cursor) -> int:
    """Row count of the last statement of a multi-statement script (its INSERT)."""
    count = cur.rowcount
    while cur.nextset():
        count = cur.rowcount
    return count


def run_reference(
    source_url: str,
    window_start: datetime | None,
    window_end: datetime | None,
    schema: str = DEFAULT_SCHEMA,
) -> dict[str, int]:
    """Recompute the facts of the window ``[window_start, window_end)`` into ``schema``, or of all history
    when both are None (the reference tables are emptied first). One transaction: a failure leaves the
    reference tables as they were. Returns the rows inserted per table."""
    if (window_start is None) != (window_end is None):
        raise ValueError("give both window_start and window_end, or neither for a full recompute")
    full = window_start is None
    # PostgreSQL casts the untyped strings to timestamptz: the full recompute is the unbounded window.
    bounds = {
        "window_start": "-infinity" if full else window_start,
        "window_end": "infinity" if full else window_end,
    }
    run_id = f"reference-{uuid.uuid4().hex[:12]}"
    written: dict[str, int] = {}
    with psycopg.connect(source_url) as conn, conn.cursor() as cur:
        cur.execute(_script("schema.sql", schema, run_id))
        if full:
            cur.execute(
                sql.SQL("TRUNCATE {}").format(
                    sql.SQL(", ").join(
                        sql.Identifier(schema, table) for table in (*_TABLE_KEYS, "session_bucket")
                    )
                )
            )
        cur.execute(
            sql.SQL("CREATE TEMP TABLE reference_scope ON COMMIT DROP AS {}").format(
                sql.SQL(read_sql("extract/affected_sessions.sql"))
            ),
            bounds,
        )
        cur.execute("ALTER TABLE reference_scope ADD PRIMARY KEY (session_id)")
        cur.execute("ANALYZE reference_scope")
        for name, table in _STEPS:
            cur.execute(_script(name, schema, run_id))
            if table is not None:
                written[table] = _last_rowcount(cur)
    return written


def fetch_reference(source_url: str, schema: str = DEFAULT_SCHEMA) -> dict[str, list[tuple]]:
    """Every reference table's rows without the audit columns, ordered by key, for comparisons."""
    result: dict[str, list[tuple]] = {}
    with psycopg.connect(source_url) as conn:
        for table, key in _TABLE_KEYS.items():
            columns = [
                name
                for (name,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                    (schema, table),
                )
                if name not in AUDIT_COLUMNS
            ]
            query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.Identifier(schema, table),
                sql.SQL(", ").join(map(sql.Identifier, key)),
            )
            result[table] = conn.execute(query).fetchall()
    return result

"""Small helpers the tests share: writing source rows and reading facts back without audit columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

FACT_COLUMNS = {
    "question_interaction_fact": (
        "session_id, question_id, test_id, student_id, first_answered_at, last_answered_at, hour_start, "
        "answer_events, answer_changes, final_option, is_correct, points_awarded::float8, time_spent_ms",
        "session_id, question_id",
    ),
    "test_summary_fact": (
        "test_id, hour_start, sessions_started, students, submissions, avg_score_pct, median_score_pct, "
        "min_score_pct, max_score_pct, passed, pass_rate, avg_duration_seconds, avg_questions_answered",
        "test_id, hour_start",
    ),
    "test_funnel_fact": (
        "test_id, hour_start, started, engaged, submitted, passed, completed, engaged_rate, submitted_rate, "
        "passed_rate, completed_rate, drop_off_stage",
        "test_id, hour_start",
    ),
}

T0 = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A time ``minutes`` after 2024-06-01 10:00 UTC."""
    return T0 + timedelta(minutes=minutes)


def insert(url: str, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys) with one parameterised statement per row."""
    if not rows:
        return
    columns = list(rows[0])
    stmt = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(stmt, [tuple(r[c] for c in columns) for r in rows])


def fetch_fact(url: str, fact: str, schema: str = "analytics") -> list[tuple]:
    columns, order = FACT_COLUMNS[fact]
    query = sql.SQL("SELECT " + columns + " FROM {}.{} ORDER BY " + order).format(
        sql.Identifier(schema), sql.Identifier(fact)
    )
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def fetch_rejects(url: str, pipeline: str | None = None) -> list[tuple]:
    """(pipeline, table, key, reason) of every quarantined row, sorted."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pipeline_name, source_table, source_key, reason FROM analytics.etl_rejects"
            " WHERE %(p)s::text IS NULL OR pipeline_name = %(p)s ORDER BY 1, 2, 3, 4",
            {"p": pipeline},
        ).fetchall()
    return rows


def fetch_all_facts(url: str, schema: str = "analytics") -> dict[str, list[tuple]]:
    return {fact: fetch_fact(url, fact, schema) for fact in FACT_COLUMNS}

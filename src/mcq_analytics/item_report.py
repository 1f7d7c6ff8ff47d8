"""Item analysis as readable tables: ``run_etl.py items`` and the end of the demo.

It only calls the range functions of ``include/sql/item_analysis.sql`` (docs/item_analysis.md), so what it
prints is exactly what a dashboard or a SQL user gets for the same range.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from mcq_analytics.paths import read_sql
from mcq_analytics.reporting import format_table

#: Where a flag's meaning is explained.
DOC = "docs/item_analysis.md"


def _table(conn: psycopg.Connection, name: str, params: dict) -> tuple[list[str], list[tuple]]:
    cur = conn.execute(read_sql(f"report/{name}.sql"), params)
    return [d.name for d in cur.description], cur.fetchall()


def _section(title: str, headers: list[str], rows: list[tuple], empty: str) -> str:
    return f"{title}\n{format_table(headers, rows)}" if rows else f"{title}\n  {empty}"


def item_report(warehouse_url: str, range_start: datetime | None, range_end: datetime | None,
                test_id: int | None = None, min_attempts: int = 30) -> str:
    """One test's reliability, items and the options of its flagged questions; without ``test_id``, every
    test's reliability and every flagged question and option. ``None`` bounds mean all history."""
    params = {"range_start": range_start or "-infinity", "range_end": range_end or "infinity",
              "min_attempts": min_attempts, "test_id": test_id}
    span = (f"{range_start:%Y-%m-%d %H:%M}" if range_start else "the beginning") + " to " + (
        f"{range_end:%Y-%m-%d %H:%M} UTC" if range_end else "now")
    parts = []
    with psycopg.connect(warehouse_url) as conn:
        headers, rows = _table(conn, "items_reliability", params)
        parts.append(_section(f"test reliability, {span} (min {min_attempts} attempts for flags)", headers, rows,
                              "no scored attempts in this range"))
        if test_id is None:
            headers, rows = _table(conn, "items_flagged", params)
            parts.append(_section("flagged questions", headers, rows, "none"))
            headers, rows = _table(conn, "items_flagged_options", params)
            parts.append(_section("answer options that attract strong students (non-functional distractors: "
                                  "items --test N)", headers, rows, "none"))
        else:
            headers, rows = _table(conn, "items_test", params)
            parts.append(_section(f"questions of test {test_id}", headers, rows, "no scored attempts"))
            flagged = [row[0] for row in rows if row[-1]]
            if flagged:
                headers, rows = _table(conn, "items_options", {**params, "question_ids": flagged})
                parts.append(_section("options of the flagged questions (option 0 = no final answer)", headers,
                                      rows, "none"))
    parts.append(f"what each flag means and what to check: {DOC}")
    return "\n\n".join(parts)

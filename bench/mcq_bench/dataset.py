"""The benchmark's data: generated histories and windows copied into the source tables with shifted ids, the
warehouse reset, and the clean-up of databases the user handed in."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from mcq_analytics.paths import read_sql
from mcq_analytics.windows import HOUR, Window
from mcq_bench.scales import CATALOG_AT, ID_COLUMNS, REFERENCE_SCHEMA, SOURCE_TABLES, STAGE_SCHEMA, WAREHOUSE_TABLES


# -- data ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSet:
    """One generated data set: ``hours`` hours of activity from ``start``, ids shifted by ``offset``."""

    name: str
    answers: int
    start: datetime
    hours: int
    seed: int
    offset: int

    @property
    def window(self) -> Window:
        """The hours the data set covers."""
        return Window(self.start, self.start + self.hours * HOUR)


def _with_search_path(url: str, schema: str) -> str:
    return make_conninfo(url, options=f"-c search_path={schema}")


def _move_catalog(conn: psycopg.Connection, schema: str | None, written_at: datetime) -> None:
    """Tests and questions written at ``written_at`` (the generator's import) move to ``CATALOG_AT``."""
    for table in ("tests", "questions"):
        ident = sql.Identifier(schema, table) if schema else sql.Identifier(table)
        conn.execute(sql.SQL("UPDATE {} SET created_at = %(c)s, updated_at = %(c)s WHERE updated_at = %(w)s")
                     .format(ident), {"c": CATALOG_AT, "w": written_at})


def load_history(source_url: str, data: DataSet) -> dict[str, int]:
    """Generate the history straight into the source tables (truncating them) and move its catalogue."""
    from mcq_analytics.generator import GeneratorConfig, generate

    report = generate(source_url, GeneratorConfig(answers=data.answers, hours=data.hours, seed=data.seed,
                                                  start=data.start), reset=True, progress=lambda _: None)
    with psycopg.connect(source_url) as conn:
        _move_catalog(conn, None, data.start)
    return report.rows


def add_dataset(source_url: str, data: DataSet) -> dict[str, int]:
    """Generate ``data`` in a scratch schema and copy it into the source tables with shifted ids."""
    from mcq_analytics.generator import GeneratorConfig, generate

    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(STAGE_SCHEMA)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(STAGE_SCHEMA)))
    try:
        report = generate(_with_search_path(source_url, STAGE_SCHEMA),
                          GeneratorConfig(answers=data.answers, hours=data.hours, seed=data.seed, start=data.start),
                          reset=True, progress=lambda _: None)
        with psycopg.connect(source_url) as conn:
            _move_catalog(conn, STAGE_SCHEMA, data.start)
            for table in SOURCE_TABLES:
                columns = [r[0] for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
                    " ORDER BY ordinal_position", (STAGE_SCHEMA, table))]
                select = sql.SQL(", ").join(
                    sql.SQL("{} + {}").format(sql.Identifier(c), sql.Literal(data.offset))
                    if c in ID_COLUMNS[table] else sql.Identifier(c) for c in columns)
                conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)), select,
                    sql.Identifier(STAGE_SCHEMA, table)))
    finally:
        with psycopg.connect(source_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(STAGE_SCHEMA)))
    return report.rows


def analyze_source(source_url: str) -> None:
    """VACUUM ANALYZE the source tables, so the planner sees the data as it is now."""
    with psycopg.connect(source_url, autocommit=True) as conn:
        for table in SOURCE_TABLES:
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def reset_warehouse(source_url: str, warehouse_url: str) -> None:
    """Empty the warehouse's facts and bookkeeping and drop the reference schema."""
    from mcq_analytics.schema import ANALYTICS_DDL, apply_ddl

    apply_ddl(warehouse_url, ANALYTICS_DDL)
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(
            sql.SQL(", ").join(sql.Identifier("analytics", t) for t in WAREHOUSE_TABLES)))
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(REFERENCE_SCHEMA)))


def affected_answers(source_url: str, window: Window) -> int:
    """Answer rows of the window's affected sessions: the size ``--engine auto`` decides on."""
    query = "SELECT count(*) FROM answers WHERE session_id IN (" + read_sql("extract/affected_sessions.sql") + ")"
    with psycopg.connect(source_url) as conn:
        return int(conn.execute(query, {"window_start": window.start, "window_end": window.end}).fetchone()[0])


def holds_rows(url: str, tables: Sequence[str], schema: str | None = None) -> list[str]:
    """Which of ``tables`` exist and hold at least one row (before truncating a database handed in)."""
    filled = []
    with psycopg.connect(url) as conn:
        for table in tables:
            ident = sql.Identifier(schema, table) if schema else sql.Identifier(table)
            exists = conn.execute("SELECT to_regclass(%s)", (".".join(filter(None, (schema, table))),)).fetchone()[0]
            if exists and conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(ident)).fetchone()[0]:
                filled.append(table)
    return filled


def clean_user_databases(source_url: str, warehouse_url: str) -> None:
    """Leave the user's databases as empty as the benchmark needed them: no generated rows, no scratch schemas."""
    try:
        with psycopg.connect(source_url, autocommit=True) as conn:
            for schema in (STAGE_SCHEMA, REFERENCE_SCHEMA):
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, SOURCE_TABLES))))
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute(sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier("analytics", t) for t in WAREHOUSE_TABLES)))
    except psycopg.Error as exc:
        print(f"warning: could not clean up the given databases: {exc}", file=sys.stderr)

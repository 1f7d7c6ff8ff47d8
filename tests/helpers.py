"""Small helpers the tests share: writing source rows and reading facts back without audit columns."""

from __future__ import annotations

import math
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from mcq_analytics.facts import REGISTRY, Fact


def _select_list(fact: Fact) -> str:
    """The fact's columns for comparisons: NUMERIC read as float8 (the engines' exact staged value)."""
    return ", ".join(f"{c.name}::float8" if c.sql_type == "numeric" else c.name for c in fact.columns)


#: Per fact: (SELECT list without the audit columns, ORDER BY keys), from the registry.
FACT_COLUMNS = {f.name: (_select_list(f), ", ".join(f.keys)) for f in REGISTRY}

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (servers the tests start bind it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_rows_equal(actual: list[tuple], expected: list[tuple], rel: float = 1e-9) -> None:
    """Rows equal, expected floats to ``rel`` relative (the contract's tolerance: sums may add up in another
    order); everything else exactly."""
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}: {actual}"
    for got, want in zip(actual, expected, strict=True):
        assert len(got) == len(want), f"{got} != {want}"
        for g, w in zip(got, want, strict=True):
            if isinstance(w, float) and g is not None:
                assert math.isclose(g, w, rel_tol=rel), f"{got} != {want}"
            else:
                assert g == w, f"{got} != {want}"


def assert_facts_equal(got: dict[str, list[tuple]], expected: dict[str, list[tuple]], rel: float = 1e-9) -> None:
    """Every fact's rows equal (``assert_rows_equal``), and the same facts on both sides."""
    assert set(got) == set(expected)
    for fact, rows in expected.items():
        try:
            assert_rows_equal(got[fact], rows, rel)
        except AssertionError as exc:
            raise AssertionError(f"{fact}: {exc}") from None

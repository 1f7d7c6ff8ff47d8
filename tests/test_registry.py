"""The fact registry (``mcq_analytics.facts``) against the SQL and against each engine.

The DDL stays SQL; these tests make the registry and the live schema agree column by column (name, type,
nullability, primary key) for the warehouse and for the in-database reference, and show that every
registered fact has its definition in each engine — and which are missing when one is not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest

from mcq_analytics import facts as registry
from mcq_analytics import transform
from mcq_analytics.facts import AUDIT_COLUMNS, REGISTRY, Column, Fact
from mcq_analytics.paths import SQL_DIR
from mcq_analytics.reference import run_reference


def _spark_builders() -> dict:
    """The Spark engine's fact definitions (pyspark is a dependency; importing it starts no JVM)."""
    from mcq_analytics.spark import facts as spark_facts

    return spark_facts.FACT_BUILDERS


def missing_definitions(facts: Sequence[Fact], sql_dir: Path = SQL_DIR) -> dict[str, list[str]]:
    """Per fact of ``facts``, the definitions the project lacks for it (empty: fully covered)."""
    spark = _spark_builders()
    ddl = (sql_dir / "analytics_schema.sql").read_text()
    missing: dict[str, list[str]] = {}
    for fact in facts:
        gaps = []
        if f"analytics.{fact.name} (" not in ddl:
            gaps.append("DDL in include/sql/analytics_schema.sql")
        if fact.name not in transform.FACT_BUILDERS:
            gaps.append("Pandas: transform.FACT_BUILDERS")
        if fact.name not in spark:
            gaps.append("Spark: spark.facts.FACT_BUILDERS")
        for folder, what in (("reference", "reference SQL"), ("load", "load SQL"), ("checks", "check SQL"),
                             ("report", "report SQL")):
            if not (sql_dir / folder / f"{fact.name}.sql").is_file():
                gaps.append(f"{what}: include/sql/{folder}/{fact.name}.sql")
        missing[fact.name] = gaps
    return missing


def test_every_registered_fact_is_defined_by_every_engine() -> None:
    assert missing_definitions(REGISTRY) == {f.name: [] for f in REGISTRY}
    # ... and no engine defines a fact the registry does not declare.
    assert set(transform.FACT_BUILDERS) == set(registry.FACT_NAMES)
    assert set(_spark_builders()) == set(registry.FACT_NAMES)


def test_a_new_registry_entry_shows_what_is_missing() -> None:
    throwaway = dataclasses.replace(
        REGISTRY[1], name="throwaway_fact", columns=(Column("test_id", "bigint"),), doc="", report_title="x"
    )
    missing = missing_definitions((*REGISTRY, throwaway))
    assert missing["throwaway_fact"] == [
        "DDL in include/sql/analytics_schema.sql",
        "Pandas: transform.FACT_BUILDERS",
        "Spark: spark.facts.FACT_BUILDERS",
        "reference SQL: include/sql/reference/throwaway_fact.sql",
        "load SQL: include/sql/load/throwaway_fact.sql",
        "check SQL: include/sql/checks/throwaway_fact.sql",
        "report SQL: include/sql/report/throwaway_fact.sql",
    ]
    assert all(not gaps for name, gaps in missing.items() if name != "throwaway_fact")


def test_derived_layouts() -> None:
    qif = registry.fact("question_interaction_fact")
    assert qif.stage_columns == {
        "session_id": "bigint", "question_id": "bigint", "test_id": "bigint", "student_id": "bigint",
        "first_answered_us": "bigint", "last_answered_us": "bigint", "hour_start_us": "bigint",
        "answer_events": "integer", "answer_changes": "integer", "final_option": "smallint",
        "is_correct": "boolean", "points_awarded": "double precision", "time_spent_ms": "bigint",
    }
    assert qif.key_columns == {"session_id": "bigint"}
    # Exact sums (marked ``!``) stage as NUMERIC, never through float8; other NUMERIC stays float8.
    isf = registry.fact("item_statistics_fact").stage_columns
    assert (isf["sum_score_sq"], isf["sum_total_sq"], isf["sum_score_total"], isf["sum_total"]) == (
        "numeric", "numeric", "numeric", "bigint")
    assert registry.fact("option_choice_fact").key_columns == {"test_id": "bigint", "hour_start_us": "bigint"}
    assert registry.fact("test_funnel_fact").key_columns == {"test_id": "bigint", "hour_start_us": "bigint"}
    with pytest.raises(KeyError, match="unknown fact 'nope'"):
        registry.fact("nope")


def _live_columns(url: str, schema: str, table: str) -> list[tuple[str, str, bool]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, table),
        ).fetchall()


def _live_primary_key(url: str, schema: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT a.attname FROM pg_index i"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
            " WHERE i.indrelid = %s::regclass AND i.indisprimary"
            " ORDER BY array_position(i.indkey::int2[], a.attnum)",
            (f"{schema}.{table}",),
        ).fetchall()
    return [name for (name,) in rows]


def _expected(fact: Fact) -> list[tuple[str, str, bool]]:
    return [(c.name, c.sql_type, c.nullable) for c in fact.columns]


@pytest.mark.parametrize("fact", REGISTRY, ids=lambda f: f.name)
def test_registry_matches_the_warehouse_schema(dbs, fact: Fact) -> None:
    live = _live_columns(dbs.warehouse_url, "analytics", fact.name)
    assert [c for c in live if c[0] not in AUDIT_COLUMNS] == _expected(fact)
    assert [c[0] for c in live if c[0] in AUDIT_COLUMNS] == list(AUDIT_COLUMNS)
    assert _live_primary_key(dbs.warehouse_url, "analytics", fact.name) == list(fact.keys)


def test_registry_matches_the_reference_schema(dbs) -> None:
    run_reference(dbs.source_url, None, None, schema="mcq_reference")
    for fact in REGISTRY:
        live = _live_columns(dbs.source_url, "mcq_reference", fact.name)
        assert [c for c in live if c[0] not in AUDIT_COLUMNS] == _expected(fact), fact.name
        assert _live_primary_key(dbs.source_url, "mcq_reference", fact.name) == list(fact.keys), fact.name

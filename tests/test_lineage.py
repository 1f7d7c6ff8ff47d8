"""Issue 16 item 3: the custom operators' OpenLineage, emitted by the OpenLineage provider from real Airflow runs
(``dag.test()``) through its file transport: a build's events name the fact's source tables as inputs and the
fact table and ``analytics.etl_rejects`` as outputs, the COMPLETE event with the rows ``etl_run_log``
recorded; with no transport configured nothing is emitted and nothing is logged about it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from airflow_harness import airflow_env, dag_test_with_output
from psycopg.rows import dict_row
from test_airflow_runs import STAND_IN_JOB

from mcq_analytics.airflow.lineage import postgres_dataset
from mcq_analytics.facts import FACT_NAMES, fact
from mcq_analytics.generator import GeneratorConfig, generate

T0 = datetime(2024, 6, 1, 10, tzinfo=UTC)
DAG_ID = "mcq_analytics_batch"


@pytest.fixture(scope="module")
def airflow(pg_server, tmp_path_factory):
    return airflow_env(pg_server, tmp_path_factory.getbasetemp(), "lineage")


def lineage_env(airflow, dbs, events_file: Path) -> dict[str, str]:
    """The environment of a worker whose OpenLineage provider writes its events to ``events_file``."""
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    return airflow.env(dbs.source_url, dbs.warehouse_url, AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(transport),
                       AIRFLOW__OPENLINEAGE__NAMESPACE="mcq_tests")


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def names(datasets: list[dict]) -> list[tuple[str, str]]:
    return sorted((d["namespace"], d["name"]) for d in datasets)


def row_counts(datasets: list[dict]) -> dict[str, int | None]:
    return {d["name"]: d.get("outputFacets", {}).get("outputStatistics", {}).get("rowCount") for d in datasets}


def test_postgres_dataset_names_follow_openlineage_naming():
    url = "postgresql://mcq:s3cret@db.example:6543/warehouse?sslmode=require"
    assert postgres_dataset(url, "analytics.etl_rejects") == ("postgres://db.example:6543",
                                                              "warehouse.analytics.etl_rejects")
    assert postgres_dataset("postgresql://mcq@localhost/source", "public.answers") == (
        "postgres://localhost:5432", "source.public.answers")
    assert postgres_dataset("postgresql:///source?host=pg&port=5433", "public.sessions") == (
        "postgres://pg:5433", "source.public.sessions")


def test_build_tasks_emit_sources_in_and_fact_and_rejects_out_with_the_recorded_counts(airflow, dbs, tmp_path):
    generate(dbs.source_url, GeneratorConfig(seed=11, start=T0, hours=1, answers=600), reset=True)
    events_file = tmp_path / "openlineage.jsonl"
    runs, out = dag_test_with_output(airflow, DAG_ID, [(T0 + timedelta(hours=1)).isoformat()],
                                     proc_env=lineage_env(airflow, dbs, events_file))
    assert [r.state for r in runs] == ["success"], [r.tasks for r in runs]
    assert "OpenLineage method failed" not in out

    with psycopg.connect(dbs.warehouse_url, row_factory=dict_row) as conn:
        logged = {r["pipeline_name"]: r for r in conn.execute("SELECT * FROM analytics.etl_run_log")}
    assert sorted(logged) == sorted(FACT_NAMES)
    source = urlsplit(dbs.source_url)
    warehouse = urlsplit(dbs.warehouse_url)
    source_ns = f"postgres://{source.hostname}:{source.port}"
    warehouse_ns = f"postgres://{warehouse.hostname}:{warehouse.port}"
    source_db, warehouse_db = source.path.lstrip("/"), warehouse.path.lstrip("/")

    events = read_events(events_file)
    by_job: dict[tuple[str, str], dict] = {}
    for event in events:
        by_job[(event["job"]["name"], event["eventType"])] = event
    for name in FACT_NAMES:
        job = f"{DAG_ID}.{name}.build"
        expected_inputs = sorted((source_ns, f"{source_db}.public.{table}") for table in fact(name).sources)
        expected_outputs = sorted([(warehouse_ns, f"{warehouse_db}.analytics.{name}"),
                                   (warehouse_ns, f"{warehouse_db}.analytics.etl_rejects")])
        start, complete = by_job[(job, "START")], by_job[(job, "COMPLETE")]
        assert start["job"]["namespace"] == complete["job"]["namespace"] == "mcq_tests"
        assert names(start["inputs"]) == names(complete["inputs"]) == expected_inputs
        assert names(start["outputs"]) == names(complete["outputs"]) == expected_outputs
        assert set(row_counts(start["outputs"]).values()) == {None}
        row = logged[name]
        assert row["status"] == "success" and row["rows_written"] > 0
        assert row_counts(complete["outputs"]) == {
            f"{warehouse_db}.analytics.{name}": row["rows_written"],
            f"{warehouse_db}.analytics.etl_rejects": row["rows_rejected"],
        }
        assert "mcqAnalytics" not in start["run"]["facets"]
        facet = {k: v for k, v in complete["run"]["facets"]["mcqAnalytics"].items() if not k.startswith("_")}
        assert facet == {"pipeline": name, "etlRunId": row["run_id"], "engine": "pandas",
                         "dataIntervalStart": "2024-06-01T10:00:00+00:00",
                         "dataIntervalEnd": "2024-06-01T11:00:00+00:00", "rowsRead": row["rows_read"],
                         "rowsWritten": row["rows_written"], "rowsRejected": row["rows_rejected"]}
        assert row["rows_read"] > 0
    if warehouse.password:  # the namespaces carry host and port only, never credentials
        assert warehouse.password not in events_file.read_text()


@pytest.mark.spark
def test_spark_builds_emit_the_jobs_counts_and_a_failed_build_its_datasets(airflow, dbs, tmp_path):
    """The Spark DAG with real spark-submit (local[1]) of the stand-in job of ``test_airflow_runs``: it records
    100 read, 7 written, 1 rejected, except for ``test_funnel_fact``, whose job dies (exit 3)."""
    job = tmp_path / "stand_in_job.py"
    job.write_text(STAND_IN_JOB)
    events_file = tmp_path / "openlineage.jsonl"
    env = {**lineage_env(airflow, dbs, events_file),
           "AIRFLOW_CONN_SPARK_DEFAULT": '{"conn_type": "spark", "host": "local[1]"}'}
    runs, out = dag_test_with_output(airflow, "mcq_analytics_spark", [(T0 + timedelta(hours=1)).isoformat()],
                                     proc_env=env, retries=0, application=str(job))
    assert runs[0].tasks["test_funnel_fact.build"] == "failed", runs[0].tasks
    assert "OpenLineage method failed" not in out

    warehouse_db = urlsplit(dbs.warehouse_url).path.lstrip("/")
    by_job = {(e["job"]["name"], e["eventType"]): e for e in read_events(events_file)}
    for name in FACT_NAMES:
        job_name = f"mcq_analytics_spark.{name}.build"
        dying = name == "test_funnel_fact"
        end = by_job[(job_name, "FAIL" if dying else "COMPLETE")]
        assert [n for _, n in names(end["inputs"])] == sorted(
            f"{urlsplit(dbs.source_url).path.lstrip('/')}.public.{t}" for t in fact(name).sources)
        assert row_counts(end["outputs"]) == {
            f"{warehouse_db}.analytics.{name}": None if dying else 7,
            f"{warehouse_db}.analytics.etl_rejects": None if dying else 1,
        }
        facet = end["run"]["facets"].get("mcqAnalytics", {})
        assert (facet.get("engine"), facet.get("rowsRead"), facet.get("rowsWritten"), facet.get("rowsRejected")) == (
            (None, None, None, None) if dying else ("spark", 100, 7, 1))


def test_no_transport_no_lineage_and_nothing_logged(airflow, dbs, tmp_path):
    """The provider is installed everywhere; without a transport it stays disabled and silent."""
    runs, out = dag_test_with_output(airflow, DAG_ID, [(T0 + timedelta(hours=1)).isoformat()],
                                     proc_env=airflow.env(dbs.source_url, dbs.warehouse_url))
    assert [r.state for r in runs] == ["success"], [r.tasks for r in runs]
    assert "openlineage" not in out.lower()


def lineage_json(lineage) -> tuple[list[tuple[str, str]], dict[str, int | None]]:
    """``(inputs, {output: rowCount})`` of an ``OperatorLineage`` as the provider serialises its datasets
    (every output in the warehouse's namespace)."""
    from openlineage.client.serde import Serde

    inputs = [json.loads(Serde.to_json(d)) for d in lineage.inputs]
    outputs = [json.loads(Serde.to_json(d)) for d in lineage.outputs]
    assert {d["namespace"] for d in outputs} == {"postgres://wh.example:5432"}
    return names(inputs), row_counts(outputs)


def test_spark_and_reconcile_operators_report_the_same_lineage(monkeypatch):
    """The Spark build and reconcile without running Spark or a DAG: their operator methods, on start (the
    connections resolved as ``execute`` resolves them) and after ``execute`` recorded the run's counts."""
    from mcq_analytics.airflow.operators import ReconcileOperator, SparkFactSubmitOperator

    monkeypatch.setenv("AIRFLOW_CONN_MCQ_SOURCE", "postgresql://mcq:pw@src.example:5433/mcq_source")
    monkeypatch.setenv("AIRFLOW_CONN_MCQ_WAREHOUSE", "postgresql://mcq:pw@wh.example/mcq_warehouse")
    src = "postgres://src.example:5433"
    name = FACT_NAMES[0]
    spark = SparkFactSubmitOperator(task_id="build", pipeline=name)
    started = lineage_json(spark.get_openlineage_facets_on_start())
    assert started == (sorted((src, f"mcq_source.public.{t}") for t in fact(name).sources),
                       {f"mcq_warehouse.analytics.{name}": None, "mcq_warehouse.analytics.etl_rejects": None})
    spark.record_lineage("postgresql://mcq:pw@src.example:5433/mcq_source",
                         "postgresql://mcq:pw@wh.example/mcq_warehouse", {name: 120}, 7)
    assert lineage_json(spark.get_openlineage_facets_on_complete(None))[1] == {
        f"mcq_warehouse.analytics.{name}": 120, "mcq_warehouse.analytics.etl_rejects": 7}

    reconcile = ReconcileOperator(task_id="reconcile")
    inputs, outputs = lineage_json(reconcile.get_openlineage_facets_on_start())
    every_source = sorted({t for f in FACT_NAMES for t in fact(f).sources})
    assert inputs == sorted((src, f"mcq_source.public.{t}") for t in every_source)
    assert outputs == {**{f"mcq_warehouse.analytics.{f}": None for f in FACT_NAMES},
                       "mcq_warehouse.analytics.etl_rejects": None}
    reconcile.record_lineage("postgresql://mcq:pw@src.example:5433/mcq_source",
                             "postgresql://mcq:pw@wh.example/mcq_warehouse", {name: 40}, 3)
    assert lineage_json(reconcile.get_openlineage_facets_on_complete(None))[1] == {
        **{f"mcq_warehouse.analytics.{f}": 0 for f in FACT_NAMES}, f"mcq_warehouse.analytics.{name}": 40,
        "mcq_warehouse.analytics.etl_rejects": 3}

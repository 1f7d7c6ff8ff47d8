"""Issue 16 against real Airflow runs (``dag.test()``): each build's asset event carries the run's facts in
its ``extra`` (data interval, rows read/written/rejected, rejects by reason, engine, run id), a window that
read nothing is marked ``"empty": true`` with a warning, the build log names its table, window, rows and
where the rejects are, and the rule checks log each check by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from airflow_harness import airflow_env, dag_test_with_output
from psycopg.rows import dict_row

from mcq_analytics.facts import FACT_NAMES, fact
from mcq_analytics.generator import GeneratorConfig, generate

T0 = datetime(2024, 6, 1, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def airflow(pg_server, tmp_path_factory):
    return airflow_env(pg_server, tmp_path_factory.getbasetemp(), "observability")


def asset_events(db_url: str) -> list[dict]:
    """The asset events in Airflow's metadata database, oldest first, with their asset's name."""
    url = db_url.replace("postgresql+psycopg2://", "postgresql://", 1)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT a.name, e.extra, e.source_run_id FROM asset_event e"
                            " JOIN asset a ON a.id = e.asset_id ORDER BY e.id").fetchall()


def test_asset_events_carry_the_runs_facts_and_empty_windows_are_marked(airflow, dbs):
    generate(dbs.source_url, GeneratorConfig(seed=11, start=T0, hours=1, answers=600), reset=True)
    env = airflow.env(dbs.source_url, dbs.warehouse_url)
    busy, empty = T0 + timedelta(hours=1), T0 + timedelta(hours=6)  # [10, 11) has data, [15, 16) none
    runs, out = dag_test_with_output(airflow, "mcq_analytics_batch", [busy.isoformat(), empty.isoformat()],
                                     proc_env=env)
    assert [r.state for r in runs] == ["success", "success"], [r.tasks for r in runs]

    with psycopg.connect(dbs.warehouse_url, row_factory=dict_row) as conn:
        logged = {(r["run_id"]): r for r in conn.execute("SELECT * FROM analytics.etl_run_log")}
    events = asset_events(airflow.db_url)
    assert sorted(e["name"] for e in events) == sorted(fact(f).asset_name for f in FACT_NAMES for _ in range(2))
    by_interval: dict[str, list[dict]] = {}
    for event in events:
        by_interval.setdefault(event["extra"]["data_interval_start"], []).append(event)
    assert sorted(by_interval) == [T0.isoformat(), (T0 + timedelta(hours=5)).isoformat()]
    for event in by_interval[T0.isoformat()]:
        extra = event["extra"]
        row = logged[extra["run_id"]]
        assert extra["run_id"].startswith(f"{row['pipeline_name']}__mcq_analytics_batch__{runs[0].run_id}__try1")
        assert fact(row["pipeline_name"]).asset_name == event["name"]
        assert extra["data_interval_end"] == (T0 + timedelta(hours=1)).isoformat()
        assert (extra["rows_read"], extra["rows_written"], extra["rows_rejected"]) == (
            row["rows_read"], row["rows_written"], row["rows_rejected"])
        assert extra["rows_read"] > 0 and extra["rows_written"] > 0
        assert sum(extra["rejects_by_reason"].values()) <= extra["rows_rejected"]
        assert (extra["engine"], extra["empty"]) == ("pandas", False)
    for event in by_interval[(T0 + timedelta(hours=5)).isoformat()]:
        extra = event["extra"]
        assert (extra["rows_read"], extra["rows_written"], extra["rows_rejected"], extra["empty"]) == (0, 0, 0, True)

    for name in FACT_NAMES:
        assert f"built {fact(name).table} for [2024-06-01 10:00, 2024-06-01 11:00) UTC on pandas: read " in out
        assert (f"{fact(name).table} read no source rows for [2024-06-01 15:00, 2024-06-01 16:00) UTC: nothing "
                "changed in that window") in out
    assert "attempt 1 of 3; a failure is retried" in out
    assert "stages_non_increasing: True" in out
    assert "all " in out and " checks passed" in out


def test_counts_mean_one_thing_whichever_facts_a_run_builds(pg_server, schema_templates, dbs):
    """Contract §5: a one-fact build (an Airflow task) records the same rows_read/rows_written/rows_rejected
    for a window as the all-facts run of ``run_etl.py`` (before: 29,114 vs 40,670 read on the demo's 05:00)."""
    import uuid

    from mcq_analytics.pipeline import run_pandas_window
    from mcq_analytics.windows import Window

    generate(dbs.source_url, GeneratorConfig(seed=11, start=T0, hours=2, answers=1500), reset=True)
    window = Window(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    together = {r.pipeline: (r.rows_read, r.rows_written, r.rows_rejected)
                for r in run_pandas_window(dbs.source_url, dbs.warehouse_url, window)}
    name = f"t_single_{uuid.uuid4().hex[:8]}"
    single_url = pg_server.create_database(name, template=schema_templates[1])
    try:
        alone = {}
        for pipeline in FACT_NAMES:
            [r] = run_pandas_window(dbs.source_url, single_url, window, [pipeline])
            alone[pipeline] = (r.rows_read, r.rows_written, r.rows_rejected)
    finally:
        pg_server.drop_database(name)
    assert alone == together
    assert len({read for read, _, _ in together.values()}) == 1  # one scope: every fact read the same rows

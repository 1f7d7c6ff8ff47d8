"""The reload DAG run by real Airflow (``dag.test()`` with params) on the generated source of
``test_reliability``: a range rebuilt in windows of ``window_hours`` from a fresh warehouse equals a full
recompute, each window is in the run log, and the watermarks end at the range's end; bad params fail the run
in one line without touching the warehouse."""

from __future__ import annotations

import psycopg
import pytest
from airflow_harness import airflow_env, dag_test_with_output
from test_planning import run_log
from test_reliability import (  # noqa: F401 - fixtures used by name
    assert_converged,
    generated_template,
    hour,
    live,
    watermarks,
    window_text,
)

from mcq_analytics.facts import FACT_NAMES


@pytest.fixture(scope="module")
def airflow(pg_server, tmp_path_factory):
    return airflow_env(pg_server, tmp_path_factory.getbasetemp(), "reload")


def test_reload_dag_builds_a_range_in_windows_and_refuses_bad_params(airflow, live):  # noqa: F811 - the fixture
    env = airflow.env(live.source_url, live.warehouse_url)
    conf = {"start": "2024:07:01 00", "end": "2024-07-01T05:00:00Z", "engine": "pandas", "window_hours": 2}
    runs, out = dag_test_with_output(airflow, "mcq_analytics_reload", ["2024-07-02T00:00:00+00:00"],
                                     proc_env=env, conf=conf)
    assert [(r.state, r.tasks) for r in runs] == [("success", {"reload": "success"})]
    assert "reload 2024-07-01 00:00 to 2024-07-01 05:00: 3 window(s) (up to 2 hour(s) each) on pandas" in out
    windows = [(0, 2), (2, 4), (4, 5)]
    for start, end in windows:
        assert f"planned: {window_text(start, end)}" in out
        for fact in FACT_NAMES:
            assert f"{window_text(start, end)}  {fact} ok on pandas" in out
    n = 3 * len(FACT_NAMES)
    assert f"reload: 3 window(s), {n} pipeline run(s): {n} succeeded, 0 failed" in out
    for fact in FACT_NAMES:
        assert run_log(live.warehouse_url, fact) == [(hour(a), hour(b), "success") for a, b in windows]
    with psycopg.connect(live.warehouse_url) as conn:
        triggered = {row[0] for row in conn.execute("SELECT DISTINCT triggered_by FROM analytics.etl_run_log")}
    assert triggered == {f"airflow:mcq_analytics_reload/{runs[0].run_id}"}
    assert watermarks(live.warehouse_url) == {name: hour(5) for name in FACT_NAMES}
    assert_converged(live)

    bad = {"start": "2024:07:01 05", "end": "2024:07:01 03"}
    runs, out = dag_test_with_output(airflow, "mcq_analytics_reload", ["2024-07-03T00:00:00+00:00"],
                                     proc_env=env, conf=bad)
    assert [(r.state, r.tasks) for r in runs] == [("failed", {"reload": "failed"})]
    assert "reload: the end 2024-07-01 03:00 must be after the start 2024-07-01 05:00" in out
    for fact in FACT_NAMES:  # nothing ran
        assert run_log(live.warehouse_url, fact) == [(hour(a), hour(b), "success") for a, b in windows]

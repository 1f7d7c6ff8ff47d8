"""The reconcile DAG run by real Airflow (``dag.test()``) on the issue-11 scenario of
``test_reliability.test_a_row_older_than_the_look_back_is_caught_by_reconcile``: a row committed with an
``updated_at`` far behind every window's look-back is missing after the normal runs and present after
one run of ``mcq_analytics_reconcile``; a second run finds nothing changed."""

from __future__ import annotations

import pytest
from airflow_harness import airflow_env, dag_test_with_output
from helpers import insert
from test_reliability import (  # noqa: F401 - fixtures used by name
    QIF,
    answer_row,
    assert_converged,
    cli_hour,
    etl,
    generated_template,
    hour,
    live,
    missing_from_warehouse,
    process,
    recompute,
    succeeded,
    unanswered_question,
    window_text,
)

from mcq_analytics.facts import FACT_NAMES


@pytest.fixture(scope="module")
def airflow(pg_server, tmp_path_factory):
    return airflow_env(pg_server, tmp_path_factory.getbasetemp(), "reconcile")


def test_reconcile_dag_catches_a_row_older_than_the_look_back(airflow, live):  # noqa: F811 - the fixture
    process(live, 0, 4)
    session_id, question_id = unanswered_question(live.source_url, hour(0, 30))
    insert(live.source_url, "answers", [answer_row(910000001, session_id, question_id, hour(0, 30))])
    succeeded(etl(live, "--end", cli_hour(5)))
    recompute(live.source_url)
    assert missing_from_warehouse(live, QIF) == {(session_id, question_id)}

    env = airflow.env(live.source_url, live.warehouse_url)
    runs, out = dag_test_with_output(airflow, "mcq_analytics_reconcile", ["2024-07-02T03:30:00+00:00"],
                                     proc_env=env)
    assert [(r.state, r.tasks) for r in runs] == [("success", {"reconcile": "success"})]
    assert "reconcile: 1 processed hour(s) changed in the source; reprocessing them" in out
    assert f"changed: {window_text(0, 1)}  {', '.join(FACT_NAMES)}" in out
    for fact in FACT_NAMES:
        assert f"{window_text(0, 1)}  {fact} ok on pandas" in out
    n = len(FACT_NAMES)
    assert f"reconcile: {n} pipeline run(s): {n} succeeded, 0 failed" in out
    assert_converged(live)

    runs, out = dag_test_with_output(airflow, "mcq_analytics_reconcile", ["2024-07-03T03:30:00+00:00"],
                                     proc_env=env)
    assert [r.state for r in runs] == ["success"]
    assert "reconciled: no processed hour of the last 7 day(s) changed in the source" in out

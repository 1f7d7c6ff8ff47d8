"""The item review (issue 14 item 5) on real parts: a warehouse built by the Pandas engine from hand-built
source rows (a mis-keyed question), the loopback Slack webhook and SMTP server of ``test_alerts``, and the
``mcq_item_review`` DAG's asset schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from test_alerts import channels, mailbox, settings, webhook  # noqa: F401  (the loopback servers' fixtures)
from test_item_analysis import mis_keyed_test
from test_reference import h

from mcq_analytics.item_review import review, review_days

ROWS = "SELECT test_id, question_id, option, flag, attempts, resolved_at IS NOT NULL FROM analytics.item_review " \
       "ORDER BY test_id, question_id, option NULLS FIRST, flag"


def query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_new_flags_are_announced_once_and_a_resolution_once(dbs: Any, channels, settings) -> None:  # noqa: F811
    hook, box = channels
    mis_keyed_test(dbs)
    end = h(12)
    first = review(dbs.warehouse_url, settings, end=end, days=30, min_attempts=6)
    assert (first.range_start, first.range_end) == (end - timedelta(days=30), end)
    flagged = [(2, 21, 3, "non_functional", 6, False), (2, 22, None, "negative_discrimination", 6, False),
               (2, 23, None, "negative_discrimination", 6, False), (2, 23, 1, "attracts_strong_students", 6, False),
               (2, 23, 3, "non_functional", 6, False)]
    assert query(dbs.warehouse_url, ROWS) == flagged
    assert (first.open_flags, first.announced, first.resolved) == (5, 5, 0)
    # One Slack post and one mail per new flag, in the same order, each saying what the flag means.
    subjects = [f"[mcq-analytics staging] item review: {flag} — test 2, question {q}" + (f", option {o}" if o else "")
                for _, q, o, flag, _, _ in flagged]
    assert [m["subject"] for m in box.mails] == subjects
    assert [p["json"]["text"].splitlines()[0] for p in hook.posts] == [f"*{s}*" for s in subjects]
    q23 = hook.posts[2]["json"]["text"]
    assert "Figures: attempts 6, facility 0.500, discrimination index -0.928, point-biserial -0.707." in q23
    assert "most often a wrong key" in q23 and "What to check: the key first" in q23
    assert "no titles or positions" in q23
    assert "Figures: attempts 6, point-biserial 0.707, share of attempts 0.500." in hook.posts[3]["json"]["text"]
    assert "most often a wrong key" in box.mails[2]["body"]

    # A re-run (the same or a later range end) sends nothing and changes no flag.
    again = review(dbs.warehouse_url, settings, end=end + timedelta(hours=1), days=30, min_attempts=6)
    assert (again.open_flags, again.announced, again.resolved) == (5, 0, 0)
    assert (len(hook.posts), len(box.mails)) == (5, 5)
    assert query(dbs.warehouse_url, ROWS) == flagged

    # Question 23 leaves the facts (as if removed from the test): its three flags no longer hold.
    with psycopg.connect(dbs.warehouse_url) as conn:
        conn.execute("DELETE FROM analytics.item_statistics_fact WHERE question_id = 23")
        conn.execute("DELETE FROM analytics.option_choice_fact WHERE question_id = 23")
    third = review(dbs.warehouse_url, settings, end=end, days=30, min_attempts=6)
    assert (third.open_flags, third.announced, third.resolved) == (2, 0, 3)
    assert query(dbs.warehouse_url, ROWS) == [
        (2, 21, 3, "non_functional", 6, False), (2, 22, None, "negative_discrimination", 6, False),
        (2, 23, None, "negative_discrimination", 6, True), (2, 23, 1, "attracts_strong_students", 6, True),
        (2, 23, 3, "non_functional", 6, True)]
    resolved = [f"[mcq-analytics staging] item review: {flag} resolved — test 2, question 23{o}"
                for flag, o in (("negative_discrimination", ""), ("attracts_strong_students", ", option 1"),
                                ("non_functional", ", option 3"))]
    assert [m["subject"] for m in box.mails[5:]] == resolved
    assert len(hook.posts) == 8
    assert "no longer holds" in hook.posts[5]["json"]["text"]
    # ...and once only.
    assert review(dbs.warehouse_url, settings, end=end, days=30, min_attempts=6).resolved == 0
    assert (len(hook.posts), len(box.mails)) == (8, 8)


def test_a_range_without_the_data_resolves_nothing_it_never_flagged(dbs: Any, channels, settings) -> None:  # noqa: F811
    hook, box = channels
    mis_keyed_test(dbs)
    # The data lies at 2024-06-01 10:00; a 1-day range ending 2024-06-01 10:00 holds none of it.
    result = review(dbs.warehouse_url, settings, end=h(10), days=1, min_attempts=6)
    assert (result.open_flags, result.announced, result.resolved) == (0, 0, 0)
    assert (hook.posts, box.mails) == ([], [])


def test_review_days_param_then_setting_then_default(settings) -> None:  # noqa: F811
    assert review_days(7, settings) == 7
    assert review_days("14", settings) == 14
    assert review_days(None, settings) == 30
    assert review_days(None, None) == 30
    for bad, line in ((0, "at least 1, got 0"), ("x", "a whole number of days, got 'x'")):
        with pytest.raises(ValueError, match=line):
            review_days(bad, settings)


def test_the_dag_runs_the_review_under_dag_test(dbs: Any, pg_server: Any, channels, tmp_path_factory) -> None:  # noqa: F811
    """``mcq_item_review`` under ``dag.test()``: a manual run of the asset-scheduled DAG reviews the 30 days
    before its logical date on the ``mcq_warehouse`` connection and announces through the Airflow
    connections; a second run announces nothing."""
    import os

    from airflow_harness import airflow_env, dag_test

    hook, box = channels
    mis_keyed_test(dbs)
    airflow = airflow_env(pg_server, tmp_path_factory.getbasetemp(), "item_review")
    env = airflow.env(dbs.source_url, dbs.warehouse_url,
                      AIRFLOW_CONN_SLACK_ALERTS=os.environ["AIRFLOW_CONN_SLACK_ALERTS"],
                      AIRFLOW_CONN_SMTP_DEFAULT=os.environ["AIRFLOW_CONN_SMTP_DEFAULT"],
                      MCQ_ALERT_EMAIL_TO="authors@example.com", MCQ_ITEM_REVIEW_DAYS="2")
    runs = dag_test(airflow, "mcq_item_review", [h(12).isoformat(), h(13).isoformat()], proc_env=env,
                    conf={"min_attempts": 6})
    assert [(r.state, r.tasks) for r in runs] == [("success", {"review": "success"})] * 2
    # The first run flags and announces the five flags of test 2; the second (an hour later) nothing.
    assert query(dbs.warehouse_url, ROWS) == [
        (2, 21, 3, "non_functional", 6, False), (2, 22, None, "negative_discrimination", 6, False),
        (2, 23, None, "negative_discrimination", 6, False), (2, 23, 1, "attracts_strong_students", 6, False),
        (2, 23, 3, "non_functional", 6, False)]
    assert (len(hook.posts), len(box.mails)) == (5, 5)
    assert box.mails[0]["to"] == ["authors@example.com"]
    # MCQ_ITEM_REVIEW_DAYS=2 and the run's logical date (its data interval end) make the range.
    assert query(dbs.warehouse_url, "SELECT DISTINCT range_start, range_end FROM analytics.item_review") == [
        (h(13) - timedelta(days=2), h(13))]


def test_the_range_ends_at_the_latest_triggering_interval_end() -> None:
    """An asset-triggered run reviews up to the latest ``data_interval_end`` its triggering builds recorded
    (their event extra, else their source run); a run without events uses its own interval; else now."""
    from types import SimpleNamespace

    from mcq_analytics.airflow.dag_factory import triggered_end

    from_run = SimpleNamespace(extra={}, source_dag_run=SimpleNamespace(data_interval_end=h(13)))
    events = {"item_statistics_fact": [SimpleNamespace(extra={"data_interval_end": h(11).isoformat()}), from_run,
                                       SimpleNamespace(extra={"data_interval_end": h(12).isoformat()})]}
    assert triggered_end({"triggering_asset_events": events}) == h(13)
    assert triggered_end({"triggering_asset_events": {}, "dag_run": SimpleNamespace(data_interval_end=h(9))}) == h(9)
    assert triggered_end({}) is None

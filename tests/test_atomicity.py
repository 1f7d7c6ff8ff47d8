"""A window's writes are all or nothing, and two writers of one fact never interleave."""

from __future__ import annotations

import threading
import time

import psycopg
from helpers import at, fetch_fact, insert
from test_contract import EXPECTED_SUMMARY, assert_rows_equal, run_hours, seed_platform

from mcq_analytics.load import lock_key
from mcq_analytics.metadata import read_metadata
from mcq_analytics.pipeline import run_pandas_window
from mcq_analytics.windows import Window

FAIL_ON_INSERT = """
CREATE FUNCTION analytics.refuse_insert() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'disk full (injected)'; END $$;
CREATE TRIGGER refuse_insert BEFORE INSERT ON analytics.test_summary_fact
   FOR EACH ROW EXECUTE FUNCTION analytics.refuse_insert();
"""


def late_answer(url: str) -> None:
    insert(url, "answers", [{"answer_id": 301, "session_id": 3, "question_id": 11, "selected_option": 2,
                             "answered_at": at(45), "time_spent_ms": 10, "updated_at": at(190)}])


def metadata_by_pipeline(url: str) -> dict[str, dict]:
    return {row["pipeline_name"]: row for row in read_metadata(url)}


def test_failure_between_delete_and_insert_leaves_the_fact_unchanged(dbs):
    seed_platform(dbs.source_url)
    # The catalogue rows date from 00:00: process the quiet hours up to 10:00 so the windows are in sequence.
    run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(at(-600), at(0)))
    run_hours(dbs, 0, 1, 2)
    watermark_before = metadata_by_pipeline(dbs.warehouse_url)["test_summary_fact"]["watermark"]
    assert watermark_before == at(180)
    with psycopg.connect(dbs.warehouse_url) as conn:
        conn.execute(FAIL_ON_INSERT)
    late_answer(dbs.source_url)

    results = {r.pipeline: r for r in run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(at(180), at(240)))}

    assert results["test_summary_fact"].status == "failed"
    assert "disk full (injected)" in results["test_summary_fact"].error
    assert results["test_funnel_fact"].status == "success"  # the other facts still land
    assert_rows_equal(fetch_fact(dbs.warehouse_url, "test_summary_fact"), EXPECTED_SUMMARY)  # not half-deleted
    meta = metadata_by_pipeline(dbs.warehouse_url)
    assert meta["test_summary_fact"]["status"] == "failed"
    assert meta["test_summary_fact"]["consecutive_failures"] == 1
    assert "disk full (injected)" in meta["test_summary_fact"]["last_error"]
    assert meta["test_summary_fact"]["watermark"] == watermark_before  # a failed window never moves it
    assert meta["test_funnel_fact"]["status"] == "success"

    with psycopg.connect(dbs.warehouse_url) as conn:
        conn.execute("DROP TRIGGER refuse_insert ON analytics.test_summary_fact")
    run_hours(dbs, 3)
    meta = metadata_by_pipeline(dbs.warehouse_url)
    assert meta["test_summary_fact"]["status"] == "success"
    assert meta["test_summary_fact"]["consecutive_failures"] == 0
    summary = fetch_fact(dbs.warehouse_url, "test_summary_fact")
    assert summary[0][:5] == (1, at(0), 4, 3, 3) and summary[0][-1] == 1.5  # session 3 now answered one


def test_run_log_keeps_one_row_per_attempt(dbs):
    seed_platform(dbs.source_url)
    run_hours(dbs, 0, 0)
    with psycopg.connect(dbs.warehouse_url) as conn:
        rows = conn.execute(
            "SELECT pipeline_name, status, count(*) FROM analytics.etl_run_log GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
    assert rows == [("item_statistics_fact", "success", 2), ("option_choice_fact", "success", 2),
                    ("question_interaction_fact", "success", 2), ("test_funnel_fact", "success", 2),
                    ("test_summary_fact", "success", 2)]


def test_a_second_writer_waits_for_the_fact_lock(dbs):
    seed_platform(dbs.source_url)
    finished = threading.Event()

    def writer() -> None:
        run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(at(0), at(60)), ["test_summary_fact"])
        finished.set()

    with psycopg.connect(dbs.warehouse_url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock_key("test_summary_fact"),))
        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(2)
        assert not finished.is_set(), "the writer went ahead while another transaction held the fact lock"
        assert fetch_fact(dbs.warehouse_url, "test_summary_fact") == []
    # the holder's transaction ended: the writer proceeds
    thread.join(timeout=60)
    assert finished.is_set()
    assert len(fetch_fact(dbs.warehouse_url, "test_summary_fact")) == 3  # tests 1, 2 and 4 started at 10:xx


def test_a_password_in_an_error_never_reaches_etl_metadata(dbs):
    seed_platform(dbs.source_url)
    with psycopg.connect(dbs.warehouse_url) as conn:
        conn.execute(FAIL_ON_INSERT.replace("disk full (injected)",
                                            "cannot reach postgresql://etl:hunter2-secret@db.internal/x"))
    results = {r.pipeline: r for r in run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(at(0), at(60)))}
    assert results["test_summary_fact"].status == "failed"
    meta = metadata_by_pipeline(dbs.warehouse_url)["test_summary_fact"]
    assert "postgresql://etl:***@db.internal/x" in meta["last_error"]
    assert "hunter2" not in meta["last_error"] and "hunter2" not in results["test_summary_fact"].error

"""The attack suite of issue 11: every reproduction against a live source, as a test.

Real PostgreSQL, real ``run_etl.py --env prod`` subprocesses with ``MCQ_SOURCE_URL``/``MCQ_WAREHOUSE_URL``,
generated data (hours 00–04 of 2024-07-01), and comparisons with a full recompute by the in-database SQL
reference. Each test changes the source the way production sources change — rows that commit late, a
session that appears after its answers, a run that stalls, a warehouse that restarts — and checks that
the facts still converge, the watermark still means "every hour before it is processed", failures stay
visible, and no secret reaches a terminal.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from conftest import DatabasePair, PgServer
from helpers import assert_facts_equal, fetch_all_facts, fetch_rejects, insert
from psycopg import sql
from test_cli import ROOT, assert_one_line_error, run_etl

from mcq_analytics.airflow.support import run_fact_build
from mcq_analytics.config import ConfigError, load_settings
from mcq_analytics.embedded_pg import EmbeddedPostgres
from mcq_analytics.engines import run_window
from mcq_analytics.facts import FACT_NAMES, fact
from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.metadata import read_metadata
from mcq_analytics.pipeline import run_pandas_window
from mcq_analytics.reconcile import changed_hours
from mcq_analytics.redaction import RedactingFormatter, install_log_redaction
from mcq_analytics.reference import run_reference
from mcq_analytics.schema import ANALYTICS_DDL, apply_ddl
from mcq_analytics.windows import Window, floor_hour

GEN_START = datetime(2024, 7, 1, tzinfo=UTC)
GEN_HOURS = 4  # generated activity fills [00:00, 04:00)
QIF, SUMMARY, FUNNEL = "question_interaction_fact", "test_summary_fact", "test_funnel_fact"


def hour(h: int, minute: int = 0, second: int = 0) -> datetime:
    """A time on 2024-07-01 UTC, the generated day."""
    return GEN_START + timedelta(hours=h, minutes=minute, seconds=second)


def cli_hour(h: int) -> str:
    """``hour(h)`` the way users type it on the command line."""
    return f"{hour(h):%Y:%m:%d %H}"


def window_text(start: int, end: int) -> str:
    return str(Window(hour(start), hour(end)))


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def generated_template(pg_server: PgServer, schema_templates: tuple[str, str]) -> Iterator[str]:
    """A generated source database (a few thousand answers, bad rows included), used as a template."""
    name = f"rel_gen_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name, template=schema_templates[0])
    generate(url, GeneratorConfig(answers=2_000, hours=GEN_HOURS, seed=11, start=GEN_START), reset=True)
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def live(pg_server: PgServer, schema_templates: tuple[str, str], generated_template: str) -> Iterator[DatabasePair]:
    """A fresh copy of the generated source and an empty warehouse."""
    suffix = uuid.uuid4().hex[:8]
    source, warehouse = f"rel_source_{suffix}", f"rel_warehouse_{suffix}"
    pair = DatabasePair(source_url=pg_server.create_database(source, template=generated_template),
                        warehouse_url=pg_server.create_database(warehouse, template=schema_templates[1]))
    yield pair
    pg_server.drop_database(source)
    pg_server.drop_database(warehouse)


# ------------------------------------------------------------------------------------------------ helpers
def etl(live: DatabasePair, *args: str, warehouse_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """``run_etl.py --env prod ARGS`` against the live source (and its warehouse unless another is given)."""
    return run_etl("--env", "prod", *args, source_url=live.source_url,
                   warehouse_url=warehouse_url or live.warehouse_url)


def start_etl(live: DatabasePair, *args: str, warehouse_url: str | None = None) -> subprocess.Popen[str]:
    """Like :func:`etl`, in the background (for the tests that stall or stop a run while it works)."""
    env = {**os.environ, "MCQ_SOURCE_URL": live.source_url, "MCQ_WAREHOUSE_URL": warehouse_url or live.warehouse_url,
           "MCQ_EMBEDDED_POSTGRES": "false"}
    return subprocess.Popen([sys.executable, str(ROOT / "run_etl.py"), "--env", "prod", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def succeeded(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def process(live: DatabasePair, start: int, end: int, warehouse_url: str | None = None) -> None:
    """Set-up only: process ``[start, end)`` as one in-sequence window in this process (fast)."""
    results = run_pandas_window(live.source_url, warehouse_url or live.warehouse_url, Window(hour(start), hour(end)))
    assert [r.status for r in results] == ["success"] * len(FACT_NAMES), [r.error for r in results]


def recompute(source_url: str) -> dict[str, list[tuple]]:
    """The facts of a full recompute of the source as it is now (the SQL reference, all history)."""
    run_reference(source_url, None, None)
    return fetch_all_facts(source_url, schema="mcq_reference")


def assert_converged(live: DatabasePair, warehouse_url: str | None = None) -> None:
    """Every fact equals a full recompute of the current source."""
    assert_facts_equal(fetch_all_facts(warehouse_url or live.warehouse_url), recompute(live.source_url))


def fact_keys(url: str, name: str, schema: str = "analytics") -> set[tuple]:
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, fact(name).keys)),
                                               sql.Identifier(schema, name))
    with psycopg.connect(url) as conn:
        return set(conn.execute(query).fetchall())


def missing_from_warehouse(live: DatabasePair, name: str) -> set[tuple]:
    """Keys of ``name`` a full recompute has and the warehouse lacks (call after :func:`recompute`)."""
    return fact_keys(live.source_url, name, "mcq_reference") - fact_keys(live.warehouse_url, name)


def metadata(url: str) -> dict[str, dict]:
    return {row["pipeline_name"]: row for row in read_metadata(url)}


def watermarks(url: str) -> dict[str, datetime]:
    return {name: row["watermark"] for name, row in metadata(url).items()}


def unanswered_question(source_url: str, started_before: datetime) -> tuple[int, int]:
    """A valid session that started before ``started_before`` and a question of its test it never answered:
    a new answer to it adds one question_interaction_fact row and changes the session's bucket."""
    with psycopg.connect(source_url) as conn:
        row = conn.execute(
            """
            SELECT s.session_id, q.question_id
              FROM sessions s JOIN tests t ON t.test_id = s.test_id JOIN questions q ON q.test_id = s.test_id
             WHERE s.started_at < %s
               AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.session_id = s.session_id
                                                          AND a.question_id = q.question_id)
             ORDER BY s.session_id, q.question_id
             LIMIT 1
            """,
            (started_before,),
        ).fetchone()
    assert row is not None, "the generated data has no session with an unanswered question"
    return row


def answer_row(answer_id: int, session_id: int, question_id: int, at: datetime, option: int = 1) -> dict:
    return {"answer_id": answer_id, "session_id": session_id, "question_id": question_id, "selected_option": option,
            "answered_at": at, "time_spent_ms": 1000, "updated_at": at}


def insert_answer_sql(conn: psycopg.Connection, row: dict) -> None:
    conn.execute(
        "INSERT INTO answers (answer_id, session_id, question_id, selected_option, answered_at, time_spent_ms,"
        " updated_at) VALUES (%(answer_id)s, %(session_id)s, %(question_id)s, %(selected_option)s,"
        " %(answered_at)s, %(time_spent_ms)s, %(updated_at)s)",
        row,
    )


def wait_for_lock_wait(url: str, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until some backend of ``url``'s database waits for a table lock (the run reached its swap)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND wait_event = 'relation'"
            ).fetchone()[0]
            if waiting:
                return
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the run ended instead of waiting at its swap: {proc.returncode}\n{out}\n{err}")
            if time.monotonic() > deadline:
                pytest.fail("the run never reached its swap")
            time.sleep(0.1)


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def stop_if_alive(proc: subprocess.Popen[str] | None) -> None:
    if proc is not None and proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.communicate()


# ------------------------------------------------------------------------------------ 1. late visibility
ORPHAN_SESSION = 800000001


def test_answers_before_their_session_reach_the_facts_through_the_look_back(live):
    """Issue 11, defect 1: answers arrive before their session (quarantined as orphan_session); the session
    then appears with started_at/updated_at in an hour already processed. The next window's look-back
    finds it; before the fix 6 question rows, 1 summary and 1 funnel row were missing for good."""
    process(live, 0, 4)
    with psycopg.connect(live.source_url) as conn:
        test_id, student_id = conn.execute("SELECT test_id, min(student_id) FROM sessions s JOIN tests USING (test_id)"
                                           " GROUP BY test_id ORDER BY test_id LIMIT 1").fetchone()
        questions = [q for (q,) in conn.execute(
            "SELECT question_id FROM questions WHERE test_id = %s ORDER BY question_id LIMIT 6", (test_id,))]
    assert len(questions) == 6
    answers = [answer_row(900000001 + 3 * i + k, ORPHAN_SESSION, q, hour(4, 10, 3 * i + k), option)
               for i, q in enumerate(questions) for k, option in enumerate((1, 2, 1))]
    insert(live.source_url, "answers", answers)

    succeeded(etl(live, "--start", cli_hour(4), "--end", cli_hour(5)))
    orphans = {(t, int(k), r) for _, t, k, r in fetch_rejects(live.warehouse_url, QIF)
               if t == "answers" and int(k) >= 900000001}
    assert orphans == {("answers", a["answer_id"], "orphan_session") for a in answers}
    assert len(orphans) == 18

    insert(live.source_url, "sessions", [{"session_id": ORPHAN_SESSION, "test_id": test_id, "student_id": student_id,
                                          "started_at": hour(4, 5), "updated_at": hour(4, 5)}])
    succeeded(etl(live, "--start", cli_hour(5), "--end", cli_hour(7)))

    assert_converged(live)
    with psycopg.connect(live.warehouse_url) as conn:
        rows = conn.execute("SELECT question_id, answer_events, answer_changes, final_option"
                            " FROM analytics.question_interaction_fact WHERE session_id = %s ORDER BY 1",
                            (ORPHAN_SESSION,)).fetchall()
        summary = conn.execute("SELECT sessions_started, students, submissions, avg_questions_answered"
                               " FROM analytics.test_summary_fact WHERE test_id = %s AND hour_start = %s",
                               (test_id, hour(4))).fetchall()
        funnel = conn.execute("SELECT started, engaged, submitted, passed FROM analytics.test_funnel_fact"
                              " WHERE test_id = %s AND hour_start = %s", (test_id, hour(4))).fetchall()
    assert rows == [(q, 3, 2, 1) for q in questions]
    assert summary == [(1, 1, 0, 6.0)]
    assert funnel == [(1, 1, 0, 0)]


def test_a_row_older_than_the_look_back_is_caught_by_reconcile(live):
    """A row committed with an updated_at 3.5 h back (a replica far behind) is beyond every window's
    look-back: missing after the hourly runs, present after ``run_etl.py reconcile``; a second reconcile
    finds nothing changed."""
    process(live, 0, 4)
    session_id, question_id = unanswered_question(live.source_url, hour(0, 30))
    insert(live.source_url, "answers", [answer_row(910000001, session_id, question_id, hour(0, 30))])

    succeeded(etl(live, "--end", cli_hour(5)))
    recompute(live.source_url)
    assert missing_from_warehouse(live, QIF) == {(session_id, question_id)}

    out = succeeded(etl(live, "reconcile"))
    assert "reconcile: 1 processed hour(s) changed in the source; reprocessing them" in out
    assert f"  {window_text(0, 1)}  {QIF}" in out
    n = len(FACT_NAMES)
    assert f"1 window(s), {n} pipeline run(s): {n} succeeded, 0 failed" in out
    assert_converged(live)

    out = succeeded(etl(live, "reconcile"))
    assert out.strip() == "reconciled: no processed hour changed in the source"


def test_a_long_transaction_spanning_a_run_is_picked_up_by_the_next_run(live):
    """``BEGIN; INSERT …`` (updated_at 03:20) stays open while the 03–04 run works and commits after it:
    that run cannot see the row; the next run's look-back does."""
    process(live, 0, 3)
    session_id, question_id = unanswered_question(live.source_url, hour(3))
    with psycopg.connect(live.source_url) as writer:  # one transaction, committed when the block ends
        insert_answer_sql(writer, answer_row(920000001, session_id, question_id, hour(3, 20)))
        succeeded(etl(live, "--end", cli_hour(4)))
    recompute(live.source_url)
    assert missing_from_warehouse(live, QIF) == {(session_id, question_id)}

    succeeded(etl(live, "--end", cli_hour(5)))
    assert_converged(live)


# ---------------------------------------------------------------------------------------- 2. watermark
def test_an_explicit_window_beyond_the_first_hour_never_moves_the_watermark(live):
    """Defect 2a: on a fresh warehouse, 01–02 then a plain catch-up processed everything but 00–01."""
    succeeded(etl(live, "--start", cli_hour(1), "--end", cli_hour(2)))
    assert watermarks(live.warehouse_url) == {name: hour(0) for name in FACT_NAMES}  # the first activity hour

    out = succeeded(etl(live, "--end", cli_hour(GEN_HOURS)))
    assert f"{window_text(0, 1)}  {QIF}" in out
    assert watermarks(live.warehouse_url) == {name: hour(GEN_HOURS) for name in FACT_NAMES}
    assert_converged(live)


def test_an_end_after_the_last_settled_hour_is_refused(live):
    """Defect 2b: ``--end`` in the future used to set the watermark there; a row inserted afterwards was
    skipped by every later run."""
    process(live, 0, GEN_HOURS)
    before = watermarks(live.warehouse_url)
    now = datetime.now(UTC)
    limits = {floor_hour(now - timedelta(minutes=5))}
    start, end = floor_hour(now) - timedelta(hours=1), floor_hour(now) + timedelta(hours=3)
    proc = etl(live, "--start", f"{start:%Y:%m:%d %H}", "--end", f"{end:%Y:%m:%d %H}")
    limits.add(floor_hour(datetime.now(UTC) - timedelta(minutes=5)))
    assert_one_line_error(proc, 2, f"--end {end:%Y-%m-%d %H:%M} is after the last settled hour")
    assert any(f"last settled hour {limit:%Y-%m-%d %H:%M} UTC" in proc.stderr for limit in limits), proc.stderr
    assert watermarks(live.warehouse_url) == before == {name: hour(GEN_HOURS) for name in FACT_NAMES}


# ---------------------------------------------------------------------------------- 3. stuck pipeline
def test_a_failed_window_stops_its_pipeline_and_stays_failed_until_repaired(live):
    """Defect 3: a pipeline whose window fails on every catch-up used to end each run with status=success
    and consecutive_failures=0, because its later windows succeeded."""
    process(live, 0, 2)
    with psycopg.connect(live.warehouse_url) as conn:
        conn.execute("ALTER TABLE analytics.test_funnel_fact ADD CONSTRAINT never CHECK (started < 0) NOT VALID")

    for attempt in (1, 2, 3):
        proc = etl(live, "--end", cli_hour(GEN_HOURS))
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        assert f"FAILED {FUNNEL} {window_text(2, 3)}: CheckViolation" in proc.stdout
        assert f"{FUNNEL}: stopped after its failed window {window_text(2, 3)}; 1 later window(s) not run" \
            in proc.stdout
        meta = metadata(live.warehouse_url)
        assert (meta[FUNNEL]["status"], meta[FUNNEL]["consecutive_failures"], meta[FUNNEL]["watermark"]) == \
            ("failed", attempt, hour(2))
        assert "never" in meta[FUNNEL]["last_error"]
        assert meta[FUNNEL]["alerted_failures"] == (None if attempt == 1 else 2)  # alerted at the threshold (2)
        for other in (QIF, SUMMARY):  # the other pipelines caught up on the first attempt
            assert (meta[other]["status"], meta[other]["consecutive_failures"], meta[other]["watermark"]) == \
                ("success", 0, hour(GEN_HOURS))
    with psycopg.connect(live.warehouse_url) as conn:
        attempts = conn.execute(
            "SELECT window_start, status, count(*) FROM analytics.etl_run_log WHERE pipeline_name = %s"
            " AND window_start >= %s GROUP BY 1, 2 ORDER BY 1, 2", (FUNNEL, hour(2))).fetchall()
    assert attempts == [(hour(2), "failed", 3)]  # the window after the failed one was never run

    with psycopg.connect(live.warehouse_url) as conn:
        conn.execute("ALTER TABLE analytics.test_funnel_fact DROP CONSTRAINT never")
    out = succeeded(etl(live, "--end", cli_hour(GEN_HOURS)))
    assert "2 window(s), 2 pipeline run(s): 2 succeeded, 0 failed" in out
    meta = metadata(live.warehouse_url)
    assert (meta[FUNNEL]["status"], meta[FUNNEL]["consecutive_failures"], meta[FUNNEL]["last_error"],
            meta[FUNNEL]["watermark"]) == ("success", 0, None, hour(GEN_HOURS))
    assert_converged(live)


# ----------------------------------------------------------------------------------- 4. concurrency
def test_a_second_run_of_a_window_waits_for_the_first_and_gives_up_clearly(live, monkeypatch):
    """Defect 6: run A extracts and stalls (blocked at its swap, then SIGSTOP); an answer is inserted;
    run B of the same window used to commit, and A's older snapshot then overwrote B's. Now B gives up
    after MCQ_LOCK_TIMEOUT_SECONDS with one line, A commits, and the next run picks the answer up."""
    process(live, 0, 3)
    session_id, question_id = unanswered_question(live.source_url, hour(3))
    run_a = None
    try:
        with psycopg.connect(live.warehouse_url) as holder:
            holder.execute("LOCK TABLE analytics.test_summary_fact IN ACCESS EXCLUSIVE MODE")
            run_a = start_etl(live, "--start", cli_hour(3), "--end", cli_hour(4))
            wait_for_lock_wait(live.warehouse_url, run_a)  # A extracted, built, and waits at its summary swap
            os.kill(run_a.pid, signal.SIGSTOP)
            insert(live.source_url, "answers", [answer_row(930000001, session_id, question_id, hour(3, 30))])

            monkeypatch.setenv("MCQ_LOCK_TIMEOUT_SECONDS", "2")
            started = time.monotonic()
            run_b = etl(live, "--start", cli_hour(3), "--end", cli_hour(4))
            assert time.monotonic() - started < 60
            assert run_b.returncode == 1, run_b.stdout + run_b.stderr
            assert "Traceback" not in run_b.stderr
            failed = [line for line in run_b.stdout.splitlines() if line.startswith("FAILED")]
            assert len(failed) == len(FACT_NAMES), run_b.stdout
            first_locked = min(FACT_NAMES)  # run locks are taken in sorted order: B stops at the first
            for line, name in zip(failed, FACT_NAMES, strict=True):  # one line each, before the timing
                assert line.startswith(f"FAILED {name} {window_text(3, 4)}: not run: another run of {first_locked} is"
                                       " still in progress (waited 2 s, MCQ_LOCK_TIMEOUT_SECONDS)"), line
            # B's refused attempt is logged, but etl_metadata belongs to A (its question fact already swapped in,
            # the others waiting): nothing is counted as a failure.
            meta = metadata(live.warehouse_url)
            assert {n: (meta[n]["status"], meta[n]["consecutive_failures"]) for n in FACT_NAMES} == {
                n: ("success" if n == QIF else "running", 0) for n in FACT_NAMES}
            os.kill(run_a.pid, signal.SIGCONT)
        result_a = finish(run_a)  # the holder's transaction ended: A swaps and commits
        assert result_a.returncode == 0, result_a.stdout + result_a.stderr
    finally:
        stop_if_alive(run_a)
    recompute(live.source_url)
    assert missing_from_warehouse(live, QIF) == {(session_id, question_id)}  # A extracted before the insert

    monkeypatch.delenv("MCQ_LOCK_TIMEOUT_SECONDS")
    succeeded(etl(live, "--end", cli_hour(5)))
    assert_converged(live)


def test_a_foreign_lock_on_a_fact_fails_the_run_after_the_lock_timeout(live, monkeypatch):
    """Defect 8: a run waited behind a foreign lock forever, showing ``running``. With
    MCQ_LOCK_TIMEOUT_SECONDS it must wait a bounded time, then fail that pipeline clearly."""
    process(live, 0, 3)
    monkeypatch.setenv("MCQ_LOCK_TIMEOUT_SECONDS", "2")
    run = None
    try:
        with psycopg.connect(live.warehouse_url) as holder:
            holder.execute("LOCK TABLE analytics.test_summary_fact IN ACCESS EXCLUSIVE MODE")
            run = start_etl(live, "--start", cli_hour(3), "--end", cli_hour(4))
            try:
                result = finish(run, timeout=45)
            except subprocess.TimeoutExpired:
                pytest.fail("the run still waits for the lock on test_summary_fact after 45 s "
                            "(MCQ_LOCK_TIMEOUT_SECONDS=2)")
    finally:
        stop_if_alive(run)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith(f"FAILED {SUMMARY} {window_text(3, 4)}")]
    assert "lock timeout" in line or "MCQ_LOCK_TIMEOUT_SECONDS" in line, line
    meta = metadata(live.warehouse_url)
    assert (meta[SUMMARY]["status"], meta[SUMMARY]["consecutive_failures"]) == ("failed", 1)
    assert (meta[QIF]["status"], meta[FUNNEL]["status"]) == ("success", "success")


def test_the_airflow_fact_build_looks_back_too(live):
    """The scheduled path: ``FactBuildOperator.execute`` builds each hour with ``run_fact_build``. The orphan
    reproduction of defect 1 through it: the session that appears in an already-processed hour must reach
    the facts in the next hour, as it does through ``run_etl.py`` (the look-back, MCQ_LOOKBACK_MINUTES)."""
    process(live, 0, 4)
    with psycopg.connect(live.source_url) as conn:
        test_id, student_id, question_id = conn.execute(
            "SELECT s.test_id, min(s.student_id), min(q.question_id) FROM sessions s JOIN tests USING (test_id)"
            " JOIN questions q ON q.test_id = s.test_id GROUP BY s.test_id ORDER BY s.test_id LIMIT 1").fetchone()
    insert(live.source_url, "answers", [answer_row(940000001, ORPHAN_SESSION, question_id, hour(4, 10))])

    def build(start: int) -> None:
        window = Window(hour(start), hour(start + 1))
        for name in FACT_NAMES:
            result = run_fact_build(live.source_url, live.warehouse_url, window, name,
                                    f"{name}__mcq_analytics_batch__scheduled__{start}__try1", "airflow")
            assert result.status == "success", result.error

    build(4)  # the answer is quarantined: its session does not exist yet
    insert(live.source_url, "sessions", [{"session_id": ORPHAN_SESSION, "test_id": test_id, "student_id": student_id,
                                          "started_at": hour(4, 5), "updated_at": hour(4, 5)}])
    build(5)
    assert_converged(live)
    assert (ORPHAN_SESSION, question_id) in fact_keys(live.warehouse_url, QIF)


@pytest.mark.spark
def test_a_spark_window_on_a_fresh_warehouse_moves_the_watermark_and_records_fingerprints(live, tmp_path):
    """The Spark engine keeps the Pandas engine's bookkeeping: a fresh pipeline starts at the first activity
    hour, so an in-sequence Spark window moves its watermark, and the source hours its scan covered are
    fingerprinted (else ``reconcile`` reprocesses them on every pass)."""
    settings = dataclasses.replace(load_settings("prod", environ={}), spark_master="local[2]", jdbc_jar=None,
                                   state_dir=tmp_path / "state")
    results = run_window("spark", settings, live.source_url, live.warehouse_url, Window(hour(0), hour(1)))
    assert [(r.pipeline, r.status) for r in results] == [(name, "success") for name in FACT_NAMES], \
        [r.error for r in results]
    assert watermarks(live.warehouse_url) == {name: hour(1) for name in FACT_NAMES}
    with psycopg.connect(live.warehouse_url) as conn:
        recorded = set(conn.execute("SELECT pipeline_name, hour_start FROM analytics.etl_source_hours").fetchall())
    assert recorded == {(name, hour(0)) for name in FACT_NAMES}



@pytest.mark.spark
def test_a_spark_window_looks_back_for_a_session_that_appeared_in_a_processed_hour(live, tmp_path):
    """Defect 1 through the Spark engine: an answer quarantined as ``orphan_session`` in hour 04 whose session
    then appears with started_at/updated_at in 04 (already processed) reaches the facts through the next
    Spark window's look-back (``--scan-start``), whose own bookkeeping window stays [05, 06)."""
    process(live, 0, 4)
    with psycopg.connect(live.source_url) as conn:
        test_id, student_id, question_id = conn.execute(
            "SELECT s.test_id, min(s.student_id), min(q.question_id) FROM sessions s JOIN tests USING (test_id)"
            " JOIN questions q ON q.test_id = s.test_id GROUP BY s.test_id ORDER BY s.test_id LIMIT 1").fetchone()
    insert(live.source_url, "answers", [answer_row(940000001, ORPHAN_SESSION, question_id, hour(4, 10))])
    process(live, 4, 5)  # the answer is quarantined: its session does not exist yet
    insert(live.source_url, "sessions", [{"session_id": ORPHAN_SESSION, "test_id": test_id, "student_id": student_id,
                                          "started_at": hour(4, 5), "updated_at": hour(4, 5)}])
    settings = dataclasses.replace(load_settings("prod", environ={}), spark_master="local[2]", jdbc_jar=None,
                                   state_dir=tmp_path / "state")
    assert settings.lookback == timedelta(hours=1)

    results = run_window("spark", settings, live.source_url, live.warehouse_url, Window(hour(5), hour(6)))

    assert [(r.pipeline, r.status) for r in results] == [(name, "success") for name in FACT_NAMES], \
        [r.error for r in results]
    assert (ORPHAN_SESSION, question_id) in fact_keys(live.warehouse_url, QIF)
    assert_converged(live)
    assert watermarks(live.warehouse_url) == {name: hour(6) for name in FACT_NAMES}
    # The look-back's hour is fingerprinted again with the session in it: reconcile finds nothing to redo.
    assert changed_hours(live.source_url, live.warehouse_url, FACT_NAMES, hour(4), hour(6)) == {}


# --------------------------------------------------------------------------------------- 5. secrets
SECRET = "Xq7-s3cret-pw"


@pytest.mark.parametrize("source_url, shown", [
    (f"postgresql://svc@127.0.0.1:9/src?password={SECRET}", "postgresql://svc@127.0.0.1:9/src?password=***"),
    (f"host=127.0.0.1 port=9 dbname=src user=svc password={SECRET}",
     "host=127.0.0.1 port=9 dbname=src user=svc password=***"),
    (f"mysql://etl:{SECRET}@127.0.0.1:9/src", "mysql://etl:***@127.0.0.1:9/src"),
])
def test_an_unreachable_source_is_one_line_without_its_password(source_url, shown):
    proc = run_etl("--env", "prod", "--start", cli_hour(0), "--end", cli_hour(1), source_url=source_url,
                   warehouse_url="postgresql://wh@127.0.0.1:9/wh")
    assert_one_line_error(proc, 1, f"cannot connect to the source database {shown}")
    assert SECRET not in proc.stdout + proc.stderr


def test_log_records_and_their_tracebacks_are_redacted():
    """Defect 5: ``log.exception`` printed the raw exception (tokens, keys, URL passwords) on stderr."""
    secrets = {"api_key": "AKIA0123456789secret", "bearer": "eyJhbGciOiJIUzI1NiJ9.payload.sig",
               "slack": "xoxb-1111-2222-AbCdEfSecret", "url_password": "PW-0f-svc"}
    message = (f"source refused: api_key={secrets['api_key']} Authorization: Bearer {secrets['bearer']} "
               f"token {secrets['slack']} at postgresql://svc:{secrets['url_password']}@db.internal/src")
    try:
        raise RuntimeError(message)
    except RuntimeError:
        record = logging.getLogger("mcq_analytics.pipeline").makeRecord(
            "mcq_analytics.pipeline", logging.ERROR, __file__, 1, "extract failed: %s", (message,), sys.exc_info())
    text = RedactingFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s")).format(record)
    assert "Traceback" in text and "RuntimeError: source refused" in text  # the traceback is kept, redacted
    for secret in secrets.values():
        assert secret not in text
    assert "postgresql://svc:***@db.internal/src" in text

    logger = logging.getLogger(f"test_reliability.{uuid.uuid4().hex[:6]}")
    stream = io.StringIO()
    logger.addHandler(logging.StreamHandler(stream))
    logger.propagate = False
    install_log_redaction(logger)
    try:
        raise RuntimeError(message)
    except RuntimeError:
        logger.exception("extract failed: %s", message)
    assert "Traceback" in stream.getvalue()
    for secret in secrets.values():
        assert secret not in stream.getvalue()


# ------------------------------------------------------------------------- 6. warehouse restart mid-run
def test_a_warehouse_restart_mid_run_is_one_line_and_the_next_run_recovers(live):
    """Defect 7: a warehouse restart during a run crashed the CLI with a traceback and left pipelines
    ``running`` forever."""
    base = Path(tempfile.mkdtemp(prefix="mcq-rel-pg-"))
    server = EmbeddedPostgres(base / "data")
    run = None
    try:
        server.start()
        apply_ddl(server.create_database("wh"), ANALYTICS_DDL)
        process(live, 0, 1, warehouse_url=server.url("wh"))
        holder = psycopg.connect(server.url("wh"))
        holder.execute("LOCK TABLE analytics.test_funnel_fact IN ACCESS EXCLUSIVE MODE")
        run = start_etl(live, "-q", "--start", cli_hour(1), "--end", cli_hour(GEN_HOURS),
                        warehouse_url=server.url("wh"))
        wait_for_lock_wait(server.url("wh"), run)  # window 01–02: two facts recorded, the third at its swap
        server.stop()
        holder.close()
        result = finish(run, timeout=120)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("run_etl.py: error:")]
        assert len(errors) == 1, result.stderr
        assert errors[0].startswith("run_etl.py: error: lost the database connection")

        server.start()  # a new port: the warehouse URL changes with it
        warehouse = server.url("wh")
        with psycopg.connect(warehouse) as conn:
            left = conn.execute("SELECT pipeline_name, window_start, status FROM analytics.etl_run_log"
                                " WHERE status <> 'success' ORDER BY 1, 2").fetchall()
        # the funnel waited at its swap; the facts after it in the window's order had not started
        waiting = sorted(FACT_NAMES[FACT_NAMES.index(FUNNEL):])
        assert left == [(name, hour(1), "running") for name in waiting]

        succeeded(etl(live, "--end", cli_hour(GEN_HOURS), warehouse_url=warehouse))
        with psycopg.connect(warehouse) as conn:
            left = conn.execute("SELECT pipeline_name, window_start, status FROM analytics.etl_run_log"
                                " WHERE status <> 'success' ORDER BY 1, 2").fetchall()
        assert left == [(name, hour(1), "abandoned") for name in waiting]
        assert {n: (m["status"], m["watermark"]) for n, m in metadata(warehouse).items()} == \
            {name: ("success", hour(GEN_HOURS)) for name in FACT_NAMES}
        assert_converged(live, warehouse)
    finally:
        stop_if_alive(run)
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------------------------- 7. smaller ones
@pytest.mark.parametrize("args, fragment", [
    (("--start", ""), "empty time"),
    (("--end", ""), "empty time"),
    (("--end", "9999-12-31T23:59:59"), "time '9999-12-31T23:59:59' is out of range"),
])
def test_empty_and_out_of_range_times_are_one_line(args, fragment):
    assert_one_line_error(run_etl("--env", "prod", *args), 2, fragment)


def test_a_warehouse_without_the_analytics_schema_names_init_db(dbs, pg_server):
    """Defect 8: a traceback; now one line saying what to run (``-q``: no progress log before it)."""
    name = f"rel_bare_{uuid.uuid4().hex[:8]}"
    bare = pg_server.create_database(name)
    try:
        proc = run_etl("--env", "prod", "-q", "--start", cli_hour(0), "--end", cli_hour(1),
                       source_url=dbs.source_url, warehouse_url=bare)
        assert_one_line_error(proc, 1, "the warehouse has no analytics schema")
        assert "run `python run_etl.py --env ENV init-db`" in proc.stderr
    finally:
        pg_server.drop_database(name)


def test_env_files_with_a_bom_keep_their_first_key_and_non_utf8_is_one_line(tmp_path):
    (tmp_path / ".env.bom").write_text("\ufeffMCQ_ENGINE=spark\nMCQ_EMBEDDED_POSTGRES=true\n", encoding="utf-8")
    assert load_settings("bom", environ={}, root=tmp_path).engine == "spark"

    (tmp_path / ".env.latin").write_bytes(b"MCQ_EMBEDDED_POSTGRES=true\nMCQ_ALERT_EMAIL_TO=caf\xe9@example.com\n")
    with pytest.raises(ConfigError) as error:
        load_settings("latin", environ={}, root=tmp_path)
    assert str(error.value) == ".env.latin is not UTF-8 text (byte 49): save it as UTF-8"


def test_status_marks_an_old_running_row_as_stale(dbs):
    with psycopg.connect(dbs.warehouse_url) as conn:
        conn.execute(
            "INSERT INTO analytics.etl_metadata (pipeline_name, status, watermark, updated_at) VALUES"
            " (%s, 'running', %s, now() - interval '3 hours'),"
            " (%s, 'running', %s, now()),"
            " (%s, 'success', %s, now() - interval '30 minutes')",
            (QIF, hour(2), SUMMARY, hour(3), FUNNEL, hour(4)),
        )
    out = succeeded(run_etl("--env", "prod", "status", source_url=dbs.source_url, warehouse_url=dbs.warehouse_url))
    lines = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in FACT_NAMES}
    assert lines[QIF].split()[1:5] == ["running", "(stale?)", "3", "h"]
    assert lines[SUMMARY].split()[1:4] == ["running", "0", "min"]
    assert lines[FUNNEL].split()[1:4] == ["success", "30", "min"]

"""Work-sized windows for ranges (issue 17 item 1): the planner's rules with the windows written out, the hour
counts it reads from the source (the same count ``MCQ_ENGINE=auto`` uses), and a range through ``run_etl.py``
whose facts equal an hourly run's and a full recompute's, with the merged windows in the bookkeeping. The
windows of a range share one source snapshot: each session is read once, and a row committed during the run
is a late row that ``reconcile`` picks up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from helpers import assert_facts_equal, fetch_all_facts, insert
from test_cli import assert_one_line_error, run_etl
from test_reliability import (  # noqa: F401 - fixtures used by name
    QIF,
    SUMMARY,
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
    watermarks,
    window_text,
)

from mcq_analytics import cli
from mcq_analytics.config import load_settings
from mcq_analytics.connections import Databases
from mcq_analytics.extract import RangeSnapshot
from mcq_analytics.facts import FACT_NAMES
from mcq_analytics.pipeline import PipelineResult
from mcq_analytics.planning import (
    PlanError,
    affected_answers,
    hour_work,
    plan_range,
    validate_range,
    window_work,
    windows_for,
)
from mcq_analytics.spark.run import affected_answer_rows
from mcq_analytics.windows import Window


def t(h: int, minute: int = 0) -> datetime:
    return datetime(2024, 6, 1, tzinfo=UTC) + timedelta(hours=h, minutes=minute)


#: Twelve active hours 00–12 with their affected answers, then a quiet stretch 12–15 and two more hours.
DAY = [(t(h), n) for h, n in enumerate([100, 300, 900, 800, 50, 50, 1000, 10, 10, 10, 10, 10])] + \
      [(t(15), 400), (t(16), 400)]


# ------------------------------------------------------------------------------------------- the rules
def test_consecutive_hours_merge_up_to_the_budget():
    assert windows_for(t(0), t(17), DAY, budget=1000) == [
        Window(t(0), t(2)),    # 100 + 300; + 900 would be 1300
        Window(t(2), t(3)),    # 900; + 800 would be 1700
        Window(t(3), t(6)),    # 800 + 50 + 50 = 900
        Window(t(6), t(7)),    # 1000 exactly: the budget is inclusive
        Window(t(7), t(12)),   # 5 × 10
        Window(t(12), t(15)),  # the quiet stretch, one window as before
        Window(t(15), t(17)),  # 800
    ]


def test_an_hour_over_the_budget_is_a_window_of_its_own():
    assert windows_for(t(0), t(4), [(t(0), 10), (t(1), 5000), (t(2), 10), (t(3), 10)], budget=100) == [
        Window(t(0), t(1)), Window(t(1), t(2)), Window(t(2), t(4))]


def test_the_default_budget_makes_a_light_day_one_window_per_active_stretch():
    assert windows_for(t(0), t(17), DAY) == [Window(t(0), t(12)), Window(t(12), t(15)), Window(t(15), t(17))]


def test_window_hours_one_is_the_hourly_plan_and_n_caps_the_clock_span():
    hourly = [Window(t(h), t(h + 1)) for h in range(12)] + [Window(t(12), t(15)), Window(t(15), t(16)),
                                                            Window(t(16), t(17))]
    assert windows_for(t(0), t(17), DAY, window_hours=1) == hourly
    # the budget is not used with window hours: 900 + 800 + 50 + 50 + 1000 share windows
    assert windows_for(t(0), t(17), DAY, budget=1, window_hours=5) == [
        Window(t(0), t(5)), Window(t(5), t(10)), Window(t(10), t(12)), Window(t(12), t(15)), Window(t(15), t(17))]


def test_partial_hours_at_the_edges():
    # The range starts and ends inside active hours: the first and last windows are partial, and the partial
    # first hour counts as one of the window's hours.
    assert windows_for(t(0, 30), t(4, 15), DAY, window_hours=2) == [Window(t(0, 30), t(2)), Window(t(2), t(4)),
                                                                     Window(t(4), t(4, 15))]
    assert windows_for(t(11, 30), t(15, 30), DAY) == [Window(t(11, 30), t(12)), Window(t(12), t(15)),
                                                      Window(t(15), t(15, 30))]
    # No activity: the whole range is one quiet window; hours outside the range are ignored.
    assert windows_for(t(12), t(15), DAY) == [Window(t(12), t(15))]
    assert windows_for(t(13), t(14), []) == [Window(t(13), t(14))]


def test_window_work_counts_the_window_and_its_look_back():
    assert window_work(Window(t(3), t(6)), DAY) == 900
    assert window_work(Window(t(3), t(6)), DAY, lookback=timedelta(hours=1)) == 1800
    assert window_work(Window(t(12), t(15)), DAY) == 0


@pytest.mark.parametrize(("start", "end", "kwargs", "message"), [
    (t(2), t(2), {}, "the end 2024-06-01 02:00 must be after the start 2024-06-01 02:00"),
    (t(3), t(2), {}, "the end 2024-06-01 02:00 must be after the start 2024-06-01 03:00"),
    (t(0), t(11), {}, "the end 2024-06-01 11:00 is after the last settled hour 2024-06-01 10:00 UTC"),
    (t(0), t(2), {"window_hours": 0}, "window hours must be a positive whole number, got 0"),
    (t(0), t(2), {"budget": -5}, "the window budget must be a positive number of affected answers, got -5"),
])
def test_bad_ranges_are_refused_in_one_line(start, end, kwargs, message):
    with pytest.raises(PlanError) as refused:
        validate_range(start, end, t(10), **kwargs)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)



# ----------------------------------------------------------------------------------------- on the source
#: The generated source of test_reliability (seed 11, 1,930 answers in hours 00–04 of 2024-07-01): the affected
#: answers of each hour. Hour 00 holds the catalogue's writes, which affect every session (a regrade).
HOUR_WORK = [1887, 615, 805, 1447]
FIRST_TOUCH_WORK = [1887, 3, 19, 21, 0, 0]  # every hour of the range is listed


def test_hour_counts_are_the_auto_engines_count(live):  # noqa: F811 - the fixture
    """One SQL (include/sql/extract/hour_work.sql) gives the planner its active hours and their affected
    answers; the auto engine's count of a window is the sum over the window's change scan."""
    hours = hour_work(live.source_url, hour(0), hour(6))
    assert hours == [(hour(h), n) for h, n in enumerate(HOUR_WORK)]
    assert hour_work(live.source_url, hour(4), hour(6)) == []
    for h, n in enumerate(HOUR_WORK):
        assert affected_answer_rows(live.source_url, Window(hour(h), hour(h + 1))) == n
    assert affected_answer_rows(live.source_url, Window(hour(1), hour(3))) == window_work(Window(hour(1), hour(3)),
                                                                                          hours) == 615 + 805
    look_back = Window(hour(1), hour(3), lookback=timedelta(hours=1))
    assert affected_answers(live.source_url, look_back) == window_work(look_back, hours, timedelta(hours=1)) \
        == 1887 + 615 + 805
    assert plan_range(live.source_url, hour(0), hour(5), budget=2000, shared_snapshot=False) == [
        Window(hour(0), hour(1)), Window(hour(1), hour(3)), Window(hour(3), hour(4)), Window(hour(4), hour(5))]


def test_first_touch_counts_every_answer_once(live):  # noqa: F811 - the fixture
    """With windows sharing one snapshot a session is work only in the first hour that touches it: over the
    whole generated day the hours count each answer row exactly once (late rows no longer count twice)."""
    first = hour_work(live.source_url, hour(0), hour(6), first_touch=True)
    with psycopg.connect(live.source_url) as conn:
        answers = conn.execute("SELECT count(*) FROM answers").fetchone()[0]
    assert [n for _, n in first] == FIRST_TOUCH_WORK
    assert sum(FIRST_TOUCH_WORK) == answers == 1_930
    assert sum(HOUR_WORK) > answers  # hour by hour, a session touched in two hours counts twice
    assert plan_range(live.source_url, hour(0), hour(5), budget=1900) == [  # the quiet hour 4 joins a window
        Window(hour(0), hour(2)), Window(hour(2), hour(5))]


def run_log(url: str, pipeline: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT window_start, window_end, status FROM analytics.etl_run_log"
                            " WHERE pipeline_name = %s ORDER BY window_start", (pipeline,)).fetchall()


def test_a_range_in_work_sized_windows_equals_an_hourly_run_and_a_full_recompute(live, pg_server,  # noqa: F811
                                                                                schema_templates):
    """``run_etl.py --start --end`` with the default budget runs the five hours as one window; with
    ``--window-budget 1900`` as two (each session counted in the first hour that touches it: 1,887 + 3, then
    19 + 21 + the quiet hour); with ``--window-hours 1`` hour by hour.
    All three warehouses hold the facts of a full recompute, each window is in the run log, and the watermark
    ends at the range's end."""
    budget_wh = pg_server.create_database(f"plan_budget_{live.warehouse_url.rsplit('_', 1)[1]}",
                                          template=schema_templates[1])
    hourly_wh = pg_server.create_database(f"plan_hourly_{live.warehouse_url.rsplit('_', 1)[1]}",
                                          template=schema_templates[1])
    span = ("--start", cli_hour(0), "--end", cli_hour(5))
    try:
        out = succeeded(etl(live, *span))
        assert f"1 window(s), {len(FACT_NAMES)} pipeline run(s)" in out
        out = succeeded(etl(live, *span, "--window-budget", "1900", warehouse_url=budget_wh))
        assert f"2 window(s), {2 * len(FACT_NAMES)} pipeline run(s)" in out
        out = succeeded(etl(live, *span, "--window-hours", "1", warehouse_url=hourly_wh))
        assert f"5 window(s), {5 * len(FACT_NAMES)} pipeline run(s)" in out

        expected = {live.warehouse_url: [(0, 5)], budget_wh: [(0, 2), (2, 5)],
                    hourly_wh: [(h, h + 1) for h in range(5)]}
        for url, windows in expected.items():
            for pipeline in FACT_NAMES:
                assert run_log(url, pipeline) == [(hour(a), hour(b), "success") for a, b in windows]
            assert watermarks(url) == {name: hour(5) for name in FACT_NAMES}
            with psycopg.connect(url) as conn:
                assert set(conn.execute("SELECT status, last_window_start, last_window_end"
                                        " FROM analytics.etl_metadata")) == {("success", hour(windows[-1][0]), hour(5))}
        full = recompute(live.source_url)
        for url in expected:
            assert_facts_equal(fetch_all_facts(url), full)
    finally:
        pg_server.drop_database(budget_wh.rsplit("/", 1)[1])
        pg_server.drop_database(hourly_wh.rsplit("/", 1)[1])


@pytest.mark.parametrize(("args", "message"), [
    (("--window-hours", "0"), "argument --window-hours: must be a positive whole number of hours, got '0'"),
    (("--window-budget", "-3"), "argument --window-budget: must be a positive whole number of affected answers"),
    (("--window-hours", "two"), "argument --window-hours: must be a positive whole number of hours, got 'two'"),
])
def test_bad_window_sizes_exit_2_with_one_line(args, message):
    assert_one_line_error(run_etl("--start", "2024:06:01 10", "--end", "2024:06:01 12", *args), 2, message)


def rows_read(url: str, pipeline: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [n for (n,) in conn.execute("SELECT rows_read FROM analytics.etl_run_log WHERE pipeline_name = %s"
                                           " ORDER BY window_start", (pipeline,))]


def test_the_windows_of_a_range_read_each_session_once(live, pg_server, schema_templates,  # noqa: F811
                                                       monkeypatch):
    """``--window-hours 1`` over the generated day: sharing one snapshot, the four hourly windows read every
    source row (sessions, answers, submissions) exactly once in all, as a rebuild does; each window its own
    snapshot (``MCQ_RANGE_SNAPSHOT_MINUTES=0``), late rows make them re-read sessions. Both equal a full
    recompute."""
    own_wh = pg_server.create_database(f"plan_own_{live.warehouse_url.rsplit('_', 1)[1]}",
                                       template=schema_templates[1])
    span = ("--start", cli_hour(0), "--end", cli_hour(5), "--window-hours", "1")
    try:
        succeeded(etl(live, *span))
        monkeypatch.setenv("MCQ_RANGE_SNAPSHOT_MINUTES", "0")
        succeeded(etl(live, *span, warehouse_url=own_wh))
        with psycopg.connect(live.source_url) as conn:
            source_rows = conn.execute("SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM answers)"
                                       " + (SELECT count(*) FROM submissions)").fetchone()[0]
        for pipeline in FACT_NAMES:
            assert rows_read(live.warehouse_url, pipeline) == SHARED_ROWS_READ
            assert rows_read(own_wh, pipeline) == OWN_ROWS_READ
        assert sum(SHARED_ROWS_READ) == source_rows
        assert sum(OWN_ROWS_READ) > source_rows
        full = recompute(live.source_url)
        assert_facts_equal(fetch_all_facts(live.warehouse_url), full)
        assert_facts_equal(fetch_all_facts(own_wh), full)
    finally:
        pg_server.drop_database(own_wh.rsplit("/", 1)[1])


SHARED_ROWS_READ = [2198, 3, 24, 23, 0]  # 163 sessions + 1,930 answers + 155 submissions
OWN_ROWS_READ = [2198, 2201, 1672, 2242, 2217]  # 10,530: 4.7x the source


def test_a_row_committed_during_a_range_run_is_a_late_row_for_reconcile(live):  # noqa: F811 - the fixture
    """A range's windows read the snapshot taken before its first window: an answer committed after that
    window, for a session it built, with a time inside a later window, is not in the run's facts (the run
    shows the source as it was when it started). Its hour's fingerprint was taken in the same snapshot, so
    ``run_etl.py reconcile`` finds that hour changed and the facts converge."""
    session_id, question_id = unanswered_question(live.source_url, hour(0, 30))
    settings = load_settings("prod", environ={})
    plan = {Window(hour(h), hour(h + 1)): list(FACT_NAMES) for h in range(4)}
    committed: list[Window] = []

    def commit_after_the_first_window(result: PipelineResult) -> None:
        if not committed:
            insert(live.source_url, "answers", [answer_row(910000002, session_id, question_id, hour(2, 10))])
            committed.append(result.window)

    results = cli.run_plan(plan, "pandas", settings, Databases(live.source_url, live.warehouse_url), quiet=True,
                           progress=commit_after_the_first_window)
    assert committed == [Window(hour(0), hour(1))]
    assert [r.status for r in results] == ["success"] * 4 * len(FACT_NAMES)
    recompute(live.source_url)
    assert missing_from_warehouse(live, QIF) == {(session_id, question_id)}

    out = succeeded(etl(live, "reconcile"))
    assert "reconcile: 1 processed hour(s) changed in the source; reprocessing them" in out
    assert f"  {window_text(2, 3)}  {QIF}" in out
    assert_converged(live)


def test_the_range_snapshot_starts_afresh_for_a_new_pipeline_or_a_newer_run(live):  # noqa: F811 - the fixture
    """In one snapshot a window's sessions are done: the same window again reads nothing. A window with a
    pipeline the snapshot did not build, or after another run of its pipelines succeeded (it may have swapped
    in newer rows), gets a fresh snapshot and reads its sessions again; zero minutes turns sharing off."""
    first_hour, wh = Window(hour(0), hour(1)), live.warehouse_url
    with RangeSnapshot(live.source_url, timedelta(minutes=60)) as snapshot:
        assert snapshot.prepare(wh, [QIF, SUMMARY], ["run-1"])
        taken = snapshot.conn
        assert len(snapshot.extract(first_hour, True).sessions) == 160
        assert snapshot.prepare(wh, [QIF], ["run-2"]) and snapshot.conn is taken
        assert len(snapshot.extract(first_hour, True).sessions) == 0  # done in this snapshot
        assert snapshot.prepare(wh, [QIF, SUMMARY], ["run-3"]) and snapshot.conn is not taken  # SUMMARY is new
        assert len(snapshot.extract(first_hour, True).sessions) == 160
        taken = snapshot.conn
        process(live, 3, 4)  # another run of the same pipelines succeeds meanwhile
        assert snapshot.prepare(wh, [QIF, SUMMARY], ["run-4"]) and snapshot.conn is not taken
        assert len(snapshot.extract(first_hour, True).sessions) == 160
    assert snapshot.conn is None
    assert not RangeSnapshot(live.source_url, timedelta(0)).prepare(wh, [QIF], ["run-5"])

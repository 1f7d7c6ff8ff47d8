"""Work-sized windows for ranges (issue 17 item 1): the planner's rules with the windows written out, the hour
counts it reads from the source (the same count ``MCQ_ENGINE=auto`` uses), and a range through ``run_etl.py``
whose facts equal an hourly run's and a full recompute's, with the merged windows in the bookkeeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from helpers import assert_facts_equal, fetch_all_facts
from test_cli import assert_one_line_error, run_etl
from test_reliability import (  # noqa: F401 - fixtures used by name
    cli_hour,
    etl,
    generated_template,
    hour,
    live,
    recompute,
    succeeded,
    watermarks,
    window_text,
)

from mcq_analytics.facts import FACT_NAMES
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
    assert plan_range(live.source_url, hour(0), hour(5), budget=2000) == [
        Window(hour(0), hour(1)), Window(hour(1), hour(3)), Window(hour(3), hour(4)), Window(hour(4), hour(5))]


def run_log(url: str, pipeline: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT window_start, window_end, status FROM analytics.etl_run_log"
                            " WHERE pipeline_name = %s ORDER BY window_start", (pipeline,)).fetchall()


def test_a_range_in_work_sized_windows_equals_an_hourly_run_and_a_full_recompute(live, pg_server,  # noqa: F811
                                                                                schema_templates):
    """``run_etl.py --start --end`` with the default budget runs the four active hours as one window and the
    quiet hour as another; with ``--window-budget 2000`` as three windows; with ``--window-hours 1`` hour by
    hour. All three warehouses hold the facts of a full recompute, each window is in the run log, and the
    watermark ends at the range's end."""
    budget_wh = pg_server.create_database(f"plan_budget_{live.warehouse_url.rsplit('_', 1)[1]}",
                                          template=schema_templates[1])
    hourly_wh = pg_server.create_database(f"plan_hourly_{live.warehouse_url.rsplit('_', 1)[1]}",
                                          template=schema_templates[1])
    span = ("--start", cli_hour(0), "--end", cli_hour(5))
    try:
        out = succeeded(etl(live, *span))
        assert f"2 window(s), {2 * len(FACT_NAMES)} pipeline run(s)" in out
        out = succeeded(etl(live, *span, "--window-budget", "2000", warehouse_url=budget_wh))
        assert f"4 window(s), {4 * len(FACT_NAMES)} pipeline run(s)" in out
        out = succeeded(etl(live, *span, "--window-hours", "1", warehouse_url=hourly_wh))
        assert f"5 window(s), {5 * len(FACT_NAMES)} pipeline run(s)" in out

        expected = {live.warehouse_url: [(0, 4), (4, 5)], budget_wh: [(0, 1), (1, 3), (3, 4), (4, 5)],
                    hourly_wh: [(h, h + 1) for h in range(5)]}
        for url, windows in expected.items():
            for pipeline in FACT_NAMES:
                assert run_log(url, pipeline) == [(hour(a), hour(b), "success") for a, b in windows]
            assert watermarks(url) == {name: hour(5) for name in FACT_NAMES}
            with psycopg.connect(url) as conn:
                assert set(conn.execute("SELECT status, last_window_start, last_window_end"
                                        " FROM analytics.etl_metadata")) == {("success", hour(4), hour(5))}
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

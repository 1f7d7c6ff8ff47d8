"""The dashboard's pages (Streamlit AppTest) on a warehouse the pipeline built from generated data: the
figures shown equal a direct SQL computation over the facts; filters carry across pages; empty warehouses
say "no data yet — run the pipeline"; the benchmark hook times every page's queries."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from streamlit.testing.v1 import AppTest

from mcq_analytics.dashboard import queries
from mcq_analytics.dashboard.queries import NO_DATA, NO_ITEM_ANALYSIS, Filters
from mcq_analytics.facts import FACT_NAMES
from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.pipeline import run_pandas_window
from mcq_analytics.windows import hourly_windows

APP = Path(queries.__file__).resolve().parent / "app.py"
START = datetime(2024, 6, 1, 22, tzinfo=UTC)  # 3 hours of activity: 22:00 and 23:00 on June 1, 00:00 on June 2
DAY = date(2024, 6, 2)
PAGES = {page: f"views/{page}.py" for page in ("overview", "test", "items", "health")}


@pytest.fixture(scope="module")
def warehouse(pg_server, schema_templates) -> Iterator[str]:
    """A warehouse built by the Pandas pipeline over every hour of 6,000 generated answers."""
    suffix = uuid.uuid4().hex[:8]
    source = pg_server.create_database(f"dash_source_{suffix}", template=schema_templates[0])
    url = pg_server.create_database(f"dash_warehouse_{suffix}", template=schema_templates[1])
    report = generate(source, GeneratorConfig(answers=6000, hours=3, seed=7, start=START))
    for window in hourly_windows(*report.window_range()):
        results = run_pandas_window(source, url, window)
        assert all(r.status == "success" for r in results), [r.error for r in results]
    yield url
    pg_server.drop_database(f"dash_source_{suffix}")
    pg_server.drop_database(f"dash_warehouse_{suffix}")


def one(url: str, query: str, params: dict | None = None) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params or {}).fetchone()


def rows(url: str, query: str, params: dict | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params or {}).fetchall()


def app(url: str, monkeypatch: pytest.MonkeyPatch, page: str = "overview", test: int | None = None) -> AppTest:
    """The app on ``url``, optionally with the sidebar's test chosen, showing ``page``."""
    monkeypatch.setenv("MCQ_DASHBOARD_URL", url)
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    if test is not None:
        at.sidebar.selectbox(key="test").set_value(str(test)).run()
    if page != "overview":
        at.switch_page(PAGES[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def fmt_pct(x: float) -> str:
    return f"{x * 100:.1f} %"


SESSIONS = "SELECT sum(sessions_started) FROM analytics.test_summary_fact"


def busiest_test(url: str) -> int:
    return one(url, "SELECT test_id FROM analytics.test_summary_fact GROUP BY test_id"
                    " ORDER BY sum(sessions_started) DESC, test_id LIMIT 1")[0]


def test_overview_shows_the_ranges_totals_and_funnel(warehouse, monkeypatch):
    at = app(warehouse, monkeypatch)
    sessions, students, submissions, passed = one(
        warehouse, "SELECT sum(sessions_started), sum(students), sum(submissions), sum(passed)"
                   " FROM analytics.test_summary_fact")
    started, engaged, submitted, f_passed, completed = one(
        warehouse, "SELECT sum(started), sum(engaged), sum(submitted), sum(passed), sum(completed)"
                   " FROM analytics.test_funnel_fact")
    stages = [r[0] for r in rows(warehouse, "SELECT drop_off_stage FROM analytics.test_funnel_fact"
                                            " WHERE drop_off_stage IS NOT NULL")]
    order = ["engaged", "submitted", "passed"]
    top = max(order, key=lambda s: (stages.count(s), -order.index(s)))
    assert sessions > 100 and submissions > 0 and engaged < started  # the data is not trivial
    assert metrics(at) == {
        "Sessions": f"{sessions:,}", "Students": f"{students:,}", "Submissions": f"{submissions:,}",
        "Pass rate": fmt_pct(passed / submissions),
        "Completion (all questions answered)": fmt_pct(completed / started),
        "Most common drop-off stage": top,
    }
    # default range: the last week of data, from the first day with data (June 1 – 2); before it: nothing
    assert [m.delta for m in at.metric] == [""] * 6
    assert at.caption[0].value == "2024-06-01 – 2024-06-02 (UTC), all tests"
    assert dict(at.query_params) == {"from": "2024-06-01", "to": "2024-06-02"}


def test_overview_change_against_the_previous_range(warehouse, monkeypatch):
    """June 2 against June 1 (one day each: both hold cohorts); a day without sessions says so."""
    monkeypatch.setenv("MCQ_DASHBOARD_URL", warehouse)
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.sidebar.date_input(key="range").set_value((DAY, DAY)).run()
    assert not at.exception
    query = ("SELECT sum(sessions_started), sum(students), sum(submissions), sum(passed)::float8 / sum(submissions)"
             " FROM analytics.test_summary_fact WHERE hour_start >= %(s)s AND hour_start < %(s)s + interval '1 day'")
    now = one(warehouse, query, {"s": datetime(2024, 6, 2, tzinfo=UTC)})
    before = one(warehouse, query, {"s": datetime(2024, 6, 1, tzinfo=UTC)})
    assert min(now + before) > 0
    assert [(m.label, m.value, m.delta) for m in at.metric[:4]] == [
        ("Sessions", f"{now[0]:,}", f"{(now[0] - before[0]) / before[0] * 100:+.1f} %"),
        ("Students", f"{now[1]:,}", f"{(now[1] - before[1]) / before[1] * 100:+.1f} %"),
        ("Submissions", f"{now[2]:,}", f"{(now[2] - before[2]) / before[2] * 100:+.1f} %"),
        ("Pass rate", fmt_pct(now[3]), f"{(now[3] - before[3]) * 100:+.1f} pt"),
    ]
    at.sidebar.date_input(key="range").set_value((date(2024, 6, 5), date(2024, 6, 5))).run()
    assert [i.value for i in at.info] == ["no sessions in this range — widen the date range or choose another test"]


def test_filters_carry_across_pages_and_the_test_page_shows_that_test(warehouse, monkeypatch):
    tid = busiest_test(warehouse)
    at = app(warehouse, monkeypatch, "test", test=tid)
    assert at.sidebar.selectbox(key="test").value == str(tid)
    assert at.query_params["test"] == str(tid)
    sessions, submissions, passed = one(
        warehouse, "SELECT sum(sessions_started), sum(submissions), sum(passed) FROM analytics.test_summary_fact"
                   " WHERE test_id = %(t)s", {"t": tid})
    shown = metrics(at)
    assert {k: shown[k] for k in ("Sessions", "Submissions", "Pass rate")} == {
        "Sessions": f"{sessions:,}", "Submissions": f"{submissions:,}", "Pass rate": fmt_pct(passed / submissions)}
    assert at.header[0].value == f"Test {tid}"
    cohorts = at.dataframe[0].value
    expected = rows(warehouse, "SELECT hour_start, sessions_started, avg_score_pct, median_score_pct, min_score_pct,"
                               " max_score_pct, pass_rate, avg_duration_seconds FROM analytics.test_summary_fact"
                               " WHERE test_id = %(t)s ORDER BY hour_start", {"t": tid})
    got = list(cohorts[["hour_start", "sessions_started", "avg_score_pct", "median_score_pct", "min_score_pct",
                        "max_score_pct", "pass_rate", "avg_duration_seconds"]].itertuples(index=False, name=None))
    assert [tuple(None if v != v else v for v in r) for r in got] == expected
    started, engaged, submitted, f_passed, completed = one(
        warehouse, "SELECT sum(started), sum(engaged), sum(submitted), sum(passed), sum(completed)"
                   " FROM analytics.test_funnel_fact WHERE test_id = %(t)s", {"t": tid})
    assert shown["Completion (all questions answered)"] == fmt_pct(completed / started)

    # on the Overview again, the same test is still chosen and the figures are the test's own
    at.switch_page(PAGES["overview"]).run()
    assert at.title[0].value == "Overview" and at.sidebar.selectbox(key="test").value == str(tid)
    assert metrics(at)["Sessions"] == f"{sessions:,}"


def test_a_link_with_query_parameters_sets_the_filters(warehouse, monkeypatch):
    tid = busiest_test(warehouse)
    monkeypatch.setenv("MCQ_DASHBOARD_URL", warehouse)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"from": "2024-06-02", "to": "2024-06-02", "test": str(tid)})
    at.run()
    assert at.sidebar.date_input(key="range").value == (DAY, DAY)
    assert at.sidebar.selectbox(key="test").value == str(tid)
    assert at.caption[0].value == f"2024-06-02 – 2024-06-02 (UTC), test {tid}"


def test_test_page_without_a_chosen_test_shows_the_busiest(warehouse, monkeypatch):
    tid = busiest_test(warehouse)
    at = app(warehouse, monkeypatch, "test")
    assert at.header[0].value == f"Test {tid}"
    assert at.caption[0].value.startswith(f"Test {tid} (the busiest of the range")


def has_item_analysis(url: str) -> bool:
    return one(url, "SELECT to_regclass('analytics.item_statistics_fact') IS NOT NULL")[0]


def test_test_and_items_pages_use_item_analysis_when_it_exists(warehouse, monkeypatch):
    tid = busiest_test(warehouse)
    test_page = app(warehouse, monkeypatch, "test", test=tid)
    items_page = app(warehouse, monkeypatch, "items", test=tid)
    if not has_item_analysis(warehouse):
        assert [i.value for i in items_page.info] == [NO_ITEM_ANALYSIS + " (docs/item_analysis.md)."]
        assert metrics(test_page)["Reliability (alpha)"] == "—"
        return
    start, end = datetime(2024, 5, 27, tzinfo=UTC), datetime(2024, 6, 3, tzinfo=UTC)
    alpha = one(warehouse, "SELECT cronbach_alpha FROM analytics.test_reliability(%(s)s, %(e)s, 30)"
                           " WHERE test_id = %(t)s", {"s": start, "e": end, "t": tid})[0]
    assert metrics(test_page)["Reliability (alpha)"] == f"{alpha:.3f}"
    expected = rows(warehouse, "SELECT question_id, attempts, facility, discrimination_index,"
                               " array_to_string(flags, ', ') FROM analytics.item_analysis(%(s)s, %(e)s, 30)"
                               " WHERE test_id = %(t)s ORDER BY question_id", {"s": start, "e": end, "t": tid})
    table = items_page.dataframe[0].value
    got = list(table[["question_id", "attempts", "facility", "discrimination_index", "flags"]]
               .itertuples(index=False, name=None))
    assert [tuple(None if v != v else v for v in r) for r in got] == expected
    question = items_page.selectbox(key="question").value
    options = rows(warehouse, "SELECT option, chosen, share FROM analytics.option_analysis(%(s)s, %(e)s, 30)"
                              " WHERE test_id = %(t)s AND question_id = %(q)s ORDER BY option",
                   {"s": start, "e": end, "t": tid, "q": question})
    shown = items_page.dataframe[1].value
    assert list(shown[["option", "chosen", "share"]].itertuples(index=False, name=None)) == options
    flagged = sorted({flag for r in expected for flag in r[4].split(", ") if flag})
    assert f"Flags in this table: {', '.join(f'[{x}](#flags)' for x in flagged) or 'none'} — [what they mean](#flags)" \
        in [m.value for m in items_page.markdown]
    assert "What the flags mean" in [h.value for h in items_page.subheader]
    assert any("| `negative_discrimination` |" in m.value for m in items_page.markdown)  # from docs/item_analysis.md


def test_pipeline_health_shows_metadata_runs_and_rejects(warehouse, monkeypatch):
    at = app(warehouse, monkeypatch, "health")
    meta = rows(warehouse, "SELECT pipeline_name, status FROM analytics.etl_metadata ORDER BY 1")
    assert [m[0] for m in meta] == sorted(FACT_NAMES) and {m[1] for m in meta} == {"success"}
    assert metrics(at) == dict(meta)
    pipelines = at.dataframe[0].value
    assert list(pipelines["pipeline_name"]) == [m[0] for m in meta]
    assert list(pipelines["consecutive_failures"]) == [0] * len(FACT_NAMES)
    runs = at.dataframe[1].value
    assert len(runs) == one(warehouse, "SELECT count(*) FROM analytics.etl_run_log")[0]  # 3 windows x every pipeline
    assert set(runs["status"]) == {"success"}
    per_hour_and_reason = rows(warehouse, "SELECT DISTINCT date_trunc('hour', window_start), reason, source_table,"
                                          " source_key FROM analytics.etl_rejects")
    rejects = len(per_hour_and_reason)
    assert rejects > 0
    assert f"{rejects:,} rejected source rows in 2024-06-01 – 2024-06-02 (UTC), all tests (a row that several" \
           " pipelines quarantined counts once)" in [c.value for c in at.caption]
    assert "Airflow DAG runs: [mcq_analytics_batch](http://localhost:8080/dags/mcq_analytics_batch/runs)" in [
        m.value for m in at.markdown]


@pytest.mark.parametrize("page", list(PAGES))
def test_a_warehouse_without_facts_says_no_data_yet(dbs, monkeypatch, page):
    at = app(dbs.warehouse_url, monkeypatch, page)
    assert NO_DATA in [i.value for i in at.info]


def test_a_database_without_the_schema_says_no_data_yet(pg_server, monkeypatch):
    name = f"dash_blank_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name)
    try:
        for page in PAGES:
            at = app(url, monkeypatch, page)
            assert NO_DATA in [i.value for i in at.info], page
    finally:
        pg_server.drop_database(name)


def test_items_page_without_item_analysis_says_so(warehouse, pg_server, monkeypatch):
    """A warehouse from before item analysis (its facts dropped here) still serves every other page."""
    name = f"dash_noitems_{uuid.uuid4().hex[:8]}"
    dbname = warehouse.rsplit("/", 1)[1]
    url = pg_server.create_database(name, template=dbname)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS analytics.item_statistics_fact, analytics.option_choice_fact CASCADE")
        at = app(url, monkeypatch, "items")
        assert [i.value for i in at.info] == [NO_ITEM_ANALYSIS + " (docs/item_analysis.md)."]
        assert metrics(app(url, monkeypatch, "test"))["Reliability (alpha)"] == "—"
    finally:
        pg_server.drop_database(name)


def test_page_query_timings_cover_every_query_of_every_page(warehouse):
    f = Filters.for_dates(DAY - timedelta(days=6), DAY)
    timings = {page: queries.page_query_timings(warehouse, page, f) for page in queries.PAGES}
    items = ["items", "options"] if has_item_analysis(warehouse) else []
    reliability = ["reliability"] if has_item_analysis(warehouse) else []
    common = ["status", "data_range", "tests"]
    assert {p: sorted(t) for p, t in timings.items()} == {
        "overview": sorted([*common, "kpis", "kpis_previous", "hourly", "funnel"]),
        "test": sorted([*common, "cohorts", "funnel", *reliability]),
        "items": sorted([*common, *items]),
        "health": sorted(["status", "data_range", "pipelines", "runs", "rejects"]),
    }
    assert all(ms > 0 for t in timings.values() for ms in t.values())


def test_every_dashboard_query_reads_only_the_analytics_schema_with_parameters():
    sql_dir = Path(queries.__file__).resolve().parents[3] / "include" / "sql" / "dashboard"
    files = {p.stem: p.read_text() for p in sorted(sql_dir.glob("*.sql"))}
    assert len(files) == 15
    for name, text in files.items():
        relations = set(re.findall(r"\b(?:FROM|JOIN)\s+([A-Za-z_][\w.]*)", text))
        local = set(re.findall(r"\bWITH\s+(\w+)\s+AS", text)) | {"LATERAL"}
        assert all(r.startswith("analytics.") or r in local or r == "pg_catalog.pg_proc" for r in relations), \
            (name, relations)
        assert "{" not in text, name  # values arrive as psycopg parameters, never formatted into the text
        assert not re.search(r"%(?!\(\w+\)s)", text), name  # a bare % would break psycopg's placeholders


#: The read-only role of docs/dashboard.md (role and database names filled in per test).
READ_ONLY_ROLE = """
CREATE ROLE {role} LOGIN PASSWORD 'change-me';
ALTER ROLE {role} SET default_transaction_read_only = on;
ALTER ROLE {role} SET statement_timeout = '30s';
GRANT CONNECT ON DATABASE {db} TO {role};
GRANT USAGE ON SCHEMA analytics TO {role};
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO {role};
"""


def test_every_page_works_through_the_documented_read_only_role(warehouse, pg_server, monkeypatch):
    role, db = f"dash_ro_{uuid.uuid4().hex[:8]}", warehouse.rsplit("/", 1)[1]
    with psycopg.connect(warehouse, autocommit=True) as conn:
        for statement in READ_ONLY_ROLE.format(role=role, db=db).strip().splitlines():
            conn.execute(statement)
    parts = urlsplit(warehouse)
    url = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))
    try:
        for page in PAGES:
            at = app(url, monkeypatch, page)
            assert NO_DATA not in [i.value for i in at.info], page
        assert metrics(app(url, monkeypatch))["Sessions"] == f"{one(warehouse, SESSIONS)[0]:,}"
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM analytics.etl_rejects")
        with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET default_transaction_read_only = off")
            conn.execute("DELETE FROM analytics.etl_rejects")
    finally:
        with psycopg.connect(warehouse, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(sql.Identifier(db),
                                                                                  sql.Identifier(role)))
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _seq_scans(plan: dict) -> set[str]:
    found = {plan["Relation Name"]} if plan.get("Node Type") == "Seq Scan" else set()
    for child in plan.get("Plans", []):
        found |= _seq_scans(child)
    return found


def test_every_page_query_has_an_index_path_on_the_facts(warehouse):
    """With sequential scans priced out, no query still needs one over a fact, the run log or the rejects
    (``etl_metadata`` holds one row per pipeline): every filter is an index range."""
    f = Filters.for_dates(DAY - timedelta(days=6), DAY)
    tid = busiest_test(warehouse)
    qid = one(warehouse, "SELECT question_id FROM analytics.question_interaction_fact WHERE test_id = %(t)s"
                         " LIMIT 1", {"t": tid})[0]
    cases = [(name, f.params()) for name in ("data_range", "tests", "overview_kpis", "overview_hourly", "funnel")]
    cases += [(name, f.params(test_id=tid)) for name in ("overview_kpis", "overview_hourly", "funnel",
                                                         "test_cohorts")]
    cases += [("recent_runs", {"limit": 20}), ("rejects", f.params())]
    if has_item_analysis(warehouse):
        cases += [(name, f.params(test_id=tid, question_id=qid))
                  for name in ("test_reliability", "item_analysis", "option_analysis")]
    with psycopg.connect(warehouse) as conn, psycopg.ClientCursor(conn) as cur:
        cur.execute("SET enable_seqscan = off")
        for name, params in cases:
            cur.execute("EXPLAIN (FORMAT JSON) " + queries.sql_text(name), params)
            scans = _seq_scans(cur.fetchone()[0][0]["Plan"]) - {"etl_metadata"}
            assert not scans, (name, params.get("test_id"), scans)


@pytest.mark.parametrize(("args", "environ", "code", "message"), [
    (["--env", "nope"], {}, 2, "dashboard: error: unknown environment 'nope': no .env.nope file"),
    (["--port", "abc"], {}, 2, "dashboard: error: argument --port: invalid int value: 'abc'"),
    (["--env", "prod"], {"MCQ_DASHBOARD_URL": "postgresql://reader:s3cret@127.0.0.1:1/warehouse"}, 1,
     "dashboard: error: cannot connect to the warehouse database postgresql://reader:***@127.0.0.1:1/warehouse"),
])
def test_the_command_reports_bad_input_in_one_line(args, environ, code, message):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCQ_")} | environ
    done = subprocess.run([sys.executable, "-m", "mcq_analytics.dashboard", *args], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == code
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
    assert "s3cret" not in done.stderr and done.stdout == ""

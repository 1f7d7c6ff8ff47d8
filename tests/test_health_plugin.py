"""The pipeline-health plugin (``mcq_analytics.airflow.health_plugin``, declared by ``plugins/``).

Fast: its data and page over a warehouse the Pandas pipeline built from generated data equal direct SQL over
``etl_metadata``, ``etl_run_log`` and ``etl_rejects``; run-log rows link to their task instances.
Slow (``scheduler`` marker): real Airflow runs of the batch DAG (``dag.test()``) fill a warehouse, a real
``airflow api-server`` serves the plugin; with a token from ``POST /auth/token`` the JSON and the page show
those runs and every run's link opens a task instance the REST API knows, without one (or with a forged one)
the app refuses; then headless Chromium logs into the UI, opens Browse → Pipeline health and the task
instance's "Pipeline run" tab, and saves the screenshot of docs/img/airflow_pipeline_health.png.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from airflow_harness import REPO, AirflowEnv, airflow_env, dag_test, free_port, start_component, stop_components, tail
from psycopg.rows import dict_row

from mcq_analytics.airflow import health_plugin as hp
from mcq_analytics.airflow.support import run_id_for, triggered_by
from mcq_analytics.facts import FACT_NAMES
from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.pipeline import run_pandas_window
from mcq_analytics.windows import hourly_windows

T0 = datetime(2024, 6, 1, 10, tzinfo=UTC)
DAG_ID = "mcq_analytics_batch"
SCREENSHOT = REPO / "docs" / "img" / "airflow_pipeline_health.png"


def fetch(url: str, query: str, params: dict | None = None) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(query, params or {}).fetchall()


def expected_rejects(url: str) -> list[tuple]:
    """(table, reason, distinct keys, three smallest keys) straight from etl_rejects."""
    return [(r["source_table"], r["reason"], r["n"], r["keys"]) for r in fetch(
        url, "SELECT source_table, reason, count(DISTINCT source_key) AS n,"
             " (array_agg(DISTINCT source_key ORDER BY source_key))[1:3] AS keys FROM analytics.etl_rejects"
             " GROUP BY 1, 2 ORDER BY n DESC, 1, 2")]


def assert_snapshot_matches(data: dict, url: str) -> None:
    """The snapshot's figures equal direct SQL over the warehouse's bookkeeping tables."""
    meta = fetch(url, "SELECT pipeline_name, status, engine, watermark, consecutive_failures, last_error,"
                      " extract(epoch FROM date_trunc('hour', now()) - watermark) / 3600 AS lag"
                      " FROM analytics.etl_metadata ORDER BY 1")
    assert [p["pipeline_name"] for p in data["pipelines"]] == [m["pipeline_name"] for m in meta] == sorted(FACT_NAMES)
    for shown, row in zip(data["pipelines"], meta, strict=True):
        assert (shown["status"], shown["engine"], shown["consecutive_failures"], shown["last_error"]) == (
            row["status"], row["engine"], row["consecutive_failures"], row["last_error"])
        assert datetime.fromisoformat(shown["watermark"]) == row["watermark"]
        assert shown["watermark_lag_hours"] == pytest.approx(float(row["lag"]), abs=0.01)
    log = {r["run_id"]: r for r in fetch(url, "SELECT * FROM analytics.etl_run_log")}
    assert sorted(r["run_id"] for r in data["runs"]) == sorted(log)
    for run in data["runs"]:
        row = log[run["run_id"]]
        assert (run["pipeline_name"], run["status"], run["rows_read"], run["rows_written"], run["rows_rejected"]) == (
            row["pipeline_name"], row["status"], row["rows_read"], row["rows_written"], row["rows_rejected"])
        assert run["duration_seconds"] == pytest.approx((row["finished_at"] - row["started_at"]).total_seconds())
    assert [(x["source_table"], x["reason"], x["rejects"], x["example_keys"]) for x in data["rejects_by_table"]] == \
        expected_rejects(url)
    assert data["rejected_rows"] == sum(x[2] for x in expected_rejects(url)) > 0


# -- fast: the data and the page over a pipeline-built warehouse ------------------------------------------
@pytest.fixture(scope="module")
def built(pg_server, schema_templates) -> Iterator[str]:
    """A warehouse built by the Pandas pipeline over two hours of generated answers."""
    suffix = uuid.uuid4().hex[:8]
    source = pg_server.create_database(f"hp_source_{suffix}", template=schema_templates[0])
    url = pg_server.create_database(f"hp_warehouse_{suffix}", template=schema_templates[1])
    report = generate(source, GeneratorConfig(answers=2000, hours=2, seed=3, start=T0))
    for window in hourly_windows(*report.window_range()):
        assert {r.status for r in run_pandas_window(source, url, window)} == {"success"}
    yield url
    pg_server.drop_database(f"hp_source_{suffix}")
    pg_server.drop_database(f"hp_warehouse_{suffix}")


def test_snapshot_equals_the_bookkeeping_tables(built):
    data = hp.health_snapshot(built, days=7)
    assert_snapshot_matches(data, built)
    last_end = fetch(built, "SELECT max(window_end) AS e FROM analytics.etl_run_log")[0]["e"]
    assert data["range"] == {"start": (last_end - timedelta(days=7)).isoformat(), "end": last_end.isoformat(),
                             "days": 7}
    assert {r["airflow_url"] for r in data["runs"]} == {None}  # run_etl.py-style runs: no task instance
    assert sum(int(x["rejects"]) for x in data["rejects_over_time"]) == fetch(
        built, "SELECT count(*) AS n FROM (SELECT DISTINCT date_trunc('hour', window_start), reason, source_table,"
               " source_key FROM analytics.etl_rejects) AS r")[0]["n"]


def test_page_shows_each_pipeline_its_runs_and_rejects(built):
    data = hp.health_snapshot(built)
    page = hp.render_health(data)
    for pipeline in sorted(FACT_NAMES):
        assert f"<b>{pipeline}</b>" in page
    top = data["rejects_by_table"][0]
    assert f"{data['rejected_rows']:,} rejected source rows in the 7 day(s)" in page
    assert f"<td>{top['source_table']}</td><td>{top['reason']}</td><td class=\"n\">{top['rejects']:,}</td>" in page
    assert all(f"<code>{key}</code>" in page for key in top["example_keys"])
    assert f"the latest {hp.RUNS_SHOWN} of {len(data['runs'])}" in page or f"{len(data['runs'])} of" in page


def test_an_empty_warehouse_and_a_database_without_the_schema(dbs, pg_server):
    empty = hp.health_snapshot(dbs.warehouse_url)
    assert (empty["pipelines"], empty["runs"], empty["rejects_by_table"], empty["rejected_rows"]) == ([], [], [], 0)
    bare = pg_server.create_database(f"hp_bare_{uuid.uuid4().hex[:8]}")
    try:
        assert hp.health_snapshot(bare) == {"has_schema": False, "message": "no data yet — run the pipeline"}
        assert "no data yet — run the pipeline" in hp.render_health(hp.health_snapshot(bare))
    finally:
        pg_server.drop_database(bare.rsplit("/", 1)[1])


def test_a_run_links_to_its_task_instance_and_try():
    run_id = "backfill__2024-06-01T10:00:00+00:00"
    rid = run_id_for("session_fact", DAG_ID, run_id, 2)
    assert hp.task_instance_link(rid, "session_fact", triggered_by(DAG_ID, run_id), "/airflow") == (
        "/airflow/dags/mcq_analytics_batch/runs/backfill__2024-06-01T10%3A00%3A00%2B00%3A00/tasks/"
        "session_fact.build?try_number=2")
    # the reconcile DAG's runs: the DAG run; a CLI or demo run: no link
    assert hp.task_instance_link("r1", "session_fact", "airflow:mcq_analytics_reconcile/scheduled__x") == (
        "/dags/mcq_analytics_reconcile/runs/scheduled__x")
    assert hp.task_instance_link("r1", "session_fact", "cli") is None


# -- slow: a real API server, a real login, real Airflow runs ----------------------------------------------
@dataclass
class Served:
    base: str
    token: str
    password: str
    warehouse_url: str
    dag_run_id: str
    shots: Path


def http(url: str, token: str | None = None, body: dict | None = None,
         headers: dict | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_up(base: str, server, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"api-server exited {server.proc.returncode}:\n{tail(server.log_path)}")
        try:
            if http(f"{base}/api/v2/monitor/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(2)
    raise AssertionError(f"api-server not up after {timeout:.0f}s:\n{tail(server.log_path)}")


@pytest.fixture(scope="module")
def served(pg_server, schema_templates, tmp_path_factory) -> Iterator[Served]:
    """Two hourly runs of the batch DAG by real Airflow, then ``airflow api-server`` with the plugin."""
    suffix = uuid.uuid4().hex[:8]
    source = pg_server.create_database(f"hps_source_{suffix}", template=schema_templates[0])
    warehouse = pg_server.create_database(f"hps_warehouse_{suffix}", template=schema_templates[1])
    generate(source, GeneratorConfig(seed=5, start=T0, hours=2, answers=1500), reset=True)
    airflow: AirflowEnv = airflow_env(pg_server, tmp_path_factory.getbasetemp(), "health")
    started = time.perf_counter()
    runs = dag_test(airflow, DAG_ID, [(T0 + timedelta(hours=1)).isoformat(), (T0 + timedelta(hours=2)).isoformat()],
                    proc_env=airflow.env(source, warehouse))
    assert [r.state for r in runs] == ["success", "success"], [r.tasks for r in runs]
    ran = time.perf_counter() - started
    password = secrets.token_urlsafe(12)
    passwords = airflow.home / "passwords.json"
    passwords.write_text(json.dumps({"admin": password}))
    port = free_port()
    env = airflow.env(source, warehouse, AIRFLOW__API__HOST="127.0.0.1", AIRFLOW__API__PORT=str(port),
                      AIRFLOW__API__WORKERS="1", AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
                      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
                      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords))
    server = start_component(airflow, "api-server-health", ["api-server", "--port", str(port), "--host", "127.0.0.1"],
                             env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base, server)
        up = time.perf_counter() - started - ran
        status, body = http(f"{base}/auth/token", body={"username": "admin", "password": password})
        assert status == 201, body
        print(f"\nhealth plugin: 2 DAG runs in {ran:.1f}s, api-server up in {up:.1f}s")
        yield Served(base, json.loads(body)["access_token"], password, warehouse, runs[-1].run_id,
                     tmp_path_factory.mktemp("shots"))
    finally:
        stop_components([server])
        pg_server.drop_database(f"hps_source_{suffix}")
        pg_server.drop_database(f"hps_warehouse_{suffix}")


@pytest.mark.scheduler
def test_the_api_server_serves_the_health_of_real_airflow_runs_to_a_logged_in_user(served):
    base, token = served.base, served.token
    plugin_url = f"{base}{hp.URL_PREFIX}"
    # refused: no token, a forged token, a bad cookie; the REST API's plugin list shows the two views
    assert http(f"{plugin_url}/api/health")[0] == 401
    assert http(f"{plugin_url}/")[0] == 401
    assert http(f"{plugin_url}/api/health", token="not-a-jwt")[0] == 403
    assert http(f"{plugin_url}/api/health", headers={"Cookie": "_token=forged"})[0] == 403
    status, body = http(f"{base}/api/v2/plugins", token)
    plugin = next(p for p in json.loads(body)["plugins"] if p["name"] == hp.PLUGIN_NAME)
    assert [(v["name"], v["destination"], v["url_route"]) for v in plugin["external_views"]] == [
        ("Pipeline health", "nav", "pipeline-health"), ("Pipeline run", "task_instance", "pipeline-run")]
    assert [a["url_prefix"] for a in plugin["fastapi_apps"]] == [hp.URL_PREFIX]

    status, body = http(f"{plugin_url}/api/health?days=2", token)
    assert status == 200, body
    data = json.loads(body)
    assert_snapshot_matches(data, served.warehouse_url)
    assert [p["status"] for p in data["pipelines"]] == ["success"] * len(FACT_NAMES)
    assert {p["watermark"] for p in data["pipelines"]} == {(T0 + timedelta(hours=2)).isoformat()}
    assert len(data["runs"]) == 2 * len(FACT_NAMES)
    # every run links to the task instance (and try) that recorded it, which the REST API knows as a success
    for run in data["runs"]:
        link = run["airflow_url"]
        assert link.startswith(f"/dags/{DAG_ID}/runs/") and link.endswith("?try_number=1"), link
        dag_run_id = run["triggered_by"].split("/", 1)[1]
        task_id = f"{run['pipeline_name']}.build"
        assert link == f"/dags/{DAG_ID}/runs/{quote(dag_run_id, safe='')}/tasks/{task_id}?try_number=1"
        status, body = http(f"{base}/api/v2/dags/{DAG_ID}/dagRuns/{quote(dag_run_id, safe='')}/taskInstances/"
                             f"{task_id}", token)
        ti = json.loads(body)
        assert (status, ti["state"], ti["try_number"]) == (200, "success", 1), body
    assert http(f"{plugin_url}/api/health?days=0", token)[0] == 422  # bad input: refused, no stack trace

    status, page = http(f"{plugin_url}/", token)
    text = page.decode()
    assert status == 200 and "<h1>Pipeline health</h1>" in text
    assert f"{data['rejected_rows']:,} rejected source rows in the 7 day(s)" in text
    assert all(f"<b>{p}</b>" in text for p in FACT_NAMES)
    assert text.count('target="_top"><code>') == len(data["runs"])  # one link per run
    # the task instance's tab: that pipeline's attempt in that DAG run
    pipeline = sorted(FACT_NAMES)[0]
    status, body = http(f"{plugin_url}/api/run?dag_id={DAG_ID}&dag_run_id={quote(served.dag_run_id, safe='')}"
                        f"&task_id={pipeline}.build", token)
    runs = json.loads(body)["runs"]
    assert [r["run_id"] for r in runs] == [run_id_for(pipeline, DAG_ID, served.dag_run_id, 1)]


@pytest.mark.scheduler
def test_the_view_in_the_airflow_ui_in_headless_chromium(served):
    """Log in on the UI's login page, open Browse → Pipeline health (the plugin's iframe), screenshot it."""
    from playwright.sync_api import sync_playwright

    from mcq_analytics.dashboard.browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    data = json.loads(http(f"{served.base}{hp.URL_PREFIX}/api/health", served.token)[1])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1300})
            page.set_default_timeout(120_000)  # a busy 2-core machine: the UI's first load can take a minute
            page.set_default_navigation_timeout(180_000)
            page.goto(f"{served.base}/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(served.password)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("button", name="Browse").click()  # shown once the UI has loaded its plugins
            page.get_by_role("menuitem", name="Pipeline health").click()
            page.wait_for_url("**/plugin/pipeline-health")
            frame = page.frame_locator("iframe").first
            frame.get_by_text("Pipeline health", exact=True).wait_for(timeout=60_000)
            text = frame.locator("body").inner_text()
            assert f"{data['rejected_rows']:,} rejected source rows" in text
            assert all(p in text for p in FACT_NAMES)
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
            assert SCREENSHOT.stat().st_size > 30_000
            # a run's link opens its task instance in the UI, whose "Pipeline run" tab shows it
            run = data["runs"][0]
            frame.locator(f"a[href='{run['airflow_url']}']").click()
            page.wait_for_url(f"**/tasks/{run['pipeline_name']}.build**", wait_until="commit")
            page.get_by_text("Pipeline run", exact=True).first.click()  # the plugin's task-instance tab
            tab = page.frame_locator("iframe").first
            tab.get_by_text(run["run_id"]).wait_for(timeout=60_000)
            page.screenshot(path=str(served.shots / "pipeline_run_tab.png"))
        except Exception:
            page.screenshot(path=str(served.shots / "failed.png"), full_page=True)
            raise AssertionError(f"browser: {page.url} ({served.shots / 'failed.png'}):\n"
                                 f"{page.locator('body').inner_text()[:3000]}") from None
        finally:
            browser.close()

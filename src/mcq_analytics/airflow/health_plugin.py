"""Pipeline health inside the Airflow UI: an Airflow 3 plugin whose FastAPI app shows ``etl_metadata``,
``etl_run_log`` and ``etl_rejects`` of the warehouse (connection ``mcq_warehouse``), read-only, behind
Airflow's own authentication.

* ``GET /mcq-pipeline-health/`` — the page (server-rendered HTML): per pipeline its status, engine, watermark
  and lag behind the last full hour, consecutive failures and last error; the recent runs with rows and
  durations, each linked to its Airflow task instance; the rejects by reason over time and by source table
  and reason with example keys. ``?days=N`` (1–90, default 7) sets the rejects' range, which ends with the
  latest window in the run log (so an old backfill still shows).
* ``GET /mcq-pipeline-health/api/health`` — the same as JSON.
* ``GET /mcq-pipeline-health/run?dag_id=…&dag_run_id=…&task_id=…`` — the run-log attempts of one DAG run
  (of the task's pipeline), the "Pipeline run" tab of every task instance: the link back from Airflow.

Airflow mounts plugin apps without any authentication, so every route depends on Airflow's
``requires_access_dag("GET", RUN)``: the JWT of the ``Authorization: Bearer`` header or of the UI's
``_token`` cookie (what the UI's iframe sends), checked by the configured auth manager — 401 without one,
403 for a user who may not read DAG runs. The SQL is the dashboard's (``include/sql/dashboard/``, run by
``mcq_analytics.dashboard.queries`` on a read-only connection).

Every Airflow process (scheduler, workers, dag-processor) imports plugins, so this module imports neither
FastAPI's Airflow security nor pandas at import time: the app is built on its first request.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from airflow.plugins_manager import AirflowPlugin

from mcq_analytics.airflow.support import WAREHOUSE_CONN_ID, run_prefix

PLUGIN_NAME = "mcq_pipeline_health"
URL_PREFIX = "/mcq-pipeline-health"
#: The UI routes of the two views: ``/plugin/pipeline-health`` (navigation, Browse menu) and the task
#: instance tab ``/dags/<dag>/runs/<run>/tasks/<task>/plugin/pipeline-run``.
VIEW_ROUTE = "pipeline-health"
RUN_VIEW_ROUTE = "pipeline-run"
DEFAULT_DAYS = 7
MAX_DAYS = 90
EXAMPLE_KEYS = 3
RUNS_SHOWN = 30
TRIGGER_PREFIX = "airflow:"
_TRY = re.compile(r"try(\d+)$")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


# -- links between the run log and Airflow ----------------------------------------------------------
def build_task_id(pipeline: str) -> str:
    """The task that builds ``pipeline`` in the batch and Spark DAGs (group ``<fact>``, task ``build``)."""
    return f"{pipeline}.build"


def airflow_base_path() -> str:
    """The path the Airflow UI is served under (``[api] base_url``'s path, '' at the root)."""
    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


def task_instance_link(run_id: str, pipeline: str, triggered_by: str | None, base: str = "") -> str | None:
    """The Airflow UI page of the task instance (and try) that recorded a run-log row; the DAG run's page
    for an Airflow run of another task (the reconcile DAG's); ``None`` for a run outside Airflow (CLI, demo).

    ``triggered_by`` is ``airflow:<dag_id>/<dag run id>`` and a build's ``run_id`` is
    ``run_prefix(pipeline, dag_id, dag run id) + 'try<n>'`` (``mcq_analytics.airflow.support``)."""
    if not triggered_by or not triggered_by.startswith(TRIGGER_PREFIX) or "/" not in triggered_by:
        return None
    dag_id, dag_run_id = triggered_by.removeprefix(TRIGGER_PREFIX).split("/", 1)
    run_page = f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(dag_run_id, safe='')}"
    prefix = run_prefix(pipeline, dag_id, dag_run_id)
    attempt = _TRY.fullmatch(run_id.removeprefix(prefix)) if run_id.startswith(prefix) else None
    if attempt is None:
        return run_page
    return f"{run_page}/tasks/{quote(build_task_id(pipeline), safe='')}?try_number={attempt[1]}"


def health_page_path(days: int | None = None) -> str:
    return f"{URL_PREFIX}/" + (f"?{urlencode({'days': days})}" if days else "")


# -- the data ----------------------------------------------------------------------------------------
def warehouse_url() -> str:
    """The libpq URL of the ``mcq_warehouse`` connection, through the provider's ``PostgresHook``."""
    from mcq_analytics.airflow.support import connection_url

    return connection_url(WAREHOUSE_CONN_ID)


def _plain(value: Any) -> Any:
    """A JSON-ready value: timestamps as ISO 8601, durations as hours, NaN/NaT as None, numpy as Python."""
    import pandas as pd

    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or (not hasattr(value, "__len__") and pd.isna(value)):
        return None
    if isinstance(value, pd.Timedelta | timedelta):
        return round(pd.Timedelta(value).total_seconds() / 3600, 2)
    if isinstance(value, pd.Timestamp | datetime):
        return pd.Timestamp(value).isoformat()
    return value.item() if hasattr(value, "item") else value


#: Count columns: pandas turns an integer column with a NULL into floats; they are shown as integers again.
_COUNTS = ("rows_read", "rows_written", "rows_rejected", "consecutive_failures", "rejects")


def _records(frame: Any) -> list[dict[str, Any]]:
    rows = [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
    for row in rows:
        for key in _COUNTS:
            if isinstance(row.get(key), float):
                row[key] = int(row[key])
    return rows


def health_snapshot(url: str, days: int = DEFAULT_DAYS, *, base: str = "",
                    now: datetime | None = None) -> dict[str, Any]:
    """Everything the page shows, JSON-ready. The rejects' range is the ``days`` days that end with the
    latest window the run log holds (``now`` when it holds none)."""
    from mcq_analytics.dashboard import queries

    with queries.connect(url) as conn:
        r = queries.Runner(conn)
        if not r.row("status", "status").get("has_schema"):
            return {"has_schema": False, "message": queries.NO_DATA}
        pipelines = _records(r.frame("pipelines", "pipelines"))
        runs = _records(r.frame("runs", "recent_runs", {"limit": queries.RECENT_RUNS_PER_PIPELINE}))
        ends = [datetime.fromisoformat(run["window_end"]) for run in runs]
        end = max(ends) if ends else (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
        f = queries.Filters(end - timedelta(days=days), end)
        over_time = _records(r.frame("rejects", "rejects", f.params()))
        by_table = _records(r.frame("rejects_by_table", "rejects_by_table", f.params(examples=EXAMPLE_KEYS)))
    for pipeline in pipelines:
        pipeline["watermark_lag_hours"] = pipeline.pop("watermark_lag")
    for run in runs:
        run["airflow_url"] = task_instance_link(run["run_id"], run["pipeline_name"], run["triggered_by"], base)
    return {
        "has_schema": True, "range": {"start": f.start.isoformat(), "end": f.end.isoformat(), "days": days},
        "pipelines": pipelines, "runs": runs, "rejects_over_time": over_time, "rejects_by_table": by_table,
        "rejected_rows": sum(int(x["rejects"]) for x in by_table),
    }


def dag_run_snapshot(url: str, dag_id: str, dag_run_id: str, task_id: str | None = None,
                     *, base: str = "") -> dict[str, Any]:
    """The run-log attempts of one DAG run: of the task's pipeline when the task belongs to a fact's group
    (``<fact>.build``, ``<fact>.checks``), else of every pipeline."""
    from mcq_analytics.dashboard import queries
    from mcq_analytics.facts import FACT_NAMES

    group = (task_id or "").split(".", 1)[0]
    pipeline = group if group in FACT_NAMES else None
    triggered = f"{TRIGGER_PREFIX}{dag_id}/{dag_run_id}"
    with queries.connect(url) as conn:
        r = queries.Runner(conn)
        if not r.row("status", "status").get("has_schema"):
            return {"has_schema": False, "message": queries.NO_DATA}
        runs = _records(r.frame("runs", "dag_run_runs", {"triggered_by": triggered, "pipeline": pipeline}))
    for run in runs:
        run["airflow_url"] = task_instance_link(run["run_id"], run["pipeline_name"], run["triggered_by"], base)
    return {"has_schema": True, "dag_id": dag_id, "dag_run_id": dag_run_id, "pipeline": pipeline, "runs": runs}


# -- the page ----------------------------------------------------------------------------------------
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;color:#1a202c;font-size:14px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 6px}.muted{color:#718096}
table{border-collapse:collapse;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #e2e8f0;text-align:left;
vertical-align:top}th{background:#f7fafc;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.s{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px}.success{background:#38a169}
.failed{background:#e53e3e}.running{background:#3182ce}.abandoned{background:#a0aec0}.err{color:#c53030;
white-space:pre-wrap;font-family:monospace;font-size:12px}.bar{display:inline-block;height:10px;background:#dd6b20;
vertical-align:middle;margin-right:6px}code{font-size:12px}a{color:#2b6cb0}
"""


def _e(value: Any) -> str:
    return "—" if value is None else html.escape(str(value))


def _num(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _when(value: str | None) -> str:
    return "—" if value is None else html.escape(value.replace("T", " ")[:16]) + " UTC"


def _status(value: str | None) -> str:
    return f'<span class="s {_e(value)}">{_e(value)}</span>'


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], numeric: Iterable[int] = ()) -> str:
    numeric = set(numeric)
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _lag(hours: float | None) -> str:
    if hours is None:
        return "no watermark yet"
    return f"{hours:,.0f} h" if abs(hours) >= 1 or hours == 0 else f"{hours * 60:,.0f} min"


def _run_link(run: Mapping[str, Any]) -> str:
    url = run.get("airflow_url")
    label = f"<code>{_e(run['run_id'])}</code>"
    return f'<a href="{html.escape(url)}" target="_top">{label}</a>' if url else label


def _duration(seconds: float | None) -> str:
    return "—" if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)) else f"{seconds:,.2f} s"


def runs_table(runs: list[Mapping[str, Any]]) -> str:
    return _table(
        ["run (Airflow task instance)", "pipeline", "window", "status", "engine", "read", "written", "rejected",
         "duration", "error"],
        ([_run_link(r), _e(r["pipeline_name"]), _when(r["window_start"]), _status(r["status"]), _e(r["engine"]),
          _num(r["rows_read"]), _num(r["rows_written"]), _num(r["rows_rejected"]), _duration(r["duration_seconds"]),
          f'<span class="err">{_e((r["error"] or "").splitlines()[0] if r["error"] else None)}</span>']
         for r in runs), numeric=(5, 6, 7, 8))


#: The UI shows the page in an iframe sandboxed without ``allow-top-navigation``, so a link cannot navigate the
#: UI's window itself; being same-origin, it hands the path to the UI's router instead (history + popstate).
#: Opened on its own (no parent), a link is an ordinary link.
OPEN_IN_AIRFLOW = """document.addEventListener('click', (e) => {
  const a = e.target.closest('a[target="_top"]');
  if (!a || window.parent === window || e.ctrlKey || e.metaKey || e.shiftKey) return;
  try {
    const ui = window.parent;
    ui.history.pushState({}, '', a.getAttribute('href'));
    ui.dispatchEvent(new PopStateEvent('popstate', {state: {}}));
    e.preventDefault();
  } catch (err) { /* not inside the Airflow UI: the browser follows the link */ }
});"""


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style><script>{OPEN_IN_AIRFLOW}</script></head><body>{body}</body></html>")


def render_health(data: Mapping[str, Any]) -> str:
    """The page of ``health_snapshot``'s data."""
    if not data["has_schema"]:
        return _page("Pipeline health", f"<h1>Pipeline health</h1><p>{_e(data['message'])}</p>")
    parts = ["<h1>Pipeline health</h1><p class=muted>analytics.etl_metadata, etl_run_log and etl_rejects of the "
             f"warehouse (connection <code>{WAREHOUSE_CONN_ID}</code>), read-only.</p>", "<h2>Pipelines</h2>"]
    parts.append(_table(
        ["pipeline", "status", "engine", "watermark", "lag behind the last full hour", "consecutive failures",
         "last run", "last error"],
        ([f"<b>{_e(p['pipeline_name'])}</b>", _status(p["status"]), _e(p["engine"]), _when(p["watermark"]),
          _lag(p["watermark_lag_hours"]), _num(p["consecutive_failures"]), _when(p["last_run_time"]),
          f'<span class="err">{_e(p["last_error"])}</span>'] for p in data["pipelines"]), numeric=(5,)))
    runs = data["runs"]
    parts.append(f"<h2>Recent runs</h2><p class=muted>the latest {min(len(runs), RUNS_SHOWN)} of {len(runs)} "
                 "(up to 20 per pipeline); a run id opens its Airflow task instance</p>")
    parts.append(runs_table(runs[:RUNS_SHOWN]))
    rng = data["range"]
    parts.append(f"<h2>Rejects</h2><p class=muted>{data['rejected_rows']:,} rejected source rows in the "
                 f"{rng['days']} day(s) up to {_when(rng['end'])} (window hours; a row several pipelines "
                 "quarantined counts once) — rows in <code>analytics.etl_rejects</code></p>")
    parts.append(_table(
        ["source table", "reason", "rejected rows", "pipelines", "first window", "last window", "example keys"],
        ([_e(x["source_table"]), _e(x["reason"]), _num(x["rejects"]), _e(", ".join(x["pipelines"] or [])),
          _when(x["first_window"]), _when(x["last_window"]),
          ", ".join(f"<code>{_e(k)}</code>" for k in x["example_keys"] or [])] for x in data["rejects_by_table"]),
        numeric=(2,)))
    over_time = data["rejects_over_time"]
    top = max((int(x["rejects"]) for x in over_time), default=0) or 1
    parts.append("<h3>By reason over time</h3>" + _table(
        ["window hour", "reason", "rejected rows"],
        ([_when(x["hour_start"]), _e(x["reason"]),
          f'<span class="bar" style="width:{max(1, round(120 * int(x["rejects"]) / top))}px"></span>'
          f'{_num(x["rejects"])}'] for x in over_time), numeric=(2,)) if over_time else "<p>no rejects</p>")
    return _page("Pipeline health", "".join(parts))


def render_dag_run(data: Mapping[str, Any]) -> str:
    if not data["has_schema"]:
        return _page("Pipeline run", f"<p>{_e(data['message'])}</p>")
    what = f"pipeline <b>{_e(data['pipeline'])}</b>" if data["pipeline"] else "every pipeline"
    head = (f"<h1>Pipeline run</h1><p class=muted>analytics.etl_run_log of {what} in DAG run "
            f"<code>{_e(data['dag_id'])}/{_e(data['dag_run_id'])}</code>, one row per attempt — "
            f'<a href="{html.escape(health_page_path())}" target="_top">pipeline health</a></p>')
    body = runs_table(data["runs"]) if data["runs"] else "<p>no run-log row for this DAG run</p>"
    return _page("Pipeline run", head + body)


# -- the FastAPI app ---------------------------------------------------------------------------------
def create_app() -> Any:
    """The plugin's FastAPI app; every route needs a user Airflow lets read DAG runs."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI, HTTPException, Query
    from fastapi.responses import HTMLResponse
    from psycopg import OperationalError

    app = FastAPI(title="MCQ pipeline health", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))])
    days_query = Query(DEFAULT_DAYS, ge=1, le=MAX_DAYS, description="days of rejects, ending at the latest window")

    def snapshot(load: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        try:
            return load(warehouse_url(), *args, base=airflow_base_path())
        except OperationalError as exc:  # one line, no stack trace, no password (libpq does not print it)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise HTTPException(503, f"cannot reach the warehouse ({WAREHOUSE_CONN_ID}): {first}") from None

    @app.get("/", response_class=HTMLResponse)
    def page(days: int = days_query) -> str:
        return render_health(snapshot(health_snapshot, days))

    @app.get("/api/health")
    def api_health(days: int = days_query) -> dict[str, Any]:
        return snapshot(health_snapshot, days)

    @app.get("/run", response_class=HTMLResponse)
    def dag_run_page(dag_id: str, dag_run_id: str, task_id: str | None = None) -> str:
        return render_dag_run(snapshot(dag_run_snapshot, dag_id, dag_run_id, task_id))

    @app.get("/api/run")
    def api_dag_run(dag_id: str, dag_run_id: str, task_id: str | None = None) -> dict[str, Any]:
        return snapshot(dag_run_snapshot, dag_id, dag_run_id, task_id)

    return app


class LazyApp:
    """An ASGI app that builds ``factory()`` on its first request (plugins are imported by every Airflow
    process; only the API server serves them)."""

    def __init__(self, factory: Callable[[], ASGIApp]) -> None:
        self.factory = factory
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if self.app is None:
            self.app = self.factory()
        await self.app(scope, receive, send)


class PipelineHealthPlugin(AirflowPlugin):
    """Registers the app and its two views: "Pipeline health" in the Browse menu, "Pipeline run" as a tab of
    every task instance (``{DAG_ID}``/``{RUN_ID}``/``{TASK_ID}`` are filled in by the UI)."""

    name = PLUGIN_NAME
    fastapi_apps = [{"app": LazyApp(create_app), "url_prefix": URL_PREFIX, "name": "MCQ pipeline health"}]
    external_views = [
        {"name": "Pipeline health", "href": f"{URL_PREFIX.lstrip('/')}/", "destination": "nav",
         "category": "browse", "url_route": VIEW_ROUTE},
        {"name": "Pipeline run", "destination": "task_instance", "url_route": RUN_VIEW_ROUTE,
         "href": f"{URL_PREFIX.lstrip('/')}/run?dag_id={{DAG_ID}}&dag_run_id={{RUN_ID}}&task_id={{TASK_ID}}"},
    ]

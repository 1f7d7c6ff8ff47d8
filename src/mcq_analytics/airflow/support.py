"""Airflow glue that is logic rather than wiring, shared by the operators and the DAG factory, unit-testable.

Connection → libpq URL (and Spark master) resolution, the window and run id of a task instance, which DAG
an environment runs and which engine its batch DAG uses, and the Spark submission defaults. Airflow is
imported lazily inside functions, so importing this module never needs Airflow and never touches a
database (the DAG factory imports it at parse time).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mcq_analytics.config import Settings, load_settings
from mcq_analytics.windows import Window, parse_time

if TYPE_CHECKING:  # the engines pull in pandas: imported where a build runs, never at DAG parse time
    from mcq_analytics.pipeline import PipelineResult

log = logging.getLogger(__name__)

SOURCE_CONN_ID = "mcq_source"
WAREHOUSE_CONN_ID = "mcq_warehouse"
SPARK_CONN_ID = "spark_default"
BATCH_DAG_ID = "mcq_analytics_batch"
SPARK_DAG_ID = "mcq_analytics_spark"
#: Which DAG runs for each ``MCQ_ENGINE``: ``auto`` picks the engine per window inside the batch DAG.
DAG_FOR_ENGINE = {"pandas": BATCH_DAG_ID, "auto": BATCH_DAG_ID, "spark": SPARK_DAG_ID}
#: The master ``SparkSubmitHook`` uses when its connection is not defined.
PROVIDER_DEFAULT_MASTER = "yarn"

WINDOW_START_TEMPLATE = "{{ data_interval_start.isoformat() }}"
WINDOW_END_TEMPLATE = "{{ data_interval_end.isoformat() }}"

#: Connection extras that are libpq parameters and belong in the URL's query string.
_LIBPQ_EXTRAS = (
    "sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslpassword", "application_name",
    "connect_timeout", "options", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
    "target_session_attrs", "gssencmode", "channel_binding",
)


# -- connections ------------------------------------------------------------------------------------
def libpq_url(uri: str, extras: Mapping[str, Any] | None = None) -> str:
    """Normalise a PostgreSQL URI to the ``postgresql://`` form libpq, psycopg and mcq_analytics take.

    ``postgres://`` and SQLAlchemy's ``postgresql+<driver>://`` (what ``PostgresHook.get_uri()`` gives)
    become ``postgresql://``; libpq options among ``extras`` (a connection's extra JSON) are added to the
    query string unless it already has them.
    """
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in ("postgres", "postgresql") and not scheme.startswith("postgresql+"):
        raise ValueError(f"not a PostgreSQL URI (scheme {parts.scheme!r})")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key in _LIBPQ_EXTRAS:
        value = (extras or {}).get(key)
        if value not in (None, "") and key not in query:
            query[key] = str(value)
    return urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))


def connection_url(conn_id: str) -> str:
    """The libpq URL of an Airflow PostgreSQL connection, resolved through the provider's ``PostgresHook``.

    Call it at run time only (inside ``execute``): it reads the connection from the secrets backends.
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(postgres_conn_id=conn_id)
    return libpq_url(hook.get_uri(), hook.connection.extra_dejson)


# -- windows, run ids, attempts -------------------------------------------------------------------
def window_from(start: str | datetime, end: str | datetime) -> Window:
    """The window a task instance processes, from its (rendered) data-interval bounds."""
    start_dt = start if isinstance(start, datetime) else parse_time(str(start))
    end_dt = end if isinstance(end, datetime) else parse_time(str(end))
    return Window(start_dt, end_dt)


def run_prefix(pipeline: str, dag_id: str, dag_run_id: str) -> str:
    """The prefix shared by the run-log ids of every attempt of ``pipeline`` in one DAG run."""
    return f"{pipeline}__{dag_id}__{dag_run_id}__"


def run_id_for(pipeline: str, dag_id: str, dag_run_id: str, try_number: int) -> str:
    """The ``etl_run_log.run_id`` (and facts' ``etl_run_id``) of one task attempt."""
    return f"{run_prefix(pipeline, dag_id, dag_run_id)}try{try_number}"


def run_id_template(pipeline: str) -> str:
    """Jinja that renders to ``run_id_for(pipeline, <dag_id>, <run_id>, <try_number>)`` in a task."""
    return run_prefix(pipeline, "{{ dag.dag_id }}", "{{ run_id }}") + "try{{ ti.try_number }}"


def run_prefix_template(pipeline: str) -> str:
    """Jinja for the SQL string literal of ``run_prefix`` (quotes doubled: a run id is user input)."""
    prefix = run_prefix(pipeline, "{{ dag.dag_id }}", "{{ run_id | replace(\"'\", \"''\") }}")
    return f"'{prefix}'"


def triggered_by(dag_id: str, dag_run_id: str) -> str:
    """``etl_run_log.triggered_by`` for a task of a DAG run."""
    return f"airflow:{dag_id}/{dag_run_id}"


def is_final_attempt(try_number: int, max_tries: int) -> bool:
    """True when Airflow will not retry this attempt if it fails (its retry rule: try_number <= max_tries)."""
    return max_tries == 0 or try_number > max_tries


def attempt_from_context(context: Mapping[str, Any], pipeline: str) -> tuple[str, str, bool]:
    """(run id, triggered_by, final attempt?) of the running task instance."""
    ti = context["ti"]
    dag_id = ti.dag_id
    dag_run_id = context["dag_run"].run_id
    return (run_id_for(pipeline, dag_id, dag_run_id, ti.try_number), triggered_by(dag_id, dag_run_id),
            is_final_attempt(ti.try_number, ti.max_tries))


# -- which DAG an environment runs ---------------------------------------------------------------
def active_dag_id(environ: Mapping[str, str] | None = None) -> str:
    """The DAG that ``MCQ_ENGINE`` selects (``spark`` → the Spark DAG; ``pandas``/``auto``/unset → batch)."""
    engine = ((os.environ if environ is None else environ).get("MCQ_ENGINE") or "pandas").strip().lower()
    return DAG_FOR_ENGINE.get(engine, BATCH_DAG_ID)


def paused_upon_creation(dag_id: str, environ: Mapping[str, str] | None = None) -> bool | None:
    """``is_paused_upon_creation`` for a fact DAG: the inactive engine's DAG is created paused, the active
    one follows Airflow's ``[core] dags_are_paused_at_creation`` (``None``). Both are safe to run on the
    same window (the fact writes are locked and idempotent), so unpausing the other one is harmless."""
    return None if active_dag_id(environ) == dag_id else True


# -- settings and the batch DAG's engine ---------------------------------------------------------
def settings_from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """The project settings of an Airflow worker: ``.env.<MCQ_ENV>`` (default ``dev``) under its ``MCQ_*``
    environment variables, the same file ``run_etl.py --env`` reads (the alert callbacks read it too)."""
    environ = os.environ if environ is None else environ
    return load_settings(environ.get("MCQ_ENV") or "dev", environ=dict(environ))


def batch_engine(settings: Settings) -> str:
    """The engine of the batch DAG's build tasks: ``auto`` (Pandas or Spark per window, as ``run_etl.py``
    chooses) when ``MCQ_ENGINE=auto``, else ``pandas`` — ``MCQ_ENGINE=spark`` runs the Spark DAG instead."""
    return "auto" if settings.engine == "auto" else "pandas"


# -- one fact build ------------------------------------------------------------------------------
def run_fact_build(source_url: str, warehouse_url: str, window: Window, pipeline: str, run_id: str,
                   triggered: str, final: bool = True, *, engine: str = "pandas", settings: Settings | None = None,
                   expected_rows: int | None = None) -> PipelineResult:
    """Build one fact for one window with ``etl_metadata`` bookkeeping, through ``engines.run_window`` — the
    CLI's entry point, so the look-back, the lock timeout and the engine behave as in ``run_etl.py``.

    ``final=False`` (an attempt Airflow will retry) records the failure in the run log without counting
    it as a pipeline failure. ``settings`` defaults to the worker's (``settings_from_environment``).
    """
    from mcq_analytics import engines

    settings = settings or settings_from_environment()
    return engines.run_window(engine, settings, source_url, warehouse_url, window, [pipeline], triggered,
                              run_ids={pipeline: run_id}, final=final, expected_rows=expected_rows)[0]


# -- what a build did: the log lines and the asset event's extra -------------------------------------
def rejects_by_reason(warehouse_url: str, pipeline: str, window: Window) -> dict[str, int]:
    """``{"<source_table>.<reason>": rows}`` of the rejects ``pipeline`` recorded for ``window`` in
    ``analytics.etl_rejects`` (call after the build; one small indexed query)."""
    import psycopg

    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "SELECT source_table || '.' || reason, count(*) FROM analytics.etl_rejects"
            " WHERE pipeline_name = %s AND window_start = %s AND window_end = %s GROUP BY 1 ORDER BY 1",
            (pipeline, window.start, window.end),
        ).fetchall()
    return {key: int(n) for key, n in rows}


def run_log_counts(warehouse_url: str, run_id: str) -> dict[str, int]:
    """The counts a run recorded in ``analytics.etl_run_log`` (the Spark job writes them itself)."""
    import psycopg

    with psycopg.connect(warehouse_url) as conn:
        row = conn.execute("SELECT rows_read, rows_written, rows_rejected FROM analytics.etl_run_log"
                           " WHERE run_id = %s", (run_id,)).fetchone()
    read, written, rejected = row or (None, None, None)
    return {"rows_read": int(read or 0), "rows_written": int(written or 0), "rows_rejected": int(rejected or 0)}


def asset_extra(window: Window, run_id: str, engine: str, counts: Mapping[str, int],
                rejects: Mapping[str, int]) -> dict[str, Any]:
    """The ``extra`` of a build's asset event: what changed, for downstream DAGs and the UI's Assets view.
    ``empty`` is true when the window read no source row (a green run that did nothing)."""
    return {
        "data_interval_start": window.start.isoformat(), "data_interval_end": window.end.isoformat(),
        "rows_read": int(counts["rows_read"]), "rows_written": int(counts["rows_written"]),
        "rows_rejected": int(counts["rows_rejected"]), "rejects_by_reason": dict(rejects),
        "engine": engine, "run_id": run_id, "empty": int(counts["rows_read"]) == 0,
    }


def report_build(logger: logging.Logger | Any, pipeline: str, window: Window, engine: str, counts: Mapping[str, int],
                 rejects: Mapping[str, int], seconds: float | None = None) -> None:
    """The build's log lines a person reads: the target table, the window, the rows, the rejects by reason
    and where they are; a warning when the window read nothing."""
    from mcq_analytics.facts import fact

    table = fact(pipeline).table
    took = f" in {seconds:.2f}s" if seconds is not None else ""
    logger.info("built %s for %s on %s: read %d source rows, wrote %d fact rows, rejected %d rows%s", table,
                window, engine, counts["rows_read"], counts["rows_written"], counts["rows_rejected"], took)
    if rejects:
        logger.info("rejects by reason: %s — rows in analytics.etl_rejects (pipeline_name = '%s', window_start "
                    "= '%s')", ", ".join(f"{k}={v}" for k, v in rejects.items()), pipeline,
                    window.start.isoformat())
    if counts["rows_read"] == 0:
        logger.warning("%s read no source rows for %s: nothing changed in that window (asset event marked "
                       "\"empty\": true)", table, window)


# -- Spark master ---------------------------------------------------------------------------------
def master_of(conn_type: str | None, host: str | None, port: int | None) -> str:
    """The Spark master a ``spark`` connection names, resolved as ``SparkSubmitHook`` does: a ``spark``
    connection whose host holds a whole master URL (``local[2]``, ``k8s://https://…``, or no port) is that
    URL; otherwise ``<conn_type>://<host>``; then ``:<port>`` when the connection has one."""
    whole_url = conn_type == "spark" and host and ("://" in host or not port)
    master = host if whole_url else f"{conn_type}://{host or ''}"
    return f"{master}:{port}" if port else master


def spark_master(conn_id: str, default: str = PROVIDER_DEFAULT_MASTER) -> str:
    """The master of Airflow connection ``conn_id`` through the public ``BaseHook.get_connection``;
    ``default`` when the connection is not defined. Call it at run time only (it reads the secrets backends)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.info("connection %s is not defined: Spark master %s", conn_id, default)
        return default
    return master_of(conn.conn_type, conn.host, conn.port)

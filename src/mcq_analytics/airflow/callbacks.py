"""The Airflow task callbacks that apply the alert policy (docs/alerting.md): ``on_task_failure`` and
``on_task_success``, attached to the build tasks by the DAGs.

A callback works out which pipeline the task builds and which warehouse holds its bookkeeping, counts a
final attempt that died before recording itself (a timeout, a lost worker), and hands over to
``mcq_analytics.alerts`` (claim, message, channels). It never raises: the task's own state stands.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from mcq_analytics.airflow.support import connection_url, run_id_for
from mcq_analytics.alerts import (
    NoticeReport,
    RunInfo,
    notify_failure,
    notify_success,
    record_orphaned_attempt,
    task_log_url,
)
from mcq_analytics.alerts.channels import connection
from mcq_analytics.alerts.policy import window_or_none
from mcq_analytics.config import Settings, load_settings

#: The alerts' logger, so every alert line (callbacks included) is under one name.
log = logging.getLogger("mcq_analytics.alerts")

DEFAULT_WAREHOUSE_CONN_ID = "mcq_warehouse"


def _param_pipeline(task: Any, context: dict[str, Any] | None) -> str | None:
    for params in ((context or {}).get("params"), getattr(task, "params", None)):
        try:
            value = params.get("pipeline") if params is not None else None
        except Exception:
            value = None
        if isinstance(value, str) and value:
            return value
    return None


def pipeline_of(task: Any, context: dict[str, Any] | None = None, known: Sequence[str] | None = None) -> str | None:
    """The pipeline (fact table) a task builds: its ``pipeline`` attribute, its ``params['pipeline']``, else
    the task-group or task-id segment that names a fact table."""
    if known is None:
        from mcq_analytics.pipeline import PIPELINES as known
    value = getattr(task, "pipeline", None)
    if isinstance(value, str) and value:
        return value
    if value := _param_pipeline(task, context):
        return value
    group = getattr(task, "task_group", None)
    for candidate in (getattr(group, "group_id", None), getattr(task, "task_id", None)):
        for part in reversed((candidate or "").split(".")):
            if part in known:
                return part
    return None


def _airflow_conn_url(conn_id: str) -> str | None:
    """The libpq URL of an Airflow PostgreSQL connection (as the operators resolve it), None if undefined."""
    if connection(conn_id) is None:
        return None
    return connection_url(conn_id)


def warehouse_url_for(settings: Settings, task: Any = None) -> str:
    """The warehouse a callback reads: the task's ``warehouse_conn_id`` connection, else MCQ_WAREHOUSE_URL,
    else the ``mcq_warehouse`` connection, else the embedded dev server."""
    conn_id = getattr(task, "warehouse_conn_id", None)
    if isinstance(conn_id, str) and conn_id and (url := _airflow_conn_url(conn_id)):
        return url
    if settings.warehouse_url:
        return settings.warehouse_url
    if url := _airflow_conn_url(DEFAULT_WAREHOUSE_CONN_ID):
        return url
    from mcq_analytics.connections import resolve_databases

    return resolve_databases(settings).warehouse_url


def _info_from_context(context: dict[str, Any], settings: Settings, failed: bool) -> RunInfo:
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None)
    task_id = getattr(ti, "task_id", None)
    run_id = getattr(ti, "run_id", None) or context.get("run_id")
    log_url = None
    if dag_id and task_id and run_id:
        log_url = task_log_url(settings.airflow_base_url, dag_id, run_id, task_id, getattr(ti, "try_number", None),
                               getattr(ti, "map_index", None))
    window = window_or_none(context.get("data_interval_start"), context.get("data_interval_end"))
    error = None
    if failed and (exc := context.get("exception")) is not None:
        error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return RunInfo(settings.env, window, error, dag_id, task_id, run_id, log_url)


def _record_orphan(warehouse_url: str, pipeline: str, info: RunInfo, try_number: int | None) -> bool:
    """Count the final attempt if it died before ``finish_run``; its run-log id follows the operators'
    convention (``airflow.support.run_id_for``)."""
    if not (info.dag_id and info.run_id and try_number):
        return False
    return record_orphaned_attempt(warehouse_url, pipeline, run_id_for(pipeline, info.dag_id, info.run_id, try_number),
                                   info.error)


def _callback(context: dict[str, Any], failed: bool) -> NoticeReport | None:
    try:
        task = context.get("task") or getattr(context.get("ti"), "task", None)
        pipeline = pipeline_of(task, context)
        if pipeline is None:
            log.warning("alert callback: cannot tell which pipeline task %r builds; no alert decision made",
                        getattr(task, "task_id", None))
            return None
        settings = load_settings(os.environ.get("MCQ_ENV", "dev"))
        info = _info_from_context(context, settings, failed)
        warehouse_url = warehouse_url_for(settings, task)
        if failed:
            ti = context.get("ti") or context.get("task_instance")
            if getattr(task, "pipeline", None) == pipeline:  # the build task itself, not a check of its group
                _record_orphan(warehouse_url, pipeline, info, getattr(ti, "try_number", None))
            return notify_failure(settings, warehouse_url, pipeline, info)
        return notify_success(settings, warehouse_url, pipeline, info)
    except Exception:
        log.exception("alert callback failed (the task's own state is unchanged)")
        return None


def on_task_failure(context: dict[str, Any]) -> None:
    """Task-level ``on_failure_callback`` (final failures only; retries call ``on_retry_callback``).

    Runs after the task's ``finish_run(final=True)`` has counted the failure; sends the alert when this
    pipeline's streak reaches the threshold (or a reminder is due). Never raises.
    """
    _callback(context, failed=True)


def on_task_success(context: dict[str, Any]) -> None:
    """Task-level ``on_success_callback``: sends the recovery notice after an alerted failure streak."""
    _callback(context, failed=False)

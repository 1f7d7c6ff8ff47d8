"""Failure alerts and recovery notices (docs/alerting.md): one policy for the Airflow callbacks and run_etl.py.

Policy, per pipeline: when its ``consecutive_failures`` reaches ``Settings.alert_threshold`` ONE alert goes
out; further failures of the same streak send nothing, except a reminder every
``Settings.alert_reminder_every`` further failures when that is > 0; the next success after an alerted
streak sends ONE recovery notice. Retries are not failures (``metadata.finish_run(final=False)`` leaves the
count alone; Airflow calls ``on_failure_callback`` only for the final try).

Who sends is decided in the warehouse, under the ``etl_metadata`` row lock, in columns this module owns
(``alerted_failures``, ``alerted_at``, ``alert_streak_failures``), so concurrent callers never send two
alerts for one streak and never none. The decision reads the count from the database, not from the
caller, so a caller whose own failure was not the one that crossed the threshold still sees the latest
count.

Channels are the Airflow providers' hooks: ``SlackWebhookHook`` (connection ``Settings.slack_conn_id``,
a Slack *incoming webhook*) and ``SmtpHook`` (``Settings.smtp_conn_id``, to ``Settings.alert_email_to``).
They work outside a task too: the Task SDK then looks connections up in ``AIRFLOW_CONN_*`` environment
variables and any configured secrets backend (not the Airflow metadata database). A channel without a
connection is skipped with one log line; a failing channel is logged and never raises.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.rows import dict_row

from mcq_analytics import metadata
from mcq_analytics.config import Settings
from mcq_analytics.metadata import RunOutcome
from mcq_analytics.redaction import redact, url_secrets
from mcq_analytics.windows import Window

log = logging.getLogger(__name__)

ALERT, REMINDER, RECOVERY = "alert", "reminder", "recovery"
ERROR_LINES = 12
ERROR_CHARS = 1500
MAX_WINDOWS = 10
DEFAULT_WAREHOUSE_CONN_ID = "mcq_warehouse"

def first_lines(text: str | None, lines: int = ERROR_LINES, chars: int = ERROR_CHARS) -> str:
    if not text:
        return ""
    kept = text.strip().splitlines()
    out = "\n".join(kept[:lines])
    if len(out) > chars:
        out = out[:chars].rstrip()
    if len(kept) > lines or len(out) < len("\n".join(kept[:lines])):
        out += "\n…"
    return out


# --------------------------------------------------------------------------------------------- the policy


@dataclass(frozen=True)
class AlertClaim:
    """A notice this caller won the right to send (the database already records it as sent)."""

    kind: str  # ALERT, REMINDER or RECOVERY
    pipeline: str
    consecutive_failures: int  # at the claim; for RECOVERY the length of the streak that ended
    last_error: str | None
    last_window: Window | None
    failed_windows: tuple[Window, ...] = ()
    more_failed_windows: int = 0
    previous_alerted: int | None = None  # for releasing the claim
    previous_alerted_at: datetime | None = None


def decide(consecutive: int, alerted: int | None, threshold: int, reminder_every: int) -> str | None:
    """What a failure with ``consecutive`` failures in a row sends, given the count already alerted at."""
    if consecutive < max(threshold, 1):
        return None
    if alerted is None:
        return ALERT
    if reminder_every > 0 and consecutive >= alerted + reminder_every:
        return REMINDER
    return None


def _window(start: datetime | None, end: datetime | None) -> Window | None:
    try:
        return Window(start, end) if start and end else None
    except ValueError:
        return None


def _failed_windows(conn: psycopg.Connection, pipeline: str) -> tuple[list[Window], int]:
    """Distinct windows of the failed attempts since the pipeline's last success (retries included)."""
    rows = conn.execute(
        """
        SELECT DISTINCT window_start, window_end
          FROM analytics.etl_run_log
         WHERE pipeline_name = %(p)s AND status = 'failed'
           AND started_at > coalesce((SELECT max(started_at) FROM analytics.etl_run_log
                                       WHERE pipeline_name = %(p)s AND status = 'success'), '-infinity')
         ORDER BY window_start DESC, window_end DESC
        """,
        {"p": pipeline},
    ).fetchall()
    windows = [w for w in (_window(r["window_start"], r["window_end"]) for r in rows) if w]
    return sorted(windows[:MAX_WINDOWS]), max(len(windows) - MAX_WINDOWS, 0)


def _lock_row(conn: psycopg.Connection, pipeline: str) -> dict[str, Any] | None:
    return conn.execute(
        """
        SELECT consecutive_failures, alerted_failures, alerted_at, alert_streak_failures, status, last_error,
               last_window_start, last_window_end,
               (SELECT max(finished_at) FROM analytics.etl_run_log
                 WHERE pipeline_name = m.pipeline_name AND status = 'success') AS last_success_at
          FROM analytics.etl_metadata m
         WHERE pipeline_name = %s
           FOR UPDATE
        """,
        (pipeline,),
    ).fetchone()


def _stale(row: dict[str, Any]) -> bool:
    """The recorded alert belongs to an earlier streak whose recovery notice never went out."""
    if row["alerted_failures"] is None:
        return False
    if row["consecutive_failures"] < row["alerted_failures"]:
        return True
    return bool(row["alerted_at"] and row["last_success_at"] and row["last_success_at"] > row["alerted_at"])


def claim_failure_notice(warehouse_url: str, pipeline: str, threshold: int,
                         reminder_every: int = 0) -> AlertClaim | None:
    """After a final failure: atomically decide whether this caller sends an alert or a reminder."""
    with psycopg.connect(warehouse_url, row_factory=dict_row) as conn:
        row = _lock_row(conn, pipeline)
        if row is None:
            return None
        alerted = None if _stale(row) else row["alerted_failures"]
        count = row["consecutive_failures"]
        kind = decide(count, alerted, threshold, reminder_every)
        if kind is None:
            if alerted is None and row["alerted_failures"] is not None:
                log.warning("%s: clearing the alert record of an earlier streak (its recovery was not sent)",
                            pipeline)
                conn.execute("UPDATE analytics.etl_metadata SET alerted_failures = NULL, alerted_at = NULL, "
                             "alert_streak_failures = NULL WHERE pipeline_name = %s", (pipeline,))
            elif alerted is not None and count > (row["alert_streak_failures"] or 0):
                conn.execute("UPDATE analytics.etl_metadata SET alert_streak_failures = %s WHERE pipeline_name = %s",
                             (count, pipeline))
            return None
        conn.execute(
            """
            UPDATE analytics.etl_metadata
               SET alerted_failures = consecutive_failures, alerted_at = now(),
                   alert_streak_failures = consecutive_failures
             WHERE pipeline_name = %s
            """,
            (pipeline,),
        )
        windows, more = _failed_windows(conn, pipeline)
        return AlertClaim(kind, pipeline, count, row["last_error"],
                          _window(row["last_window_start"], row["last_window_end"]), tuple(windows), more,
                          previous_alerted=alerted, previous_alerted_at=None if alerted is None else row["alerted_at"])


def claim_recovery_notice(warehouse_url: str, pipeline: str, previous_failures: int | None = None) -> AlertClaim | None:
    """After a success: atomically decide whether this caller sends the recovery notice of an alerted streak."""
    with psycopg.connect(warehouse_url, row_factory=dict_row) as conn:
        row = _lock_row(conn, pipeline)
        if row is None or row["alerted_failures"] is None or row["consecutive_failures"] != 0:
            return None
        conn.execute("UPDATE analytics.etl_metadata SET alerted_failures = NULL, alerted_at = NULL, "
                     "alert_streak_failures = NULL WHERE pipeline_name = %s", (pipeline,))
        streak = max(previous_failures or 0, row["alert_streak_failures"] or 0, row["alerted_failures"])
        return AlertClaim(RECOVERY, pipeline, streak, row["last_error"],
                          _window(row["last_window_start"], row["last_window_end"]),
                          previous_alerted=row["alerted_failures"], previous_alerted_at=row["alerted_at"])


def release_claim(warehouse_url: str, claim: AlertClaim) -> None:
    """Give a failure notice back when no channel delivered it, so the next failure tries again."""
    if claim.kind == RECOVERY:
        return
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(
            """
            UPDATE analytics.etl_metadata
               SET alerted_failures = %s, alerted_at = %s,
                   alert_streak_failures = CASE WHEN %s::int IS NULL THEN NULL ELSE alert_streak_failures END
             WHERE pipeline_name = %s AND alerted_failures = %s
            """,
            (claim.previous_alerted, claim.previous_alerted_at, claim.previous_alerted, claim.pipeline,
             claim.consecutive_failures),
        )


# --------------------------------------------------------------------------------------------- the message


@dataclass(frozen=True)
class RunInfo:
    """Where the run happened: Airflow (dag/task/run/log link) or run_etl.py (host)."""

    env: str
    window: Window | None = None
    error: str | None = None
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    log_url: str | None = None


@dataclass(frozen=True)
class AlertMessage:
    subject: str
    text: str  # Slack mrkdwn
    html: str  # e-mail body
    fields: dict[str, str] = field(default_factory=dict)  # the plain facts, in order


def task_log_url(base_url: str, dag_id: str, run_id: str, task_id: str, try_number: int | None = None,
                 map_index: int | None = None) -> str:
    """The Airflow 3 UI page of a task try (the path ``TaskInstance.log_url`` builds)."""
    url = f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id)}"
    if map_index is not None and map_index >= 0:
        url += f"/mapped/{map_index}"
    if try_number:
        url += f"?try_number={try_number}"
    return url


def build_message(claim: AlertClaim, info: RunInfo, threshold: int, reminder_every: int = 0,
                  secrets: Iterable[str | None] = ()) -> AlertMessage:
    """The one message both channels and both entry points send (already redacted)."""
    secrets = list(secrets)
    env = info.env
    if claim.kind == RECOVERY:
        subject = f"[MCQ {env}] RECOVERED {claim.pipeline} after {claim.consecutive_failures} consecutive failures"
        headline = f"✅ MCQ pipeline `{claim.pipeline}` recovered ({env})"
    else:
        what = "REMINDER" if claim.kind == REMINDER else "ALERT"
        subject = f"[MCQ {env}] {what} {claim.pipeline}: {claim.consecutive_failures} consecutive failures"
        headline = (f"🚨 MCQ pipeline `{claim.pipeline}` has failed {claim.consecutive_failures} times in a row ({env})"
                    + (" — reminder" if claim.kind == REMINDER else ""))
    where = (f"{info.dag_id} / {info.task_id}" if info.dag_id
             else f"run_etl.py on {socket.gethostname()} (outside Airflow)")
    fields: dict[str, str] = {"Pipeline": claim.pipeline, "DAG / task": where, "Environment": env}
    if info.run_id:
        fields["Run"] = info.run_id
    if claim.kind == RECOVERY:
        window = info.window or claim.last_window
        fields["Succeeded window"] = str(window) if window else "unknown"
        fields["Failure streak"] = f"{claim.consecutive_failures} consecutive failures, now reset to 0"
    else:
        windows = list(claim.failed_windows) or [w for w in (info.window, claim.last_window) if w][:1]
        text = ", ".join(map(str, windows)) or "unknown"
        if claim.more_failed_windows:
            text += f" and {claim.more_failed_windows} earlier"
        fields["Failed window(s)"] = text
        policy = f"alert threshold {threshold}"
        policy += f", reminder every {reminder_every} further failures" if reminder_every > 0 else ", no reminders"
        fields["Consecutive failures"] = f"{claim.consecutive_failures} ({policy})"
    fields["Log"] = info.log_url or "run_etl.py output (no Airflow task)"
    error = "" if claim.kind == RECOVERY else redact(first_lines(info.error or claim.last_error), secrets)

    def slack_escape(value: str) -> str:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    lines = [f"*{slack_escape(headline)}*"]
    for name, value in fields.items():
        if name == "Log" and info.log_url:
            lines.append(f"*{name}:* <{info.log_url}|task log in the Airflow UI>")
        else:
            lines.append(f"*{name}:* {slack_escape(value)}")
    if error:
        lines.append("*Last error:*\n```" + slack_escape(error).replace("```", "'''") + "```")
    body = ["<html><body>", f"<p><b>{html.escape(headline)}</b></p>", "<table>"]
    for name, value in fields.items():
        shown = (f'<a href="{html.escape(value)}">{html.escape(value)}</a>' if name == "Log" and info.log_url
                 else html.escape(value))
        body.append(f"<tr><th align='left'>{html.escape(name)}</th><td>{shown}</td></tr>")
    body.append("</table>")
    if error:
        body.append(f"<p><b>Last error:</b></p><pre>{html.escape(error)}</pre>")
    body.append("</body></html>")
    if error:
        fields["Last error"] = error
    return AlertMessage(subject=redact(subject, secrets), text="\n".join(lines), html="\n".join(body), fields=fields)


# --------------------------------------------------------------------------------------------- channels

SENT, SKIPPED, FAILED = "sent", "skipped", "failed"


def _providers() -> Any:
    """The providers' hooks, imported on first use.

    In a plain process (run_etl.py) the first Airflow import configures logging for Airflow: it replaces
    the root logger's handlers with one writing to stdout, which would move every later log line of
    run_etl.py into its progress output. Outside Airflow the caller's logging set-up is therefore kept.
    """
    if "airflow" in sys.modules:  # inside Airflow, or already imported: nothing to protect
        return _import_providers()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return _import_providers()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _import_providers() -> Any:
    from types import SimpleNamespace

    from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    return SimpleNamespace(AirflowNotFoundException=AirflowNotFoundException, BaseHook=BaseHook,
                           SlackWebhookHook=SlackWebhookHook, SmtpHook=SmtpHook)


def _connection(conn_id: str) -> Any | None:
    """The Airflow connection, or None when it is not defined anywhere the Task SDK looks."""
    airflow = _providers()
    try:
        return airflow.BaseHook.get_connection(conn_id)
    except airflow.AirflowNotFoundException:
        return None


def send_slack(message: AlertMessage, conn_id: str) -> str:
    try:
        if _connection(conn_id) is None:
            log.info("alert channel Slack skipped: no Airflow connection %r is defined", conn_id)
            return SKIPPED
        _providers().SlackWebhookHook(slack_webhook_conn_id=conn_id).send(text=message.text, unfurl_links=False)
        log.info("alert sent to Slack (%s): %s", conn_id, message.subject)
        return SENT
    except Exception as exc:  # a failing channel never hides the run's own error
        log.error("alert channel Slack (%s) failed: %s: %s", conn_id, type(exc).__name__,
                  redact(first_lines(str(exc), 3, 500)))
        return FAILED


def send_email(message: AlertMessage, conn_id: str, to: str | None) -> str:
    try:
        if not to:
            log.info("alert channel e-mail skipped: MCQ_ALERT_EMAIL_TO is not set")
            return SKIPPED
        conn = _connection(conn_id)
        if conn is None:
            log.info("alert channel e-mail skipped: no Airflow connection %r is defined", conn_id)
            return SKIPPED
        sender = None if conn.extra_dejson.get("from_email") else f"mcq-analytics@{socket.getfqdn()}"
        with _providers().SmtpHook(smtp_conn_id=conn_id) as smtp:
            smtp.send_email_smtp(to=to, subject=message.subject, html_content=message.html, from_email=sender)
        log.info("alert e-mailed to %s (%s): %s", to, conn_id, message.subject)
        return SENT
    except Exception as exc:
        log.error("alert channel e-mail (%s) failed: %s: %s", conn_id, type(exc).__name__,
                  redact(first_lines(str(exc), 3, 500)))
        return FAILED


def deliver(message: AlertMessage, settings: Settings) -> dict[str, str]:
    """Send on every channel; returns ``{"slack": status, "email": status}``. Never raises."""
    return {"slack": send_slack(message, settings.slack_conn_id),
            "email": send_email(message, settings.smtp_conn_id, settings.alert_email_to)}


# --------------------------------------------------------------------------------------------- entry points


@dataclass(frozen=True)
class NoticeReport:
    claim: AlertClaim
    message: AlertMessage
    channels: dict[str, str]


def _notify(claim: AlertClaim | None, info: RunInfo, settings: Settings, warehouse_url: str) -> NoticeReport | None:
    if claim is None:
        return None
    secrets = url_secrets(warehouse_url, settings.source_url, settings.warehouse_url)
    message = build_message(claim, info, settings.alert_threshold, settings.alert_reminder_every, secrets)
    channels = deliver(message, settings)
    if claim.kind != RECOVERY and SENT not in channels.values() and FAILED in channels.values():
        log.warning("%s: no channel delivered the %s; the next failure will try again", claim.pipeline, claim.kind)
        release_claim(warehouse_url, claim)
    return NoticeReport(claim, message, channels)


def notify_failure(settings: Settings, warehouse_url: str, pipeline: str, info: RunInfo) -> NoticeReport | None:
    return _notify(claim_failure_notice(warehouse_url, pipeline, settings.alert_threshold,
                                        settings.alert_reminder_every), info, settings, warehouse_url)


def notify_success(settings: Settings, warehouse_url: str, pipeline: str, info: RunInfo,
                   previous_failures: int | None = None) -> NoticeReport | None:
    return _notify(claim_recovery_notice(warehouse_url, pipeline, previous_failures), info, settings, warehouse_url)


def notify_after_run(outcome: RunOutcome, settings: Settings, warehouse_url: str, *, window: Window | None = None,
                     error: str | None = None, dag_id: str | None = None, task_id: str | None = None,
                     run_id: str | None = None, log_url: str | None = None) -> NoticeReport | None:
    """Apply the alert policy to what ``metadata.finish_run`` just recorded (run_etl.py calls this per result).

    Never raises: an alerting problem is logged and the caller's own outcome stands.
    """
    try:
        info = RunInfo(settings.env, window, error, dag_id, task_id, run_id, log_url)
        if outcome.status == "success":
            return notify_success(settings, warehouse_url, outcome.pipeline, info, outcome.previous_failures)
        if outcome.consecutive_failures <= outcome.previous_failures:
            return None  # a retried attempt (final=False): not a failure of the pipeline
        return notify_failure(settings, warehouse_url, outcome.pipeline, info)
    except Exception:
        log.exception("%s: alerting after the run failed (the run's own outcome is unchanged)", outcome.pipeline)
        return None


# --------------------------------------------------------------------------------------------- Airflow callbacks


def pipeline_of(task: Any, context: dict[str, Any] | None = None, known: Sequence[str] | None = None) -> str | None:
    """The pipeline (fact table) a task builds: its ``pipeline`` attribute, its ``params['pipeline']``, else
    the task-group or task-id segment that names a fact table."""
    if known is None:
        from mcq_analytics.pipeline import PIPELINES as known
    value = getattr(task, "pipeline", None)
    if isinstance(value, str) and value:
        return value
    for params in ((context or {}).get("params"), getattr(task, "params", None)):
        try:
            value = params.get("pipeline") if params is not None else None
        except Exception:
            value = None
        if isinstance(value, str) and value:
            return value
    group = getattr(task, "task_group", None)
    candidates = [getattr(group, "group_id", None), getattr(task, "task_id", None)]
    for candidate in candidates:
        for part in reversed((candidate or "").split(".")):
            if part in known:
                return part
    return None


def _airflow_conn_url(conn_id: str) -> str | None:
    """The libpq URL of an Airflow PostgreSQL connection (as the operators resolve it), None if undefined."""
    conn = _connection(conn_id)
    if conn is None:
        return None
    try:
        from mcq_analytics.airflow_support import connection_url
    except ImportError:  # pragma: no cover - the operators' module is part of the package
        pass
    else:
        return connection_url(conn_id)
    auth = ""
    if conn.login:
        auth = quote(conn.login, safe="") + (f":{quote(conn.password, safe='')}" if conn.password else "") + "@"
    port = f":{conn.port}" if conn.port else ""
    return f"postgresql://{auth}{conn.host or 'localhost'}{port}/{quote(conn.schema or '', safe='')}"


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


def _load_settings() -> Settings:
    from mcq_analytics.config import load_settings

    return load_settings(os.environ.get("MCQ_ENV", "dev"))


def _info_from_context(context: dict[str, Any], settings: Settings, failed: bool) -> RunInfo:
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None)
    task_id = getattr(ti, "task_id", None)
    run_id = getattr(ti, "run_id", None) or context.get("run_id")
    log_url = None
    if dag_id and task_id and run_id:
        log_url = task_log_url(settings.airflow_base_url, dag_id, run_id, task_id, getattr(ti, "try_number", None),
                               getattr(ti, "map_index", None))
    window = _window(context.get("data_interval_start"), context.get("data_interval_end"))
    error = None
    if failed and (exc := context.get("exception")) is not None:
        error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return RunInfo(settings.env, window, error, dag_id, task_id, run_id, log_url)


ORPHAN_ERROR = "the task ended without recording its result (killed, timed out or its worker was lost)"


def record_orphaned_attempt(warehouse_url: str, pipeline: str, info: RunInfo, try_number: int | None) -> bool:
    """Count a final attempt whose task died before ``finish_run`` (e.g. ``AirflowTaskTimeout``, a
    ``BaseException`` that ``run_pandas_window`` does not catch, or a worker lost mid-run).

    The attempt's run-log id follows the operators' convention (``airflow_support.run_id_for``); only a row
    still ``running`` is closed, by one conditional UPDATE, so the failure is counted at most once.
    """
    try:
        from mcq_analytics.airflow_support import run_id_for
    except ImportError:  # pragma: no cover - the operators' module is part of the package
        return False
    if not (info.dag_id and info.run_id and try_number):
        return False
    run_id = run_id_for(pipeline, info.dag_id, info.run_id, try_number)
    error = f"{info.error or ORPHAN_ERROR}"
    with psycopg.connect(warehouse_url) as conn:
        row = conn.execute(
            "UPDATE analytics.etl_run_log SET status = 'failed', finished_at = now(), error = %s"
            " WHERE run_id = %s AND status = 'running' RETURNING window_start, window_end",
            (error[: metadata.MAX_ERROR_CHARS], run_id),
        ).fetchone()
    if row is None:
        return False
    log.warning("%s: attempt %s ended without bookkeeping; recording it as a failure", pipeline, run_id)
    metadata.finish_run(warehouse_url, pipeline, Window(row[0], row[1]), run_id, error=error, final=True)
    return True


def _callback(context: dict[str, Any], failed: bool) -> NoticeReport | None:
    try:
        task = context.get("task") or getattr(context.get("ti"), "task", None)
        pipeline = pipeline_of(task, context)
        if pipeline is None:
            log.warning("alert callback: cannot tell which pipeline task %r builds; no alert decision made",
                        getattr(task, "task_id", None))
            return None
        settings = _load_settings()
        info = _info_from_context(context, settings, failed)
        warehouse_url = warehouse_url_for(settings, task)
        if failed:
            ti = context.get("ti") or context.get("task_instance")
            if getattr(task, "pipeline", None) == pipeline:  # the build task itself, not a check of its group
                record_orphaned_attempt(warehouse_url, pipeline, info, getattr(ti, "try_number", None))
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

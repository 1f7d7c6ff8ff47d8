"""The one alert message both channels and both entry points send: subject, Slack text and e-mail HTML, redacted.

Pure functions of an ``AlertClaim`` and where the run happened (``RunInfo``); nothing here touches a database
or a channel.
"""

from __future__ import annotations

import html
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

from mcq_analytics.alerts.policy import RECOVERY, REMINDER, AlertClaim
from mcq_analytics.redaction import redact
from mcq_analytics.windows import Window

ERROR_LINES = 12
ERROR_CHARS = 1500


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
    """What a channel sends: the subject, the Slack mrkdwn text, the e-mail HTML and the plain facts in order."""

    subject: str
    text: str  # Slack mrkdwn
    html: str  # e-mail body
    fields: dict[str, str] = field(default_factory=dict)  # the plain facts, in order


def first_lines(text: str | None, lines: int = ERROR_LINES, chars: int = ERROR_CHARS) -> str:
    """The head of an error (a traceback can be long): at most ``lines`` lines and ``chars`` characters."""
    if not text:
        return ""
    kept = text.strip().splitlines()
    out = "\n".join(kept[:lines])
    if len(out) > chars:
        out = out[:chars].rstrip()
    if len(kept) > lines or len(out) < len("\n".join(kept[:lines])):
        out += "\n…"
    return out


def task_log_url(base_url: str, dag_id: str, run_id: str, task_id: str, try_number: int | None = None,
                 map_index: int | None = None) -> str:
    """The Airflow 3 UI page of a task try (the path ``TaskInstance.log_url`` builds)."""
    url = f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id)}"
    if map_index is not None and map_index >= 0:
        url += f"/mapped/{map_index}"
    if try_number:
        url += f"?try_number={try_number}"
    return url


def _subject_and_headline(claim: AlertClaim, env: str) -> tuple[str, str]:
    if claim.kind == RECOVERY:
        return (f"[MCQ {env}] RECOVERED {claim.pipeline} after {claim.consecutive_failures} consecutive failures",
                f"✅ MCQ pipeline `{claim.pipeline}` recovered ({env})")
    what = "REMINDER" if claim.kind == REMINDER else "ALERT"
    return (f"[MCQ {env}] {what} {claim.pipeline}: {claim.consecutive_failures} consecutive failures",
            f"🚨 MCQ pipeline `{claim.pipeline}` has failed {claim.consecutive_failures} times in a row ({env})"
            + (" — reminder" if claim.kind == REMINDER else ""))


def _failed_windows_text(claim: AlertClaim, info: RunInfo) -> str:
    windows = list(claim.failed_windows) or [w for w in (info.window, claim.last_window) if w][:1]
    text = ", ".join(map(str, windows)) or "unknown"
    if claim.more_failed_windows:
        text += f" and {claim.more_failed_windows} earlier"
    return text


def _fields(claim: AlertClaim, info: RunInfo, threshold: int, reminder_every: int) -> dict[str, str]:
    """The plain facts of the message, in the order both channels show them."""
    where = (f"{info.dag_id} / {info.task_id}" if info.dag_id
             else f"run_etl.py on {socket.gethostname()} (outside Airflow)")
    fields: dict[str, str] = {"Pipeline": claim.pipeline, "DAG / task": where, "Environment": info.env}
    if info.run_id:
        fields["Run"] = info.run_id
    if claim.kind == RECOVERY:
        window = info.window or claim.last_window
        fields["Succeeded window"] = str(window) if window else "unknown"
        fields["Failure streak"] = f"{claim.consecutive_failures} consecutive failures, now reset to 0"
    else:
        fields["Failed window(s)"] = _failed_windows_text(claim, info)
        policy = f"alert threshold {threshold}"
        policy += f", reminder every {reminder_every} further failures" if reminder_every > 0 else ", no reminders"
        fields["Consecutive failures"] = f"{claim.consecutive_failures} ({policy})"
    fields["Log"] = info.log_url or "run_etl.py output (no Airflow task)"
    return fields


def _slack_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_text(headline: str, fields: dict[str, str], log_url: str | None, error: str) -> str:
    lines = [f"*{_slack_escape(headline)}*"]
    for name, value in fields.items():
        if name == "Log" and log_url:
            lines.append(f"*{name}:* <{log_url}|task log in the Airflow UI>")
        else:
            lines.append(f"*{name}:* {_slack_escape(value)}")
    if error:
        lines.append("*Last error:*\n```" + _slack_escape(error).replace("```", "'''") + "```")
    return "\n".join(lines)


def _html_body(headline: str, fields: dict[str, str], log_url: str | None, error: str) -> str:
    body = ["<html><body>", f"<p><b>{html.escape(headline)}</b></p>", "<table>"]
    for name, value in fields.items():
        shown = (f'<a href="{html.escape(value)}">{html.escape(value)}</a>' if name == "Log" and log_url
                 else html.escape(value))
        body.append(f"<tr><th align='left'>{html.escape(name)}</th><td>{shown}</td></tr>")
    body.append("</table>")
    if error:
        body.append(f"<p><b>Last error:</b></p><pre>{html.escape(error)}</pre>")
    body.append("</body></html>")
    return "\n".join(body)


def build_message(claim: AlertClaim, info: RunInfo, threshold: int, reminder_every: int = 0,
                  secrets: Iterable[str | None] = ()) -> AlertMessage:
    """The one message both channels and both entry points send (already redacted)."""
    secrets = list(secrets)
    subject, headline = _subject_and_headline(claim, info.env)
    fields = _fields(claim, info, threshold, reminder_every)
    error = "" if claim.kind == RECOVERY else redact(first_lines(info.error or claim.last_error), secrets)
    text = _slack_text(headline, fields, info.log_url, error)
    body = _html_body(headline, fields, info.log_url, error)
    if error:
        fields["Last error"] = error
    return AlertMessage(subject=redact(subject, secrets), text=text, html=body, fields=fields)

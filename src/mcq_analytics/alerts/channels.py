"""Delivery channels: small notifier-style classes over the Airflow providers' hooks.

``SlackChannel`` posts to a Slack *incoming webhook* through ``SlackWebhookHook``; ``EmailChannel`` mails
through ``SmtpHook``. Each ``send(message)`` returns ``SENT``, ``SKIPPED`` (no connection, or no recipient:
one INFO line) or ``FAILED`` (one ERROR line, redacted) and never raises, so a failing channel never hides
the run's own error. The hooks work outside a task too: the Task SDK then looks connections up in
``AIRFLOW_CONN_*`` environment variables and any configured secrets backend (not the Airflow metadata
database).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

from mcq_analytics.alerts.message import AlertMessage, first_lines
from mcq_analytics.config import Settings
from mcq_analytics.redaction import redact

log = logging.getLogger("mcq_analytics.alerts")

SENT, SKIPPED, FAILED = "sent", "skipped", "failed"


def providers(kind: str = "base") -> SimpleNamespace:
    """The Airflow classes one use needs, imported on first use: ``"base"`` (connection look-up), ``"slack"``
    or ``"smtp"`` (the provider hooks). Looking a connection up must not import the Slack SDK: every build
    task's success callback does it, and sending is rare.

    In a plain process (run_etl.py) the first Airflow import configures logging for Airflow: it replaces
    the root logger's handlers with one writing to stdout, which would move every later log line of
    run_etl.py into its progress output. Outside Airflow the caller's logging set-up is therefore kept.
    """
    if "airflow" in sys.modules:  # inside Airflow, or already imported: nothing to protect
        return _IMPORTS[kind]()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return _IMPORTS[kind]()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _import_base() -> SimpleNamespace:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    return SimpleNamespace(AirflowNotFoundException=AirflowNotFoundException, BaseHook=BaseHook)


def _import_slack() -> SimpleNamespace:
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    return SimpleNamespace(SlackWebhookHook=SlackWebhookHook)


def _import_smtp() -> SimpleNamespace:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    return SimpleNamespace(SmtpHook=SmtpHook)


_IMPORTS: dict[str, Callable[[], SimpleNamespace]] = {"base": _import_base, "slack": _import_slack,
                                                      "smtp": _import_smtp}


def connection(conn_id: str) -> Any | None:
    """The Airflow connection, or None when it is not defined anywhere the Task SDK looks."""
    airflow = providers()
    try:
        return airflow.BaseHook.get_connection(conn_id)
    except airflow.AirflowNotFoundException:
        return None


class Channel:
    """One way of delivering an ``AlertMessage``; subclasses implement ``_send`` (SENT or SKIPPED)."""

    key: ClassVar[str]  # its name in ``deliver``'s result
    label: ClassVar[str]  # its name in log lines
    conn_id: str

    def send(self, message: AlertMessage) -> str:
        """Deliver ``message``: ``SENT``, ``SKIPPED`` or ``FAILED``. Never raises."""
        try:
            return self._send(message)
        except Exception as exc:  # a failing channel never hides the run's own error
            log.error("alert channel %s (%s) failed: %s: %s", self.label, self.conn_id, type(exc).__name__,
                      redact(first_lines(str(exc), 3, 500)))
            return FAILED

    def _send(self, message: AlertMessage) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class SlackChannel(Channel):
    """A Slack incoming webhook (connection type ``slackwebhook``) through ``SlackWebhookHook``."""

    conn_id: str
    key: ClassVar[str] = "slack"
    label: ClassVar[str] = "Slack"

    def _send(self, message: AlertMessage) -> str:
        if connection(self.conn_id) is None:
            log.info("alert channel Slack skipped: no Airflow connection %r is defined", self.conn_id)
            return SKIPPED
        hook = providers("slack").SlackWebhookHook(slack_webhook_conn_id=self.conn_id)
        hook.send(text=message.text, unfurl_links=False)
        log.info("alert sent to Slack (%s): %s", self.conn_id, message.subject)
        return SENT


@dataclass(frozen=True)
class EmailChannel(Channel):
    """E-mail to ``to`` (comma-separated) through ``SmtpHook``; the sender is the connection's ``from_email``
    extra, else ``mcq-analytics@<this host's FQDN>``."""

    conn_id: str
    to: str | None
    key: ClassVar[str] = "email"
    label: ClassVar[str] = "e-mail"

    def _send(self, message: AlertMessage) -> str:
        if not self.to:
            log.info("alert channel e-mail skipped: MCQ_ALERT_EMAIL_TO is not set")
            return SKIPPED
        conn = connection(self.conn_id)
        if conn is None:
            log.info("alert channel e-mail skipped: no Airflow connection %r is defined", self.conn_id)
            return SKIPPED
        sender = None if conn.extra_dejson.get("from_email") else f"mcq-analytics@{socket.getfqdn()}"
        with providers("smtp").SmtpHook(smtp_conn_id=self.conn_id) as smtp:
            smtp.send_email_smtp(to=self.to, subject=message.subject, html_content=message.html, from_email=sender)
        log.info("alert e-mailed to %s (%s): %s", self.to, self.conn_id, message.subject)
        return SENT


def channels_for(settings: Settings) -> list[Channel]:
    """The configured channels, in the order they are tried."""
    return [SlackChannel(settings.slack_conn_id), EmailChannel(settings.smtp_conn_id, settings.alert_email_to)]


def deliver(message: AlertMessage, settings: Settings) -> dict[str, str]:
    """Send on every channel; returns ``{"slack": status, "email": status}``. Never raises."""
    return {channel.key: channel.send(message) for channel in channels_for(settings)}

"""Failure alerts and recovery notices (docs/alerting.md): one policy for the Airflow callbacks and run_etl.py.

Policy, per pipeline: when its ``consecutive_failures`` reaches ``Settings.alert_threshold`` ONE alert goes
out; further failures of the same streak send nothing, except a reminder every
``Settings.alert_reminder_every`` further failures when that is > 0; the next success after an alerted
streak sends ONE recovery notice. Retries are not failures (``metadata.finish_run(final=False)`` leaves the
count alone; Airflow calls ``on_failure_callback`` only for the final try).

- ``policy``: the atomic claim under the ``etl_metadata`` row lock (who sends; never two, never none);
- ``message``: the one redacted message (subject, Slack text, e-mail HTML) of a claim;
- ``channels``: ``SlackChannel`` and ``EmailChannel`` over the providers' hooks (``deliver`` tries both);
- ``notify``: claim → message → channels for a finished run (``notify_after_run`` for run_etl.py).

The Airflow callbacks (``on_task_failure``, ``on_task_success``) are in ``mcq_analytics.airflow.callbacks``.
Every module logs to the one logger ``mcq_analytics.alerts``.
"""

from mcq_analytics.alerts.channels import FAILED, SENT, SKIPPED, EmailChannel, SlackChannel, deliver
from mcq_analytics.alerts.message import AlertMessage, RunInfo, build_message, first_lines, task_log_url
from mcq_analytics.alerts.notify import NoticeReport, notify_after_run, notify_failure, notify_success
from mcq_analytics.alerts.policy import (
    ALERT,
    RECOVERY,
    REMINDER,
    AlertClaim,
    claim_failure_notice,
    claim_recovery_notice,
    decide,
    record_orphaned_attempt,
    release_claim,
)
from mcq_analytics.redaction import redact, url_secrets

__all__ = [
    "ALERT", "FAILED", "RECOVERY", "REMINDER", "SENT", "SKIPPED", "AlertClaim", "AlertMessage", "EmailChannel",
    "NoticeReport", "RunInfo", "SlackChannel", "build_message", "claim_failure_notice", "claim_recovery_notice",
    "decide", "deliver", "first_lines", "notify_after_run", "notify_failure", "notify_success",
    "record_orphaned_attempt", "redact", "release_claim", "task_log_url", "url_secrets",
]

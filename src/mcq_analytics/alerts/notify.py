"""The alert entry point of a finished run: claim (policy) → message → channels, and the claim given back
when no channel delivered a failure notice. ``run_etl.py`` calls ``notify_after_run``; the Airflow callbacks
(``mcq_analytics.airflow.callbacks``) call ``notify_failure``/``notify_success``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mcq_analytics.alerts.channels import FAILED, SENT, deliver
from mcq_analytics.alerts.message import AlertMessage, RunInfo, build_message
from mcq_analytics.alerts.policy import (
    RECOVERY,
    AlertClaim,
    claim_failure_notice,
    claim_recovery_notice,
    release_claim,
)
from mcq_analytics.config import Settings
from mcq_analytics.metadata import RunOutcome
from mcq_analytics.redaction import url_secrets
from mcq_analytics.windows import Window

log = logging.getLogger("mcq_analytics.alerts")


@dataclass(frozen=True)
class NoticeReport:
    """A notice that was claimed: what was sent, and each channel's status."""

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
    """After a final failure: send the alert or reminder if this caller claims one."""
    return _notify(claim_failure_notice(warehouse_url, pipeline, settings.alert_threshold,
                                        settings.alert_reminder_every), info, settings, warehouse_url)


def notify_success(settings: Settings, warehouse_url: str, pipeline: str, info: RunInfo,
                   previous_failures: int | None = None) -> NoticeReport | None:
    """After a success: send the recovery notice if this caller claims it."""
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

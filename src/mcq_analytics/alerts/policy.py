"""The alert policy: who sends a failure alert, a reminder or a recovery notice, decided atomically in the warehouse.

Per pipeline: when its ``consecutive_failures`` reaches the threshold ONE alert goes out; further failures of
the same streak send nothing, except a reminder every ``reminder_every`` further failures when that is > 0;
the next success after an alerted streak sends ONE recovery notice.

The decision is taken under the ``etl_metadata`` row lock, in columns this package owns (``alerted_failures``,
``alerted_at``, ``alert_streak_failures``), so concurrent callers never send two alerts for one streak and
never none. It reads the count from the database, not from the caller, so a caller whose own failure was not
the one that crossed the threshold still sees the latest count. A claim is recorded as sent when it is
taken; ``release_claim`` gives it back when no channel delivered it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mcq_analytics import metadata
from mcq_analytics.windows import Window

#: One logger for every alert line (policy, channels, callbacks), so operators filter on one name.
log = logging.getLogger("mcq_analytics.alerts")

ALERT, REMINDER, RECOVERY = "alert", "reminder", "recovery"
MAX_WINDOWS = 10
ORPHAN_ERROR = "the task ended without recording its result (killed, timed out or its worker was lost)"


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


def window_or_none(start: datetime | None, end: datetime | None) -> Window | None:
    """The window of two recorded bounds, None when either is missing or they do not form a window."""
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
    windows = [w for w in (window_or_none(r["window_start"], r["window_end"]) for r in rows) if w]
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


def _note_no_claim(conn: psycopg.Connection, pipeline: str, row: dict[str, Any], alerted: int | None) -> None:
    """Bookkeeping when a failure sends nothing: drop a stale alert record, or remember the streak's length."""
    count = row["consecutive_failures"]
    if alerted is None and row["alerted_failures"] is not None:
        log.warning("%s: clearing the alert record of an earlier streak (its recovery was not sent)", pipeline)
        conn.execute("UPDATE analytics.etl_metadata SET alerted_failures = NULL, alerted_at = NULL, "
                     "alert_streak_failures = NULL WHERE pipeline_name = %s", (pipeline,))
    elif alerted is not None and count > (row["alert_streak_failures"] or 0):
        conn.execute("UPDATE analytics.etl_metadata SET alert_streak_failures = %s WHERE pipeline_name = %s",
                     (count, pipeline))


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
            _note_no_claim(conn, pipeline, row, alerted)
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
                          window_or_none(row["last_window_start"], row["last_window_end"]), tuple(windows), more,
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
                          window_or_none(row["last_window_start"], row["last_window_end"]),
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


def record_orphaned_attempt(warehouse_url: str, pipeline: str, run_log_id: str, error: str | None = None) -> bool:
    """Count a final attempt whose task died before ``finish_run`` (e.g. ``AirflowTaskTimeout``, a
    ``BaseException`` that ``run_pandas_window`` does not catch, or a worker lost mid-run).

    ``run_log_id`` is the attempt's ``etl_run_log.run_id`` (under Airflow ``airflow.support.run_id_for``).
    Only a row still ``running`` is closed, by one conditional UPDATE, so the failure is counted at most once.
    """
    error = error or ORPHAN_ERROR
    with psycopg.connect(warehouse_url) as conn:
        row = conn.execute(
            "UPDATE analytics.etl_run_log SET status = 'failed', finished_at = now(), error = %s"
            " WHERE run_id = %s AND status = 'running' RETURNING window_start, window_end",
            (error[: metadata.MAX_ERROR_CHARS], run_log_id),
        ).fetchone()
    if row is None:
        return False
    log.warning("%s: attempt %s ended without bookkeeping; recording it as a failure", pipeline, run_log_id)
    metadata.finish_run(warehouse_url, pipeline, Window(row[0], row[1]), run_log_id, error=error, final=True)
    return True

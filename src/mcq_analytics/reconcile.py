"""Reconciliation: catch source rows that became visible after their hour was processed.

The settle delay and the look-back of each window's change scan cover ordinary replica lag and long
transactions. Anything later is caught here: when a window is processed, the fingerprint of each source
hour its scan fully covered (row count and an order-independent hash of (table, key, updated_at) per
hour of ``updated_at``) is stored per pipeline in ``analytics.etl_source_hours``, taken *before* the
extract — a row committing in between is in the facts but not the fingerprint, so the hour is merely
reprocessed once more. ``reconcile`` recomputes the fingerprints of the processed hours of a range and
reprocesses every hour whose fingerprint changed, was never recorded, or lost its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from mcq_analytics import metadata
from mcq_analytics.paths import read_sql
from mcq_analytics.windows import HOUR, Window, floor_hour


@dataclass(frozen=True)
class HourPrint:
    hour_start: datetime
    source_rows: int
    max_updated_at: datetime | None
    fingerprint: str


def fingerprint_hours(source_url: str, start: datetime, end: datetime,
                      conn: psycopg.Connection | None = None) -> dict[datetime, HourPrint]:
    """Fingerprints of the source hours in ``[start, end)`` that have change rows (whole hours); ``conn``
    reads them in that connection's open snapshot (a range run's, ``extract.RangeSnapshot``)."""
    if conn is not None:
        with conn.transaction():  # a savepoint in the snapshot's transaction
            rows = conn.execute(read_sql("reconcile/fingerprints.sql"), {"range_start": start, "range_end": end})
            return {r[0]: HourPrint(*r) for r in rows}
    with psycopg.connect(source_url) as own:
        return fingerprint_hours(source_url, start, end, own)


def covered_hours(window: Window) -> tuple[datetime, datetime] | None:
    """The whole hours ``[first, last)`` that ``window``'s change scan covers, or None."""
    first = floor_hour(window.scan_start)
    if first < window.scan_start:
        first += HOUR
    last = floor_hour(window.end)
    return (first, last) if first < last else None


def record(warehouse_url: str, pipeline: str, hours: tuple[datetime, datetime],
           prints: dict[datetime, HourPrint]) -> None:
    """Store what ``pipeline`` saw of the hours ``[first, last)`` (hours without changes have no row)."""
    first, last = hours
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(
            "DELETE FROM analytics.etl_source_hours WHERE pipeline_name = %s AND hour_start >= %s AND hour_start < %s",
            (pipeline, first, last),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO analytics.etl_source_hours"
                " (pipeline_name, hour_start, fingerprint, source_rows, max_updated_at) VALUES (%s, %s, %s, %s, %s)",
                [(pipeline, p.hour_start, p.fingerprint, p.source_rows, p.max_updated_at)
                 for h, p in prints.items() if first <= h < last],
            )


def stored(warehouse_url: str, pipeline: str, start: datetime, end: datetime) -> dict[datetime, str]:
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "SELECT hour_start, fingerprint FROM analytics.etl_source_hours"
            " WHERE pipeline_name = %s AND hour_start >= %s AND hour_start < %s",
            (pipeline, start, end),
        )
        return dict(rows.fetchall())


def changed_hours(source_url: str, warehouse_url: str, pipelines: Sequence[str], start: datetime,
                  end: datetime) -> dict[datetime, list[str]]:
    """Per hour in ``[start, end)``, the pipelines whose stored fingerprint no longer matches the source."""
    now = fingerprint_hours(source_url, start, end)
    plan: dict[datetime, list[str]] = {}
    for pipeline in pipelines:
        seen = stored(warehouse_url, pipeline, start, end)
        for hour in sorted(set(seen) | set(now)):
            current = now[hour].fingerprint if hour in now else None
            if seen.get(hour) != current:
                plan.setdefault(hour, []).append(pipeline)
    return dict(sorted(plan.items()))


class ReconcileRangeError(ValueError):
    """An explicit reconcile range that is empty (``end`` not after ``start``)."""


def plan(source_url: str, warehouse_url: str, pipelines: Sequence[str], reconcile_days: int,
         start: datetime | None = None, end: datetime | None = None) -> dict[Window, list[str]]:
    """Hours to reprocess, one window each with its pipelines: processed hours (before each pipeline's
    watermark) whose source fingerprint changed. The range defaults to ``reconcile_days`` days before the
    earliest watermark up to the latest one; ``run_etl.py reconcile`` and the reconcile DAG both plan here."""
    marks = [m for m in (metadata.watermark(warehouse_url, p) for p in pipelines) if m is not None]
    if not marks:
        return {}
    end = end or max(marks)
    start = start or min(marks) - timedelta(days=reconcile_days)
    if end <= start:
        raise ReconcileRangeError(f"--end {end:%Y-%m-%d %H:%M} must be after --start {start:%Y-%m-%d %H:%M}")
    windows: dict[Window, list[str]] = {}
    for hour, changed in changed_hours(source_url, warehouse_url, pipelines, start, end).items():
        due = [p for p in changed if (mark := metadata.watermark(warehouse_url, p)) and hour < mark]
        if due:
            windows[Window(hour, hour + HOUR)] = due
    return windows

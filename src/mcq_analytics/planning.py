"""Which windows a run processes: the active hours of a range one by one, its quiet stretches as one window each."""

from __future__ import annotations

from datetime import datetime

import psycopg

from mcq_analytics.paths import read_sql
from mcq_analytics.windows import HOUR, Window, floor_hour


def first_activity_hour(source_url: str) -> datetime | None:
    with psycopg.connect(source_url) as conn:
        first = conn.execute(read_sql("extract/first_activity.sql")).fetchone()[0]
    return floor_hour(first) if first else None


def catch_up_windows(source_url: str, start: datetime, end: datetime) -> list[Window]:
    """Hourly windows for the hours with activity; each quiet stretch between them is one window.

    A quiet window still runs (and succeeds), so the watermark moves across it; merging keeps a pipeline
    that was off for months from running thousands of empty hours.
    """
    if end <= start:
        return []
    with psycopg.connect(source_url) as conn:
        active = [row[0] for row in conn.execute(
            read_sql("extract/active_hours.sql"), {"range_start": start, "range_end": end})]
    return windows_around(start, end, active)


def windows_around(start: datetime, end: datetime, active: list[datetime]) -> list[Window]:
    """``[start, end)`` cut into one window per active hour (sorted hour starts) and one per quiet stretch."""
    windows: list[Window] = []
    cursor = start
    for hour in active:
        hour = max(hour, start)
        if cursor < hour:
            windows.append(Window(cursor, hour))
        nxt = min(floor_hour(hour) + HOUR, end)
        windows.append(Window(hour, nxt))
        cursor = nxt
    if cursor < end:
        windows.append(Window(cursor, end))
    return windows


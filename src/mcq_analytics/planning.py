"""Which windows a run processes.

A range is cut into **work-sized windows**: consecutive active hours merge into one window until the next hour
would take its affected answers over a budget (``MCQ_WINDOW_BUDGET``), or, with ``window_hours``, until the
window spans that many clock hours (``window_hours=1``: one window per active hour). Each quiet stretch
between active hours is one window of its own. Fewer, larger windows pay the per-window fixed cost and the
re-read of the cohort buckets that late rows reopen once instead of every hour (docs/performance.md).

When the windows share one source snapshot (``extract.RangeSnapshot``, the default) a session is work only
in the first hour that touches it, and every hour of the range is counted, so quiet hours join the windows
around them instead of being windows of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg

from mcq_analytics.paths import read_sql
from mcq_analytics.windows import HOUR, Window, floor_hour

#: Default ``MCQ_WINDOW_BUDGET``: affected answers a Pandas window may carry. The memory model of
#: docs/performance.md (≈190 MiB + 380–475 MiB per million rows read, a window reading up to 2.4× its affected
#: answers) puts 2,000,000 affected answers at ~2 GiB peak RSS.
DEFAULT_WINDOW_BUDGET = 2_000_000

#: ``(hour start, affected answers of that hour)`` for the active hours of a range, in time order.
HourWork = tuple[datetime, int]


class PlanError(ValueError):
    """A range or window size that cannot be planned; the message is one line meant for the user."""


def first_activity_hour(source_url: str) -> datetime | None:
    with psycopg.connect(source_url) as conn:
        first = conn.execute(read_sql("extract/first_activity.sql")).fetchone()[0]
    return floor_hour(first) if first else None


def hour_work(source_url: str, start: datetime, end: datetime, *, first_touch: bool = False) -> list[HourWork]:
    """The active hours of ``[start, end)`` with their affected answers (``include/sql/extract/hour_work.sql``).

    ``first_touch``: every hour of the range, with the answers of the sessions it is the first to affect
    (``first_touch_work.sql``): the work of windows that share one snapshot, where a later window skips a
    session an earlier one built."""
    if end <= start:
        return []
    query = read_sql("extract/first_touch_work.sql" if first_touch else "extract/hour_work.sql")
    with psycopg.connect(source_url) as conn:
        if first_touch:  # one hash aggregation of the range's change rows by session: in memory (10M answers: 10 s)
            conn.execute("SET LOCAL work_mem = '128MB'")
        return [(hour, int(n)) for hour, n in conn.execute(query, {"range_start": start, "range_end": end})]


def affected_answers(source_url: str, window: Window) -> int:
    """The affected answers of ``window``'s change scan ``[start - lookback, end)``: the sum of its hours' counts,
    the number the planner sizes windows by (so ``MCQ_ENGINE=auto`` and the budget count the same thing)."""
    return sum(n for _, n in hour_work(source_url, window.scan_start, window.end))


def validate_range(start: datetime, end: datetime, limit: datetime, *, budget: int | None = None,
                   window_hours: int | None = None) -> None:
    """Refuse, in one line, what the planner cannot run: an empty range, an end after the last settled hour
    (``limit``: its rows may still be committing), a non-positive window size."""
    if end <= start:
        raise PlanError(f"the end {end:%Y-%m-%d %H:%M} must be after the start {start:%Y-%m-%d %H:%M}")
    if end > limit:
        raise PlanError(f"the end {end:%Y-%m-%d %H:%M} is after the last settled hour {limit:%Y-%m-%d %H:%M} UTC: "
                        "its rows may still be committing")
    if window_hours is not None and window_hours < 1:
        raise PlanError(f"window hours must be a positive whole number, got {window_hours}")
    if budget is not None and budget < 1:
        raise PlanError(f"the window budget must be a positive number of affected answers, got {budget}")


def plan_range(source_url: str, start: datetime, end: datetime, *, budget: int = DEFAULT_WINDOW_BUDGET,
               window_hours: int | None = None, shared_snapshot: bool = True) -> list[Window]:
    """``[start, end)`` cut into work-sized windows (:func:`windows_for`) from the source's hour counts.

    ``shared_snapshot``: the windows will share one source snapshot (``extract.RangeSnapshot``), so a session
    late rows or a regrade touch again is work only in the first hour that touches it, and hours without new
    work join the window around them (with ``window_hours`` the clock hours of activity count, as before)."""
    hours = hour_work(source_url, start, end, first_touch=shared_snapshot and window_hours is None)
    return windows_for(start, end, hours, budget=budget, window_hours=window_hours)


def catch_up_windows(source_url: str, start: datetime, end: datetime) -> list[Window]:
    """One window per active hour, one per quiet stretch: the plan of a catch-up from the watermarks."""
    return plan_range(source_url, start, end, window_hours=1)


def windows_for(start: datetime, end: datetime, hours: Sequence[HourWork], *, budget: int = DEFAULT_WINDOW_BUDGET,
                window_hours: int | None = None) -> list[Window]:
    """Cut ``[start, end)`` given its active hours (sorted hour starts with their affected answers).

    Consecutive active hours join the open window while it stays within ``window_hours`` clock hours (when
    given; the budget is then not used) or else while its affected answers stay within ``budget`` (an hour over
    the budget on its own is a window of its own). A quiet stretch closes the open window and is one window.
    Edges that are not on the hour give partial first and last windows.
    """
    windows: list[Window] = []
    cursor = start
    open_start: datetime | None = None  # the open window: [open_start, cursor)
    open_hours = open_work = 0
    for hour, work in hours:
        if not start - HOUR < hour < end:
            continue
        begin, finish = max(hour, start), min(floor_hour(hour) + HOUR, end)
        if cursor < begin:  # a quiet stretch before this hour
            if open_start is not None:
                windows.append(Window(open_start, cursor))
                open_start = None
            windows.append(Window(cursor, begin))
        fits = (open_hours < window_hours) if window_hours is not None else (open_work + work <= budget)
        if open_start is not None and not fits:
            windows.append(Window(open_start, begin))
            open_start = None
        if open_start is None:
            open_start, open_hours, open_work = begin, 0, 0
        open_hours, open_work, cursor = open_hours + 1, open_work + work, finish
    if open_start is not None:
        windows.append(Window(open_start, cursor))
    if cursor < end:
        windows.append(Window(cursor, end))
    return windows


def window_work(window: Window, hours: Sequence[HourWork], lookback: timedelta = timedelta(0)) -> int:
    """The affected answers the planner counts for ``window`` (with the hours its ``lookback`` reaches)."""
    first = floor_hour(window.start - lookback)
    return sum(n for hour, n in hours if first <= hour < window.end)

"""Time windows: parsing user input and cutting ranges into hourly windows (all in UTC)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)


class WindowError(ValueError):
    """A user-supplied time or range is malformed; the message is one line meant for the user."""


@dataclass(frozen=True, order=True)
class Window:
    """The half-open interval ``[start, end)`` of source activity one run processes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise WindowError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise WindowError(f"window end {self.end.isoformat()} is not after start {self.start.isoformat()}")

    def __str__(self) -> str:
        return f"[{self.start:%Y-%m-%d %H:%M}, {self.end:%Y-%m-%d %H:%M}) UTC"


def parse_time(text: str) -> datetime:
    """Parse the seed's ``YYYY:MM:DD HH`` form or ISO 8601; naive times are UTC."""
    value = text.strip()
    try:
        parsed = datetime.strptime(value, "%Y:%m:%d %H")
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise WindowError(
                f"cannot read time {text!r}: use 'YYYY:MM:DD HH' (e.g. '2024:06:01 10') or ISO 8601"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def floor_hour(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hourly_windows(start: datetime, end: datetime) -> Iterator[Window]:
    """Cut ``[start, end)`` into consecutive windows on UTC hour boundaries (partial hours at the edges)."""
    if end <= start:
        raise WindowError(f"end {end.isoformat()} must be after start {start.isoformat()}")
    cursor = start
    while cursor < end:
        nxt = min(floor_hour(cursor) + HOUR, end)
        yield Window(cursor, nxt)
        cursor = nxt


def last_full_hour(now: datetime | None = None) -> datetime:
    """The end of the last complete UTC hour: the catch-up limit for runs without ``--end``."""
    return floor_hour(now or datetime.now(UTC))

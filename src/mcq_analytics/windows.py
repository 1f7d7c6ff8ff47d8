"""Time windows: parsing user input and cutting ranges into hourly windows (all in UTC)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)


class WindowError(ValueError):
    """A user-supplied time or range is malformed; the message is one line meant for the user."""


@dataclass(frozen=True, order=True)
class Window:
    """The half-open interval ``[start, end)`` of source activity one run processes."""

    start: datetime
    end: datetime
    #: How far before ``start`` the change scan looks for rows that became visible late (replica lag, long
    #: transactions): their ``updated_at`` lies in an hour already processed. Exact recompute makes the
    #: overlap harmless; it widens the scope, never the bookkeeping window.
    lookback: timedelta = field(default=timedelta(0), compare=False)

    @property
    def scan_start(self) -> datetime:
        """Where the change scan of this window starts (``start - lookback``)."""
        return self.start - self.lookback

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise WindowError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise WindowError(f"window end {self.end.isoformat()} is not after start {self.start.isoformat()}")

    def __str__(self) -> str:
        return f"[{self.start:%Y-%m-%d %H:%M}, {self.end:%Y-%m-%d %H:%M}) UTC"


#: Times outside these bounds are refused as input: far beyond any real activity, and clear of the
#: datetime overflow at year 9999.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_time(text: str) -> datetime:
    """Parse the seed's ``YYYY:MM:DD HH`` form or ISO 8601; naive times are UTC."""
    value = text.strip()
    if not value:
        raise WindowError("empty time: use 'YYYY:MM:DD HH' (e.g. '2024:06:01 10') or ISO 8601")
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
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        parsed = None
    if parsed is None or not EARLIEST <= parsed < LATEST:
        raise WindowError(f"time {text!r} is out of range ({EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d})")
    return parsed


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


def last_full_hour(now: datetime | None = None, settle: timedelta = timedelta(0)) -> datetime:
    """The end of the last complete UTC hour that has also settled (``settle`` has passed since its end):
    the catch-up limit, and the latest end a window may have."""
    return floor_hour((now or datetime.now(UTC)) - settle)

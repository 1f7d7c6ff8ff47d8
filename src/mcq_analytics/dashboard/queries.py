"""The dashboard's query layer: named SQL files from ``include/sql/dashboard/``, run read-only.

Each page's data is one function here (``overview``, ``test``, ``items``, ``health``), used both by the
Streamlit page and by ``page_query_timings`` — so the benchmark times exactly the queries a page runs.
Streamlit is not imported here: the benchmark and the tests use this module without a server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import pandas as pd
import psycopg

from mcq_analytics.paths import read_sql

#: Item statistics below this many attempts carry no flags (the item-analysis functions' default).
DEFAULT_MIN_ATTEMPTS = 30
RECENT_RUNS_PER_PIPELINE = 20
NO_DATA = "no data yet — run the pipeline"
NO_ITEM_ANALYSIS = "item analysis not built yet — this warehouse has no item-analysis facts"


@dataclass(frozen=True)
class Filters:
    """What every page is filtered by: UTC cohort hours ``[start, end)`` and optionally one test.

    ``subject`` is carried for the day the warehouse knows a test's subject; today it does not (the
    subject lives only in the source's ``tests`` table), so it is always ``None``.
    """

    start: datetime
    end: datetime
    test_id: int | None = None
    subject: str | None = None
    min_attempts: int = DEFAULT_MIN_ATTEMPTS

    @classmethod
    def for_dates(cls, first: date, last: date, test_id: int | None = None, **kw: Any) -> Filters:
        """Whole UTC days ``first`` … ``last`` (inclusive)."""
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
        return cls(start, end, test_id, **kw)

    def previous(self) -> Filters:
        """The range of the same length just before this one (for the change figures)."""
        return replace(self, start=self.start - (self.end - self.start), end=self.start)

    def params(self, **extra: Any) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "test_id": self.test_id,
                "min_attempts": self.min_attempts, **extra}


@cache
def sql_text(name: str) -> str:
    """The text of ``include/sql/dashboard/<name>.sql``."""
    return read_sql(f"dashboard/{name}.sql")


def connect(url: str) -> psycopg.Connection:
    """A read-only connection in UTC (the role should be read-only too: docs/dashboard.md)."""
    conn = psycopg.connect(url, connect_timeout=10)
    conn.read_only = True
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    return conn


class Runner:
    """Runs named queries on one connection and records how long each took (milliseconds)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.timings: dict[str, float] = {}

    def frame(self, key: str, name: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        began = time.perf_counter()
        with self.conn.cursor() as cur:
            cur.execute(sql_text(name), params or {})
            rows = cur.fetchall()
            columns = [d.name for d in cur.description or ()]
        self.conn.rollback()  # end the read-only transaction: no snapshot held between queries
        self.timings[key] = (time.perf_counter() - began) * 1000
        return pd.DataFrame(rows, columns=columns)

    def row(self, key: str, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        df = self.frame(key, name, params)
        return df.to_dict("records")[0] if len(df) else {}


@dataclass(frozen=True)
class Status:
    """What the warehouse holds: the schema, any facts (their hour range), the item-analysis parts."""

    has_schema: bool
    has_item_analysis: bool
    first_hour: datetime | None
    last_hour: datetime | None

    @property
    def has_data(self) -> bool:
        return self.has_schema and self.last_hour is not None


def status(r: Runner) -> Status:
    flags = r.row("status", "status")
    first = last = None
    if flags["has_schema"]:
        hours = r.row("data_range", "data_range")
        first, last = _ts(hours["first_hour"]), _ts(hours["last_hour"])
    return Status(bool(flags["has_schema"]), bool(flags["has_item_analysis"]), first, last)


def _ts(value: Any) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def tests(r: Runner, f: Filters) -> pd.DataFrame:
    """Tests with sessions in the range, busiest first."""
    return r.frame("tests", "tests", f.params())


def chosen_test(f: Filters, test_list: pd.DataFrame) -> int | None:
    """The filter's test, or else the busiest test of the range (pages about one test need one)."""
    if f.test_id is not None:
        return f.test_id
    return int(test_list["test_id"].iloc[0]) if len(test_list) else None


# -- one function per page: its data, as the page shows it ------------------------------------------------
def overview(r: Runner, f: Filters) -> dict[str, Any]:
    return {
        "kpis": r.row("kpis", "overview_kpis", f.params()),
        "kpis_previous": r.row("kpis_previous", "overview_kpis", f.previous().params()),
        "hourly": r.frame("hourly", "overview_hourly", f.params()),
        "funnel": r.row("funnel", "funnel", f.params()),
    }


def test(r: Runner, f: Filters, test_id: int, item_analysis: bool) -> dict[str, Any]:
    g = replace(f, test_id=test_id)
    data: dict[str, Any] = {
        "cohorts": r.frame("cohorts", "test_cohorts", g.params()),
        "funnel": r.row("funnel", "funnel", g.params()),
    }
    if item_analysis:
        data["reliability"] = r.row("reliability", "test_reliability", g.params())
    return data


def items(r: Runner, f: Filters, test_id: int, question_id: int | None = None) -> dict[str, Any]:
    """The item table of ``test_id``; the options of ``question_id`` (default: its first flagged question,
    else its first question)."""
    g = replace(f, test_id=test_id)
    table = r.frame("items", "item_analysis", g.params())
    if question_id is None and len(table):
        flagged = table[table["flags"].map(len) > 0]
        question_id = int((flagged if len(flagged) else table)["question_id"].iloc[0])
    options = (r.frame("options", "option_analysis", g.params(question_id=question_id))
               if question_id is not None else pd.DataFrame())
    return {"items": table, "question_id": question_id, "options": options}


def health(r: Runner, f: Filters) -> dict[str, Any]:
    return {
        "pipelines": r.frame("pipelines", "pipelines"),
        "runs": r.frame("runs", "recent_runs", {"limit": RECENT_RUNS_PER_PIPELINE}),
        "rejects": r.frame("rejects", "rejects", f.params()),
    }


PAGES: tuple[str, ...] = ("overview", "test", "items", "health")


def run_page(r: Runner, page: str, f: Filters) -> dict[str, Any]:
    """Everything one page runs for ``f``: the shared status and test-list queries, then the page's own."""
    st_ = status(r)
    if page == "health" and st_.has_schema:  # the runs and rejects are worth seeing before any fact exists
        return {"status": st_, **health(r, f)}
    if not st_.has_data:
        return {"status": st_}
    test_list = tests(r, f)
    data: dict[str, Any] = {"status": st_, "tests": test_list}
    test_id = chosen_test(f, test_list)
    pages: dict[str, Callable[[], dict[str, Any]]] = {
        "overview": lambda: overview(r, f),
        "test": lambda: test(r, f, test_id, st_.has_item_analysis) if test_id is not None else {},
        "items": lambda: (items(r, f, test_id) if test_id is not None and st_.has_item_analysis else {}),
        "health": lambda: health(r, f),
    }
    if page not in pages:
        raise ValueError(f"unknown page {page!r} (pages: {', '.join(PAGES)})")
    data.update(pages[page]())
    return data


def page_query_timings(url: str, page: str, f: Filters) -> dict[str, float]:
    """Run all of ``page``'s queries for ``f`` on a fresh connection; per-query wall time in ms (for the bench)."""
    with connect(url) as conn:
        r = Runner(conn)
        run_page(r, page, f)
        return dict(r.timings)

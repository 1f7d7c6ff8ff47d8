"""Read-side timings on the benchmark's history: the item-analysis range functions and every dashboard page.

The facts were just built by the Pandas backfill of phase B, so these are the queries a test author or the
dashboard runs on that history (targets: ``item_analysis`` for one test over all history < 100 ms, every
page's queries together < 300 ms). Each figure is the median of ``repeat`` warm runs.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

import psycopg

RANGE_QUERIES = {
    "item_analysis, one test, all history":
        "SELECT count(*) FROM analytics.item_analysis('-infinity', 'infinity') WHERE test_id = %(test_id)s",
    "option_analysis, one test, all history":
        "SELECT count(*) FROM analytics.option_analysis('-infinity', 'infinity') WHERE test_id = %(test_id)s",
    "test_reliability, one test, all history":
        "SELECT count(*) FROM analytics.test_reliability('-infinity', 'infinity') WHERE test_id = %(test_id)s",
    "item_analysis, all tests, last 30 days":
        "SELECT count(*) FROM analytics.item_analysis(%(end)s::timestamptz - interval '30 days', %(end)s)",
    "test_reliability, all tests, last 30 days":
        "SELECT count(*) FROM analytics.test_reliability(%(end)s::timestamptz - interval '30 days', %(end)s)",
}


def _median_ms(conn: psycopg.Connection, sql: str, params: dict[str, Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        conn.execute(sql, params).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def time_queries(warehouse_url: str, repeat: int = 3) -> dict[str, Any]:
    """Median milliseconds of each range function and of each dashboard page's queries (all of them)."""
    from mcq_analytics.dashboard.queries import PAGES, Filters, page_query_timings

    with psycopg.connect(warehouse_url) as conn:
        row = conn.execute("SELECT test_id, max(hour_start) FROM analytics.test_summary_fact"
                           " GROUP BY test_id ORDER BY sum(sessions_started) DESC LIMIT 1").fetchone()
        if row is None:
            return {"skipped": "no facts"}
        test_id, last_hour = row
        params = {"test_id": test_id, "end": last_hour + timedelta(hours=1)}
        ranges = {name: _median_ms(conn, sql, params, repeat) for name, sql in RANGE_QUERIES.items()}
    first = (last_hour - timedelta(days=30)).date()
    pages = {}
    for page in PAGES:
        filters = Filters.for_dates(first, last_hour.date(), test_id if page in ("test", "items") else None)
        runs = [sum(page_query_timings(warehouse_url, page, filters).values()) for _ in range(repeat)]
        pages[page] = statistics.median(runs)
    return {"test_id": test_id, "range_functions_ms": ranges, "dashboard_pages_ms": pages}

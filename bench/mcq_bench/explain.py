"""EXPLAIN of a window's scope and extract queries: which scans of the big event tables they plan."""

from __future__ import annotations

from typing import Any

import psycopg

from mcq_analytics.paths import read_sql
from mcq_analytics.windows import Window
from mcq_bench.scales import BIG_TABLES


# -- EXPLAIN -------------------------------------------------------------------------------------------
def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(_plan_nodes(child))
    return nodes


def explain_window_queries(source_url: str, window: Window) -> list[dict[str, Any]]:
    """EXPLAIN the scope and extract queries of ``window`` (the reference's scope too) as they run: after
    the temp tables they join are filled and analysed. Returns, per query, the scans of the big tables."""
    from mcq_analytics.extract import EXTRACT_COLUMNS, SCOPE_JOIN, create_scope
    from mcq_analytics.paths import read_extract

    params = {"window_start": window.start, "window_end": window.end}
    plans: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    with psycopg.connect(source_url) as conn, conn.cursor() as cur:
        def explain(name: str, query: str, args: dict[str, Any] | None = None) -> None:
            try:
                with conn.transaction():  # a savepoint: one failing query does not lose the others
                    cur.execute("EXPLAIN (FORMAT JSON) " + query, args)
                    plans[name] = cur.fetchone()[0][0]["Plan"]
            except psycopg.Error as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"

        explain("extract/affected_sessions.sql", read_sql("extract/affected_sessions.sql"), params)
        create_scope(cur, window, with_buckets=True)
        explain("extract/bucket_sessions.sql", read_sql("extract/bucket_sessions.sql"))
        for name in EXTRACT_COLUMNS:
            explain(f"extract/{name}.sql", read_extract(name, SCOPE_JOIN))
        explain("extract/questions_by_id.sql", read_sql("extract/questions_by_id.sql"),
                {"question_ids": [1, 2, 3], "test_ids": [1, 2]})
        conn.rollback()
    checks = []
    for name, plan in plans.items():
        scans = set()
        for node in _plan_nodes(plan):
            relation, index = node.get("Relation Name"), node.get("Index Name")
            if relation in BIG_TABLES:
                scans.add(f"{node['Node Type']} {relation}" + (f" using {index}" if index else ""))
            elif relation is None and index and index.split("_")[0] in BIG_TABLES:
                scans.add(f"{node['Node Type']} using {index}")
        seq = sorted(s.removeprefix("Seq Scan ") for s in scans if s.startswith("Seq Scan "))
        checks.append({"query": name, "seq_scans": seq, "scans": sorted(scans), "ok": "answers" not in seq})
    checks += [{"query": name, "seq_scans": [], "scans": [], "ok": False, "error": error}
               for name, error in errors.items()]
    return checks

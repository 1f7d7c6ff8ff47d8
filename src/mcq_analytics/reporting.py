"""Readable text summaries of the facts and the metadata, for the demo and ``run_etl.py status``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from mcq_analytics.facts import REGISTRY
from mcq_analytics.paths import read_sql

REPORTS = (
    *((f.name, f.report_title) for f in REGISTRY),
    ("etl_rejects", "etl_rejects — quarantined source rows"),
)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else f"{v:,}" if isinstance(v, int) else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def fact_summaries(warehouse_url: str) -> str:
    parts = []
    with psycopg.connect(warehouse_url) as conn:
        for name, title in REPORTS:
            cur = conn.execute(read_sql(f"report/{name}.sql"))
            headers = [d.name for d in cur.description]
            parts.append(f"{title}\n{format_table(headers, cur.fetchall())}")
    return "\n\n".join(parts)


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago" if minutes < 2880 else \
        f"{minutes // 1440} d ago"


def format_metadata(rows: list[dict], stale_after: timedelta = timedelta(minutes=45),
                    now: datetime | None = None) -> str:
    """``etl_metadata`` as a table: each pipeline's status, its age, and ``running (stale?)`` for a run
    older than ``stale_after`` (its process probably died; the next run closes it)."""
    if not rows:
        return "no pipeline has run yet"
    now = now or datetime.now(UTC)
    columns = ["pipeline_name", "status", "updated", "engine", "watermark", "last_window_start",
               "consecutive_failures", "rows_read", "rows_written", "rows_rejected"]
    body = []
    for r in rows:
        status = r["status"]
        if status == "running" and now - r["updated_at"] > stale_after:
            status = "running (stale?)"
        values = {**r, "status": status, "updated": _age(now - r["updated_at"])}
        body.append([(f"{values[c]:%Y-%m-%d %H:%M}" if hasattr(values[c], "strftime") else values[c])
                     for c in columns])
    text = format_table(columns, body)
    errors = [f"{r['pipeline_name']}: {r['last_error'].splitlines()[0]}" for r in rows
              if r["status"] == "failed" and r["last_error"]]
    return text + ("\n\nlast errors:\n" + "\n".join(errors) if errors else "")

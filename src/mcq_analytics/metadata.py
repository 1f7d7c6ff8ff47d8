"""``etl_metadata`` and ``etl_run_log`` bookkeeping (docs/data_contract.md section 5).

The one place that records a run's life: ``run_etl.py``, the Airflow operator and the Spark jobs all
call ``begin_run`` before a fact build and ``finish_run`` after it. Each call is its own short
transaction, so ``running`` is visible while the build works and survives its failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from mcq_analytics.planning import first_activity_hour
from mcq_analytics.redaction import redact
from mcq_analytics.windows import Window, floor_hour

MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class RunOutcome:
    """What ``finish_run`` recorded, for callers that decide on alerts."""

    pipeline: str
    status: str
    consecutive_failures: int
    previous_failures: int  # consecutive failures before this attempt ended


def begin_run(warehouse_url: str, pipeline: str, window: Window, engine: str, run_id: str,
              triggered_by: str = "cli") -> None:
    """Mark the pipeline ``running`` and open an attempt in the run log."""
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(
            """
            INSERT INTO analytics.etl_metadata
                   (pipeline_name, last_run_time, status, engine, last_window_start, last_window_end,
                    consecutive_failures, updated_at)
            VALUES (%(p)s, now(), 'running', %(engine)s, %(ws)s, %(we)s, 0, now())
            ON CONFLICT (pipeline_name) DO UPDATE
               SET last_run_time = now(), status = 'running', engine = EXCLUDED.engine,
                   last_window_start = EXCLUDED.last_window_start,
                   last_window_end = EXCLUDED.last_window_end, updated_at = now()
            """,
            {"p": pipeline, "engine": engine, "ws": window.start, "we": window.end},
        )
        conn.execute(
            """
            INSERT INTO analytics.etl_run_log
                   (run_id, pipeline_name, engine, window_start, window_end, status, triggered_by)
            VALUES (%s, %s, %s, %s, %s, 'running', %s)
            ON CONFLICT (run_id) DO UPDATE
               SET status = 'running', started_at = now(), finished_at = NULL, error = NULL
            """,
            (run_id, pipeline, engine, window.start, window.end, triggered_by),
        )


def finish_run(warehouse_url: str, pipeline: str, window: Window, run_id: str, *, error: str | None = None,
               rows_read: int | None = None, rows_written: int | None = None,
               rows_rejected: int | None = None, engine: str | None = None, final: bool = True) -> RunOutcome:
    """Record ``success`` (advancing the watermark) or ``failed`` (counting consecutive failures).

    ``final=False`` marks an attempt the scheduler will retry: it is logged as failed but does not count
    as a failure of the pipeline. Row counts left as ``None`` keep what the build recorded itself (a
    Spark job writes its own counts into its run-log row).

    The watermark means "every hour before it is processed": it moves only when the window starts at or
    before it (an in-sequence success), then on across any later windows that already succeeded out of
    order, so a gap is never skipped. A success beyond a gap leaves the watermark, the failure count and
    a ``failed`` status as they were: the pipeline is still stuck behind the gap. An in-sequence success
    clears ``last_error``.
    """
    status = "failed" if error is not None else "success"
    error = redact(error)[:MAX_ERROR_CHARS] if error else None  # a DSN in an error must not be stored
    with psycopg.connect(warehouse_url, row_factory=dict_row) as conn:
        previous = conn.execute(
            "SELECT consecutive_failures, watermark FROM analytics.etl_metadata WHERE pipeline_name = %s"
            " FOR UPDATE",
            (pipeline,),
        ).fetchone()
        counts = conn.execute(
            """
            UPDATE analytics.etl_run_log
               SET status = %s, finished_at = now(), error = %s, engine = coalesce(%s, engine),
                   rows_read = coalesce(%s, rows_read), rows_written = coalesce(%s, rows_written),
                   rows_rejected = coalesce(%s, rows_rejected)
             WHERE run_id = %s
            RETURNING rows_read, rows_written, rows_rejected
            """,
            (status, error, engine, rows_read, rows_written, rows_rejected, run_id),
        ).fetchone() or {"rows_read": rows_read, "rows_written": rows_written, "rows_rejected": rows_rejected}
        watermark = _next_watermark(conn, pipeline, window, previous) if status == "success" else None
        row = conn.execute(
            """
            UPDATE analytics.etl_metadata
               SET status = CASE WHEN %(status)s = 'failed' THEN 'failed'
                                 WHEN %(in_sequence)s OR consecutive_failures = 0 THEN 'success'
                                 ELSE 'failed' END,
                   engine = coalesce(%(engine)s, engine),
                   last_window_start = %(ws)s, last_window_end = %(we)s,
                   consecutive_failures = CASE WHEN %(status)s = 'success' AND %(in_sequence)s THEN 0
                                               WHEN %(status)s = 'failed' AND %(final)s THEN consecutive_failures + 1
                                               ELSE consecutive_failures END,
                   last_error = CASE WHEN %(status)s = 'failed' THEN %(error)s
                                     WHEN %(in_sequence)s THEN NULL ELSE last_error END,
                   watermark = coalesce(%(watermark)s, watermark),
                   rows_read = %(rows_read)s, rows_written = %(rows_written)s, rows_rejected = %(rows_rejected)s,
                   updated_at = now()
             WHERE pipeline_name = %(p)s
            RETURNING consecutive_failures
            """,
            {"status": status, "engine": engine, "ws": window.start, "we": window.end, "error": error,
             "p": pipeline, "final": final, "in_sequence": watermark is not None, "watermark": watermark,
             **counts},
        ).fetchone()
    return RunOutcome(
        pipeline=pipeline,
        status=status,
        consecutive_failures=row["consecutive_failures"] if row else 0,
        previous_failures=previous["consecutive_failures"] if previous else 0,
    )


_CHAIN_SQL = """
WITH RECURSIVE chain(wm) AS (
    SELECT %(wm)s::timestamptz
    UNION
    SELECT r.window_end
      FROM analytics.etl_run_log r JOIN chain c ON r.window_start <= c.wm AND r.window_end > c.wm
     WHERE r.pipeline_name = %(p)s AND r.status = 'success'
)
SELECT max(wm) FROM chain
"""


def _next_watermark(conn: psycopg.Connection, pipeline: str, window: Window,
                    previous: dict | None) -> datetime | None:
    """The watermark after ``window`` succeeded, or None when the window lies beyond a gap."""
    current = previous["watermark"] if previous else None
    if current is None or window.start > current:
        return None
    return conn.execute(_CHAIN_SQL, {"wm": max(current, window.end), "p": pipeline}).fetchone()["max"]


def ensure_watermarks(source_url: str, warehouse_url: str, pipelines: Sequence[str], window: Window) -> None:
    """Give pipelines that never ran a watermark at the source's first activity hour (nothing before it
    exists, so "processed up to here" is true); with no activity at all, at ``window``'s start."""
    with psycopg.connect(warehouse_url) as conn:
        have = {p for (p,) in conn.execute(
            "SELECT pipeline_name FROM analytics.etl_metadata"
            " WHERE pipeline_name = ANY(%s) AND watermark IS NOT NULL", (list(pipelines),))}
        missing = [p for p in pipelines if p not in have]
        if not missing:
            return
        first = first_activity_hour(source_url) or floor_hour(window.start)
        for pipeline in missing:
            conn.execute(
                """
                INSERT INTO analytics.etl_metadata (pipeline_name, status, watermark, updated_at)
                VALUES (%(p)s, 'success', %(wm)s, now())
                ON CONFLICT (pipeline_name) DO UPDATE
                   SET watermark = coalesce(analytics.etl_metadata.watermark, EXCLUDED.watermark)
                """,
                {"p": pipeline, "wm": first},
            )


def abandon_orphaned_runs(warehouse_url: str, pipeline: str, current_run_id: str) -> int:
    """Close the pipeline's run-log rows still ``running`` as ``abandoned``. Only call while holding the
    pipeline's run lock: then no other run of it is alive, so those rows belong to killed runs."""
    with psycopg.connect(warehouse_url) as conn:
        return conn.execute(
            "UPDATE analytics.etl_run_log SET status = 'abandoned', finished_at = now(),"
            " error = 'the run ended without recording its result (killed or its machine lost)'"
            " WHERE pipeline_name = %s AND status = 'running' AND run_id <> %s",
            (pipeline, current_run_id),
        ).rowcount


def record_refused_run(warehouse_url: str, pipeline: str, window: Window, run_id: str, engine: str,
                       triggered_by: str, error: str) -> None:
    """Log an attempt that could not start (another run holds the pipeline's run lock) as ``failed``,
    leaving ``etl_metadata`` to the run in progress."""
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(
            """
            INSERT INTO analytics.etl_run_log
                   (run_id, pipeline_name, engine, window_start, window_end, status, finished_at, error,
                    triggered_by)
            VALUES (%s, %s, %s, %s, %s, 'failed', now(), %s, %s)
            ON CONFLICT (run_id) DO UPDATE SET status = 'failed', finished_at = now(), error = EXCLUDED.error
            """,
            (run_id, pipeline, engine, window.start, window.end, redact(error)[:MAX_ERROR_CHARS], triggered_by),
        )


def read_metadata(warehouse_url: str) -> list[dict]:
    with psycopg.connect(warehouse_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM analytics.etl_metadata ORDER BY pipeline_name").fetchall()


def watermark(warehouse_url: str, pipeline: str) -> datetime | None:
    with psycopg.connect(warehouse_url) as conn:
        row = conn.execute(
            "SELECT watermark FROM analytics.etl_metadata WHERE pipeline_name = %s", (pipeline,)
        ).fetchone()
    return row[0] if row else None

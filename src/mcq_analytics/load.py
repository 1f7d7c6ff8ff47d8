"""Loading a window's facts into the warehouse: stage, then swap in one locked transaction per fact.

Both engines end here: the Pandas engine COPYs its frames into temp staging tables, the Spark engine
writes real staging tables over JDBC; either way one transaction takes the fact's advisory lock, deletes
the window's keys, inserts the staged rows and quarantines the rejects — all or nothing.
"""

from __future__ import annotations

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from mcq_analytics.facts import REGISTRY
from mcq_analytics.paths import read_sql
from mcq_analytics.windows import Window

#: Staging layout each engine writes (fact columns, timestamps as epoch microseconds), per fact.
STAGE_COLUMNS: dict[str, dict[str, str]] = {f.name: f.stage_columns for f in REGISTRY}
#: The keys a window replaces: the affected sessions, or the touched (test, hour) buckets.
KEY_COLUMNS: dict[str, dict[str, str]] = {f.name: f.key_columns for f in REGISTRY}
#: How long a swap waits for a lock before failing (``MCQ_LOCK_TIMEOUT_SECONDS``).
DEFAULT_LOCK_TIMEOUT_SECONDS = 600
REJECT_COLUMNS = {"source_table": "text", "source_key": "text", "reason": "text"}


def lock_key(pipeline: str) -> str:
    """The advisory-lock name serialising every writer of one fact table, whatever engine or process."""
    return f"mcq_analytics.{pipeline}"


def copy_frame(cur: psycopg.Cursor, table: sql.Composable, frame: pd.DataFrame, columns: list[str]) -> None:
    """COPY a frame into ``table`` as CSV written by Arrow (NULLs as empty fields)."""
    if frame.empty:
        return
    # combine_chunks: pyarrow 26 writes zero bytes for a multi-chunk string column (seen with pandas 3 str).
    arrow = pa.Table.from_pandas(frame[columns], preserve_index=False).combine_chunks()
    out = pa.BufferOutputStream()
    pacsv.write_csv(arrow, out, write_options=pacsv.WriteOptions(include_header=False))
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cur.copy(stmt) as copy:
        copy.write(memoryview(out.getvalue()))


def _create_temp(cur: psycopg.Cursor, name: str, columns: dict[str, str]) -> sql.Identifier:
    ident = sql.Identifier(name)
    cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns.items())
    cur.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(ident, cols))
    return ident


def swap_in(cur: psycopg.Cursor, pipeline: str, window: Window, run_id: str, stage: sql.Composable,
            keys: sql.Composable, rejects: sql.Composable,
            lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS) -> int:
    """Inside an open transaction: lock the fact, replace the window's keys, quarantine rejects.

    Every lock wait of the swap (the advisory lock, the fact's rows, a foreign ``LOCK TABLE``) is bounded by
    ``lock_timeout_seconds``: the run then fails with ``LockNotAvailable`` instead of hanging. Returns the
    number of fact rows written.
    """
    cur.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{int(lock_timeout_seconds)}s")))
    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock_key(pipeline),))
    # Each load file is a DELETE of the window's keys followed by the INSERT of the staged rows.
    delete, insert = [s for s in read_sql(f"load/{pipeline}.sql").split(";\n") if s.strip()]
    cur.execute(sql.SQL(delete).format(stage=stage, keys=keys))
    cur.execute(sql.SQL(insert).format(stage=stage, keys=keys), {"run_id": run_id})
    written = cur.rowcount
    cur.execute(
        sql.SQL(read_sql("load/rejects.sql").rstrip().rstrip(";")).format(stage=rejects),
        {"pipeline": pipeline, "window_start": window.start, "window_end": window.end},
    )
    return written


def load_frames(warehouse_url: str, pipeline: str, window: Window, run_id: str, facts: pd.DataFrame,
                keys: pd.DataFrame, rejects: pd.DataFrame,
                lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS) -> int:
    """Stage the Pandas engine's frames by COPY and swap them in, atomically; returns rows written."""
    with psycopg.connect(warehouse_url) as conn, conn.cursor() as cur:
        stage = _create_temp(cur, "etl_stage", STAGE_COLUMNS[pipeline])
        key_table = _create_temp(cur, "etl_keys", KEY_COLUMNS[pipeline])
        reject_table = _create_temp(cur, "etl_stage_rejects", REJECT_COLUMNS)
        copy_frame(cur, stage, facts, list(STAGE_COLUMNS[pipeline]))
        copy_frame(cur, key_table, keys, list(KEY_COLUMNS[pipeline]))
        copy_frame(cur, reject_table, rejects, list(REJECT_COLUMNS))
        cur.execute(sql.SQL("ANALYZE {}").format(key_table))
        return swap_in(cur, pipeline, window, run_id, stage, key_table, reject_table, lock_timeout_seconds)


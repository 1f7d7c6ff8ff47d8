"""Extraction for the Pandas engine: the window's scope of sessions, then their complete source history,
read with ``COPY (SELECT …) TO STDOUT`` into typed frames in one consistent snapshot."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from mcq_analytics.paths import read_extract, read_sql
from mcq_analytics.windows import Window

# Column types of each extract; nullable integers arrive as float64 (NaN = NULL), timestamps as int64
# epoch microseconds, so every column is a fast numpy dtype.
EXTRACT_COLUMNS: dict[str, dict[str, pa.DataType]] = {
    "sessions": {"session_id": pa.int64(), "test_id": pa.int64(), "student_id": pa.int64(),
                 "started_us": pa.int64()},
    "answers": {"answer_id": pa.int64(), "session_id": pa.int64(), "question_id": pa.int64(),
                "selected_option": pa.float64(), "answered_us": pa.int64(), "time_spent_ms": pa.float64()},
    "submissions": {"submission_id": pa.int64(), "session_id": pa.int64(), "submitted_us": pa.int64(),
                    "score": pa.float64(), "max_score": pa.float64()},
    "tests": {"test_id": pa.int64(), "pass_score_pct": pa.float64(), "question_count": pa.int64()},
    "questions": {"question_id": pa.int64(), "test_id": pa.int64(), "option_count": pa.int64(),
                  "correct_option": pa.int64(), "points": pa.float64()},
}
#: How the Pandas engine fills the scope placeholder of the extract queries (``paths.read_extract``).
SCOPE_JOIN = "JOIN etl_scope USING (session_id)"


@dataclass
class SourceFrames:
    """The source rows a window's facts are computed from."""

    affected_ids: pd.Series  # session ids touched by the window (may include missing sessions)
    sessions: pd.DataFrame
    answers: pd.DataFrame
    submissions: pd.DataFrame
    tests: pd.DataFrame
    questions: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return len(self.sessions) + len(self.answers) + len(self.submissions)


def copy_to_frame(cur: psycopg.Cursor, query: str, columns: dict[str, pa.DataType],
                  params: dict[str, object] | None = None) -> pd.DataFrame:
    """Run ``COPY (query) TO STDOUT`` and parse the CSV with Arrow into the given column types (``params``
    are bound client-side: COPY takes no server-side parameters)."""
    buf = io.BytesIO()
    with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)", params) as copy:
        for block in copy:
            buf.write(block)
    if buf.tell() == 0:
        return pd.DataFrame({name: pd.Series(dtype=_numpy_dtype(t)) for name, t in columns.items()})
    buf.seek(0)
    table = pacsv.read_csv(
        buf,
        read_options=pacsv.ReadOptions(column_names=list(columns), block_size=64 << 20),
        convert_options=pacsv.ConvertOptions(column_types=columns),
    )
    return table.to_pandas()


def _numpy_dtype(arrow_type: pa.DataType) -> str:
    return "float64" if pa.types.is_floating(arrow_type) else "int64"


def create_scope(cur: psycopg.Cursor, window: Window, with_buckets: bool) -> pd.Series:
    """Inside an open transaction: fill the temp tables ``etl_affected`` (the window's affected session ids)
    and ``etl_scope`` (those plus, ``with_buckets``, every session of their cohort buckets) that the
    extract queries join; returns the affected ids. Dropped at commit."""
    params = {"window_start": window.scan_start, "window_end": window.end}
    cur.execute("CREATE TEMP TABLE etl_affected (session_id BIGINT PRIMARY KEY) ON COMMIT DROP")
    cur.execute("INSERT INTO etl_affected " + read_sql("extract/affected_sessions.sql"), params)
    cur.execute("CREATE TEMP TABLE etl_scope (session_id BIGINT PRIMARY KEY) ON COMMIT DROP")
    cur.execute("INSERT INTO etl_scope SELECT session_id FROM etl_affected")
    if with_buckets:
        cur.execute("INSERT INTO etl_scope " + read_sql("extract/bucket_sessions.sql") + " ON CONFLICT DO NOTHING")
    cur.execute("ANALYZE etl_scope")
    cur.execute("SELECT session_id FROM etl_affected")
    return pd.Series([row[0] for row in cur.fetchall()], dtype="int64", name="session_id")


def extract_window(source_url: str, window: Window, with_buckets: bool) -> SourceFrames:
    """Read everything the facts of ``window`` need.

    ``with_buckets`` widens the scope from the affected sessions to every session of the (test, hour)
    cohort buckets they fall in, which the test-level facts recompute completely.
    """
    timings: dict[str, float] = {}
    with psycopg.connect(source_url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot for all reads
        with conn.cursor() as cur:
            t0 = time.perf_counter()
            affected = create_scope(cur, window, with_buckets)
            timings["scope"] = time.perf_counter() - t0
            frames: dict[str, pd.DataFrame] = {}
            for name, columns in EXTRACT_COLUMNS.items():
                t0 = time.perf_counter()
                query, params = read_extract(name, SCOPE_JOIN), None
                if name == "questions":  # the questions the extracted answers point at (answers come first)
                    query = read_sql("extract/questions_by_id.sql")  # ... and every question of the tests
                    params = {"question_ids": np.unique(frames["answers"]["question_id"].to_numpy()).tolist(),
                              "test_ids": np.unique(frames["sessions"]["test_id"].to_numpy()).tolist()}
                frames[name] = copy_to_frame(cur, query.strip(), columns, params)
                timings[name] = time.perf_counter() - t0
    return SourceFrames(affected_ids=affected, seconds=timings, **frames)

"""Extraction for the Pandas engine: the window's scope of sessions, then their complete source history,
read with ``COPY (SELECT …) TO STDOUT`` into typed frames in one consistent snapshot, which the windows of a
range run share (:class:`RangeSnapshot`)."""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

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


def create_scope(cur: psycopg.Cursor, window: Window, with_buckets: bool, skip_done: bool = False) -> pd.Series:
    """Inside an open transaction: fill the temp tables ``etl_affected`` (the window's affected session ids)
    and ``etl_scope`` (those plus, ``with_buckets``, every session of their cohort buckets) that the
    extract queries join; returns the affected ids. Dropped at commit. ``skip_done`` leaves out the sessions
    in the temp table ``etl_done``: the ones an earlier window of the same snapshot built (:class:`RangeSnapshot`)."""
    params = {"window_start": window.scan_start, "window_end": window.end}
    cur.execute("CREATE TEMP TABLE etl_affected (session_id BIGINT PRIMARY KEY) ON COMMIT DROP")
    cur.execute("INSERT INTO etl_affected " + read_sql("extract/affected_sessions.sql"), params)
    if skip_done:
        cur.execute("DELETE FROM etl_affected a USING etl_done d WHERE d.session_id = a.session_id")
    cur.execute("CREATE TEMP TABLE etl_scope (session_id BIGINT PRIMARY KEY) ON COMMIT DROP")
    cur.execute("INSERT INTO etl_scope SELECT session_id FROM etl_affected")
    if with_buckets:
        cur.execute("INSERT INTO etl_scope " + read_sql("extract/bucket_sessions.sql") + " ON CONFLICT DO NOTHING")
    cur.execute("ANALYZE etl_scope")
    cur.execute("SELECT session_id FROM etl_affected")
    return pd.Series([row[0] for row in cur.fetchall()], dtype="int64", name="session_id")


def extract_window(source_url: str, window: Window, with_buckets: bool,
                   snapshot: RangeSnapshot | None = None) -> SourceFrames:
    """Read everything the facts of ``window`` need.

    ``with_buckets`` widens the scope from the affected sessions to every session of the (test, hour)
    cohort buckets they fall in, which the test-level facts recompute completely. With ``snapshot`` the
    window reads in the range run's shared snapshot and skips the sessions its earlier windows built.
    """
    if snapshot is not None:
        return snapshot.extract(window, with_buckets)
    with psycopg.connect(source_url) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot for all reads
        with conn.cursor() as cur:
            return _extract(cur, window, with_buckets)


def _extract(cur: psycopg.Cursor, window: Window, with_buckets: bool, skip_done: bool = False) -> SourceFrames:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    affected = create_scope(cur, window, with_buckets, skip_done)
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


class RangeSnapshot:
    """One source snapshot shared by the windows of a range run (``run_etl.py``, the reload and reconcile DAGs),
    so that each window skips the sessions an earlier window of the run already built.

    Why: late rows and regrades touch a session again hours after it started, and a window recomputes every
    session it touches from its complete history. In one snapshot that history is the same in every window, so
    the second computation would write the same rows: a range read in one snapshot reads each session (and
    each cohort bucket: its sessions all start in one window) about once, as a rebuild does
    (docs/performance.md). Correct because a skipped session's question rows and its bucket were built by an
    earlier window from this very snapshot; a row that commits after it is taken is a late row like any other,
    found by the next run's look-back or by ``reconcile`` (its fingerprints are taken in the same snapshot).

    The connection holds one ``REPEATABLE READ`` transaction with the temp table ``etl_done`` (the affected
    session ids of the windows read in it); each window reads in a savepoint. It starts afresh (a new snapshot,
    nothing done) when older than ``max_age``, when a window adds a pipeline the earlier windows did not build,
    when its connection broke, and when another run of its pipelines succeeded since it was taken, so a range
    never swaps an older snapshot over a newer one. ``max_age`` of zero turns the sharing off (every window
    its own snapshot).

    :param source_url: the source database.
    :param max_age: how long one snapshot may serve (it holds back VACUUM on the source meanwhile).
    """

    def __init__(self, source_url: str, max_age: timedelta) -> None:
        self.source_url = source_url
        self.max_age = max_age
        self.conn: psycopg.Connection | None = None
        self.taken_at = 0.0
        self.warehouse_time: datetime | None = None  # the warehouse's clock when the snapshot was taken
        self.pipelines: frozenset[str] = frozenset()
        self.run_ids: list[str] = []
        self.scanned: tuple[datetime, datetime] | None = None  # the change scans of its windows, if contiguous

    @property
    def enabled(self) -> bool:
        return self.max_age > timedelta(0)

    def prepare(self, warehouse_url: str, pipelines: Sequence[str], run_ids: Sequence[str]) -> bool:
        """Before a window (its pipelines' run locks held): start afresh if the snapshot is too old, does not
        cover ``pipelines`` or is older than another run's success; returns whether the window may use it."""
        if not self.enabled:
            return False
        if self.conn is not None and (self.conn.broken  # e.g. the server's idle_in_transaction_session_timeout
                                      or time.monotonic() - self.taken_at > self.max_age.total_seconds()
                                      or not set(pipelines) <= self.pipelines
                                      or self._newer_run(warehouse_url, pipelines)):
            self.close()
        if self.conn is None:
            with psycopg.connect(warehouse_url) as wh:
                self.warehouse_time = wh.execute("SELECT now()").fetchone()[0]  # before the snapshot: conservative
            self.conn = psycopg.connect(self.source_url)
            self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            self.conn.execute("CREATE TEMP TABLE etl_done (session_id BIGINT PRIMARY KEY) ON COMMIT DROP")
            self.taken_at, self.pipelines, self.run_ids, self.scanned = time.monotonic(), frozenset(pipelines), [], None
        self.pipelines = frozenset(pipelines)  # a pipeline that stopped (failed) leaves the set
        self.run_ids += run_ids
        return True

    def _newer_run(self, warehouse_url: str, pipelines: Sequence[str]) -> bool:
        with psycopg.connect(warehouse_url) as wh:
            return wh.execute(
                "SELECT EXISTS (SELECT 1 FROM analytics.etl_run_log WHERE pipeline_name = ANY(%s)"
                " AND status = 'success' AND finished_at >= %s AND run_id <> ALL(%s))",
                (list(pipelines), self.warehouse_time, self.run_ids)).fetchone()[0]

    def scan_window(self, window: Window) -> Window:
        """``window`` without its look-back when the snapshot's earlier windows scanned it already (the window
        before ended where this one starts): every session changed there is done, so scanning it again would
        only cost time (the change scan and the look-back hour's fingerprint)."""
        if self.scanned is not None and self.scanned[0] <= window.scan_start and self.scanned[1] == window.start:
            return replace(window, lookback=timedelta(0))
        return window

    def extract(self, window: Window, with_buckets: bool) -> SourceFrames:
        """:func:`extract_window` in the shared snapshot: the window's affected sessions less those done."""
        assert self.conn is not None, "prepare() first"
        with self.conn.transaction(), self.conn.cursor() as cur:  # a savepoint: a failed window leaves it usable
            frames = _extract(cur, window, with_buckets, skip_done=True)
            cur.execute("INSERT INTO etl_done SELECT session_id FROM etl_affected")
            cur.execute("DROP TABLE etl_affected, etl_scope")
        contiguous = self.scanned is not None and self.scanned[0] <= window.scan_start <= self.scanned[1]
        self.scanned = (self.scanned[0] if contiguous else window.scan_start, window.end)
        return frames

    def close(self) -> None:
        """End the snapshot (also when another engine builds a window from its own reads): the next window
        that prepares it starts afresh."""
        if self.conn is not None:
            self.conn.close()  # rolls back: the transaction only read
            self.conn = None

    def __enter__(self) -> RangeSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Running the pipelines for a window: extract → transform → load, wrapped in the metadata bookkeeping."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from mcq_analytics import metadata, reconcile
from mcq_analytics.extract import RangeSnapshot, SourceFrames, extract_window
from mcq_analytics.facts import FACT_NAMES, fact
from mcq_analytics.load import DEFAULT_LOCK_TIMEOUT_SECONDS, load_frames
from mcq_analytics.locks import PipelineBusy, pipeline_run_locks
from mcq_analytics.redaction import redact
from mcq_analytics.transform import WindowFacts
from mcq_analytics.windows import Window

log = logging.getLogger(__name__)

PIPELINES = FACT_NAMES  # one pipeline per fact table


@dataclass
class PipelineResult:
    pipeline: str
    window: Window
    run_id: str
    status: str
    engine: str
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    error: str | None = None
    outcome: metadata.RunOutcome | None = field(default=None, repr=False)


def new_run_id(pipeline: str, window: Window) -> str:
    return f"{pipeline}__{window.start:%Y%m%dT%H%M}__{uuid.uuid4().hex[:8]}"


def delete_keys(pipeline: str, src: SourceFrames) -> pd.DataFrame:
    """The keys a window replaces: its affected sessions, or every bucket of the sessions in scope."""
    if fact(pipeline).delete_keys == "sessions":
        return src.affected_ids.to_frame()
    buckets = src.sessions[["test_id"]].assign(hour_start_us=(src.sessions["started_us"] // 3_600_000_000)
                                                * 3_600_000_000)
    return buckets.drop_duplicates()


def build_and_load(pipeline: str, src: SourceFrames, warehouse_url: str, window: Window,
                   run_id: str, shared: WindowFacts | None = None,
                   lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS) -> tuple[int, int]:
    """Compute one fact from extracted frames and swap it in; returns (rows written, rows rejected).

    ``shared`` carries the work the facts of one window have in common (validation, final answers)."""
    facts, rejects = (shared or WindowFacts(src)).build(pipeline)
    written = load_frames(warehouse_url, pipeline, window, run_id, facts, delete_keys(pipeline, src), rejects,
                          lock_timeout_seconds)
    return written, len(rejects)


def run_pandas_window(source_url: str, warehouse_url: str, window: Window,
                      pipelines: Sequence[str] = PIPELINES, triggered_by: str = "cli",
                      run_ids: dict[str, str] | None = None,
                      progress: Callable[[PipelineResult], None] | None = None,
                      final: bool = True,
                      lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS,
                      snapshot: RangeSnapshot | None = None) -> list[PipelineResult]:
    """Run ``pipelines`` for one window on the Pandas engine, extracting the source once (in ``snapshot``, a
    range run's shared snapshot, when given).

    Every pipeline is recorded ``running`` first, then ``success`` or ``failed`` with its own error; a
    failure of one pipeline never stops the others, and its fact table is left as it was.
    ``final=False`` marks an attempt the scheduler will retry: its failure is logged, not counted.
    The pipelines' run locks are held from before the extract until the last swap (``locks``), so a
    concurrent run of the same pipeline never commits an older snapshot over a newer one.
    """
    run_ids = run_ids or {p: new_run_id(p, window) for p in pipelines}
    return guarded_run(source_url, warehouse_url, window, pipelines, run_ids, "pandas", triggered_by, progress,
                       lock_timeout_seconds,
                       lambda: _build_window(source_url, warehouse_url, window, pipelines, run_ids, progress, final,
                                             lock_timeout_seconds, snapshot))


def guarded_run(source_url: str, warehouse_url: str, window: Window, pipelines: Sequence[str],
                run_ids: dict[str, str], engine: str, triggered_by: str,
                progress: Callable[[PipelineResult], None] | None, lock_timeout_seconds: int,
                build: Callable[[], list[PipelineResult]]) -> list[PipelineResult]:
    """The envelope every engine runs a window in, so their guarantees cannot drift apart: fresh pipelines get
    their watermark (the source's first activity hour); the pipelines' run locks are held from before the
    extract until ``build`` returns (after the last swap), or the run is ``refused``; each pipeline is
    recorded ``running`` and its killed runs' rows closed as ``abandoned`` (safe: the lock is ours). ``build``
    takes the source fingerprints (:class:`SourceHours`), builds, and records each pipeline's result."""
    metadata.ensure_watermarks(source_url, warehouse_url, pipelines, window)
    with ExitStack() as held:
        try:
            held.enter_context(pipeline_run_locks(warehouse_url, pipelines, lock_timeout_seconds))
        except PipelineBusy as exc:
            return refused(warehouse_url, window, pipelines, run_ids, engine, triggered_by, str(exc), progress)
        for pipeline in pipelines:
            metadata.begin_run(warehouse_url, pipeline, window, engine, run_ids[pipeline], triggered_by)
            metadata.abandon_orphaned_runs(warehouse_url, pipeline, run_ids[pipeline])
        return build()


@dataclass
class SourceHours:
    """The fingerprints of the source hours a window's change scan fully covers, taken *before* the extract
    (a row committing in between only costs one more reconcile pass) and stored per pipeline after its
    success, so ``reconcile`` knows what each pipeline saw."""

    hours: tuple[datetime, datetime] | None
    prints: dict[datetime, reconcile.HourPrint]

    @classmethod
    def take(cls, source_url: str, window: Window, snapshot: RangeSnapshot | None = None) -> SourceHours:
        """In ``snapshot`` when the window reads in it: the prints must describe what the facts saw."""
        hours = reconcile.covered_hours(window)
        conn = snapshot.conn if snapshot is not None else None
        return cls(hours, reconcile.fingerprint_hours(source_url, *hours, conn) if hours else {})

    def record(self, warehouse_url: str, pipeline: str) -> None:
        if self.hours:
            reconcile.record(warehouse_url, pipeline, self.hours, self.prints)


def refused(warehouse_url: str, window: Window, pipelines: Sequence[str], run_ids: dict[str, str], engine: str,
            triggered_by: str, error: str, progress: Callable[[PipelineResult], None] | None) -> list[PipelineResult]:
    """Results of a run that never started because another run of its pipelines holds their run lock: the
    attempt is logged, but ``etl_metadata`` belongs to the run in progress (no status change, no alert)."""
    results = []
    for pipeline in pipelines:
        metadata.record_refused_run(warehouse_url, pipeline, window, run_ids[pipeline], engine, triggered_by, error)
        result = PipelineResult(pipeline, window, run_ids[pipeline], "failed", engine, error=error)
        log.error("%s %s: %s", pipeline, window, error)
        results.append(result)
        if progress:
            progress(result)
    return results


def _build_window(source_url: str, warehouse_url: str, window: Window, pipelines: Sequence[str],
                  run_ids: dict[str, str], progress: Callable[[PipelineResult], None] | None, final: bool,
                  lock_timeout_seconds: int, snapshot: RangeSnapshot | None = None) -> list[PipelineResult]:
    results: list[PipelineResult] = []
    src: SourceFrames | None = None
    shared: WindowFacts | None = None
    extract_error: str | None = None
    seen: SourceHours | None = None
    try:
        scan = window
        if snapshot is not None and snapshot.prepare(warehouse_url, pipelines, list(run_ids.values())):
            scan = snapshot.scan_window(window)
        else:
            snapshot = None  # sharing is off: the window takes its own snapshot
        seen = SourceHours.take(source_url, scan, snapshot)  # before the extract
        with_buckets = True  # one scope for every set of facts: rows_read/rows_rejected mean one thing (contract §5)
        src = extract_window(source_url, scan, with_buckets=with_buckets, snapshot=snapshot)
        shared = WindowFacts(src)
        log.info("extracted %s: %d rows in %.2fs", window, src.rows_read, sum(src.seconds.values()))
    except Exception as exc:  # recorded per pipeline below
        extract_error = redact(f"extract failed: {type(exc).__name__}: {exc}")
        log.error("extracting %s failed: %s", window, extract_error)
    for pipeline in pipelines:
        result = PipelineResult(pipeline, window, run_ids[pipeline], "failed", "pandas")
        t0 = time.perf_counter()
        try:
            if src is None:
                raise RuntimeError(extract_error)
            result.rows_read = src.rows_read
            result.rows_written, result.rows_rejected = build_and_load(
                pipeline, src, warehouse_url, window, run_ids[pipeline], shared, lock_timeout_seconds
            )
            if seen is not None:
                seen.record(warehouse_url, pipeline)
            result.status = "success"
        except Exception as exc:
            result.error = str(exc) if src is None else redact(f"{type(exc).__name__}: {exc}")
            log.error("%s %s failed: %s", pipeline, window, result.error)
        result.seconds = time.perf_counter() - t0
        result.outcome = metadata.finish_run(
            warehouse_url, pipeline, window, run_ids[pipeline], error=result.error,
            rows_read=result.rows_read, rows_written=result.rows_written, rows_rejected=result.rows_rejected,
            engine="pandas", final=final,
        )
        results.append(result)
        if progress:
            progress(result)
    return results

"""Running the Spark engine for ``run_etl.py`` and the batch DAG: ``run_spark_window`` (one ``spark-submit``
per window, with the same bookkeeping as ``run_pandas_window``) and the ``auto`` engine choice."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

import psycopg

from mcq_analytics import metadata
from mcq_analytics.config import Settings
from mcq_analytics.engines import ProgressFn
from mcq_analytics.pipeline import PIPELINES, PipelineResult, SourceHours, guarded_run, new_run_id
from mcq_analytics.planning import affected_answers
from mcq_analytics.redaction import redact, url_secrets
from mcq_analytics.spark.submit import SparkEngineError, build_job, is_local
from mcq_analytics.windows import Window

log = logging.getLogger(__name__)

#: Process-environment variable: seconds after which a job is killed (unset: no limit).
TIMEOUT_ENV = "MCQ_SPARK_TIMEOUT_SECONDS"
#: Job logs kept in ``<state dir>/spark`` (the newest; older ones are deleted after each run).
KEEP_LOGS = 50


# -- the auto engine -------------------------------------------------------------------------------
def affected_answer_rows(source_url: str, window: Window) -> int:
    """The affected answers of the window's change scan, counted hour by hour as the range planner counts them
    (``planning.affected_answers``, ``include/sql/extract/hour_work.sql``): index range scans plus one index
    lookup per session."""
    return affected_answers(source_url, window)


def choose_engine(settings: Settings, source_url: str, window: Window) -> tuple[str, int | None]:
    """``spark`` when the window's affected answer rows reach ``MCQ_AUTO_ENGINE_THRESHOLD_ROWS``, else
    ``pandas`` (whose start-up is ~0 s against Spark's ~13 s). If the count itself fails, ``pandas`` runs and
    records the failure in the usual way."""
    try:
        rows = affected_answer_rows(source_url, window)
    except psycopg.Error as exc:
        log.warning("auto engine: counting %s failed (%s); using pandas", window, exc)
        return "pandas", None
    engine = "spark" if rows >= settings.auto_engine_threshold else "pandas"
    log.info("auto engine: %s has %d affected answer rows (threshold %d): %s", window, rows,
             settings.auto_engine_threshold, engine)
    return engine, rows


# -- running a window --------------------------------------------------------------------------------
#: A line that names an error: ``pkg.SomeException: message`` (Java or Python), possibly after the prefixes
#: the JVM and Py4J put before it.
_ERROR_LINE = re.compile(r"^(?:Caused by: |Exception in thread \"[^\"]*\" |: )?"
                         r"((?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Exception|Error|Exit)\b(?::.*)?)$")
#: Errors that only wrap the real one (whose line follows).
_WRAPPERS = ("Py4JJavaError: An error occurred while calling", "Error initializing SparkContext")


def log_cause(text: str, limit: int = 300) -> str:
    """The first meaningful line of a job's log: the job's own ``error:`` line, else the first error line
    (Python exception or Java exception, Py4J's wrapper skipped), else the last line — never the stack."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("build_fact.py: error: "):
            return line.removeprefix("build_fact.py: error: ")[:limit]
    for line in lines:
        found = _ERROR_LINE.match(line)
        if found and not any(w in found.group(1) for w in _WRAPPERS):
            return found.group(1)[:limit]
    return lines[-1][:limit] if lines else "the job wrote no log"


def _log_cause(path: Path) -> str:
    try:
        return log_cause(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return f"cannot read the log ({exc.strerror})"


def _run_subprocess(argv: list[str], env: dict[str, str], log_path: Path, timeout: float | None) -> int:
    """Run spark-submit in its own process group (so a timeout or an interrupt kills driver and JVM)."""
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=str(log_path.parent))
        try:
            return proc.wait(timeout=timeout)
        except BaseException:  # timeout, KeyboardInterrupt, task kill: take the whole job down
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise


def prune_logs(work_dir: Path, keep: int = KEEP_LOGS) -> None:
    """Keep the newest ``keep`` job logs of ``work_dir`` (one per window run)."""
    logs = sorted(work_dir.glob("job-*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in logs[keep:]:
        with suppress(OSError):
            old.unlink()


def run_spark_window(settings: Settings, source_url: str, warehouse_url: str, window: Window,
                     pipelines: Sequence[str] = PIPELINES, triggered_by: str = "cli",
                     run_ids: dict[str, str] | None = None, progress: ProgressFn | None = None,
                     expected_rows: int | None = None, final: bool = True) -> list[PipelineResult]:
    """Build ``pipelines`` for ``window`` with one ``spark-submit``; the same bookkeeping and guarantees as the
    Pandas engine (``pipeline.guarded_run``: watermarks of fresh pipelines, run locks held by this process for
    the job's whole life or the run refused, orphaned runs abandoned, source-hour fingerprints before the
    job and recorded after each success). The job's change scan starts at ``window.scan_start`` (the look-back)
    and its swaps wait at most ``settings.lock_timeout_seconds``.
    ``final=False``: an attempt a scheduler will retry (its failure is logged, not counted).

    Every pipeline is recorded ``running`` first; the job writes each pipeline's counts into its run-log
    row inside the swap transaction and reports per-pipeline results in a JSON file; a job that dies
    without reporting leaves every unreported pipeline ``failed``. Each error is one line: the cause (a
    missing driver or unreachable master found before submitting; else the job's report or the first
    meaningful line of its log) and the path of the full log.
    """
    run_ids = run_ids or {p: new_run_id(p, window) for p in pipelines}
    return guarded_run(source_url, warehouse_url, window, pipelines, run_ids, "spark", triggered_by, progress,
                       settings.lock_timeout_seconds,
                       lambda: _submit_window(settings, source_url, warehouse_url, window, pipelines, run_ids,
                                              triggered_by, progress, expected_rows, final))


def _submit_window(settings: Settings, source_url: str, warehouse_url: str, window: Window, pipelines: Sequence[str],
                   run_ids: dict[str, str], triggered_by: str, progress: ProgressFn | None,
                   expected_rows: int | None, final: bool) -> list[PipelineResult]:
    """The job under ``guarded_run``'s run locks (this process lives for the whole job, so they cover it):
    fingerprint the covered source hours, submit, record each pipeline's outcome (and, on success, what it saw)."""
    seen: SourceHours | None = None
    error: str | None = None
    try:
        seen = SourceHours.take(source_url, window)
    except Exception as exc:  # the source is down: the job would fail the same way, so it is not submitted
        error = f"fingerprinting the source failed: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
    if expected_rows is None and is_local(settings.spark_master):
        with suppress(psycopg.Error):  # only sizes the JVM; the job reports a source that is down
            expected_rows = affected_answer_rows(source_url, window)
    t0 = time.perf_counter()
    reported, error, log_path = _run_job(settings, source_url, warehouse_url, window, pipelines, run_ids,
                                         triggered_by, expected_rows, error)
    seconds = time.perf_counter() - t0
    results = []
    for pipeline in pipelines:
        result = _pipeline_result(pipeline, window, run_ids[pipeline], reported.get(pipeline), error, log_path,
                                  seconds, seen, source_url, warehouse_url, final)
        if result.status != "success" and progress is None:  # with progress, the caller shows the error
            log.error("%s %s failed: %s", pipeline, window, result.error)
        results.append(result)
        if progress:
            progress(result)
    return results


def _run_job(settings: Settings, source_url: str, warehouse_url: str, window: Window, pipelines: Sequence[str],
             run_ids: dict[str, str], triggered_by: str, expected_rows: int | None,
             error: str | None) -> tuple[dict[str, dict], str | None, Path | None]:
    """Submit the job and wait: (each pipeline's reported result, the job's error in one line, its log)."""
    work_dir = settings.state_dir / "spark"
    reported: dict[str, dict] = {}
    log_path: Path | None = None
    try:
        if error is not None:  # reported like a failed preflight, one line for every pipeline
            raise SparkEngineError(error)
        work_dir.mkdir(parents=True, exist_ok=True)
        tag = f"{window.start:%Y%m%dT%H%M}-{hashlib.sha1(run_ids[pipelines[0]].encode()).hexdigest()[:8]}"
        result_file = work_dir / f"result-{tag}.json"
        log_path = work_dir / f"job-{tag}.log"
        job = build_job(settings.spark_master, source_url, warehouse_url, window, pipelines, run_ids,
                        jdbc_jar=settings.jdbc_jar, expected_rows=expected_rows, work_dir=work_dir,
                        result_file=result_file, triggered_by=triggered_by,
                        lock_timeout_seconds=settings.lock_timeout_seconds)
        env = {**os.environ, **job.env}
        timeout = float(os.environ[TIMEOUT_ENV]) if os.environ.get(TIMEOUT_ENV) else None
        log.info("spark-submit %s %s (log %s)", ",".join(pipelines), window, log_path)
        try:
            code = _run_subprocess(job.argv(), env, log_path, timeout)
        except subprocess.TimeoutExpired:
            code = None
            error = f"spark job killed after {timeout:.0f}s ({TIMEOUT_ENV}); log: {log_path}"
        if result_file.exists():
            reported = {r["pipeline"]: r for r in json.loads(result_file.read_text(encoding="utf-8"))}
            result_file.unlink()
        if error is None and (code != 0 or len(reported) < len(pipelines)):
            how = f"exit code {code}" if code is None or code >= 0 else f"killed by signal {-code}"
            error = f"spark job failed ({how}): {_log_cause(log_path)}; log: {log_path}"
    except SparkEngineError as exc:  # a missing driver, an unreachable master...: already one line
        error = str(exc)
    except Exception as exc:
        error = f"spark job could not run: {type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
    with suppress(OSError):
        prune_logs(work_dir)
    return reported, error, log_path


def _pipeline_result(pipeline: str, window: Window, run_id: str, got: dict | None, error: str | None,
                     log_path: Path | None, seconds: float, seen: SourceHours | None, source_url: str,
                     warehouse_url: str, final: bool) -> PipelineResult:
    """One pipeline's result of the job, its fingerprints recorded on success and its run finished."""
    result = PipelineResult(pipeline, window, run_id, "failed", "spark", seconds=seconds)
    if got:
        result.status = got["status"]
        result.error = got.get("error")
        if result.error and log_path is not None:
            result.error = f"{result.error}; log: {log_path}"
        result.rows_read = got.get("rows_read") or 0
        result.rows_written = got.get("rows_written") or 0
        result.rows_rejected = got.get("rows_rejected") or 0
    else:
        result.error = error or "spark job reported no result"
    if result.status == "success" and seen is not None:
        try:
            seen.record(warehouse_url, pipeline)
        except Exception as exc:  # the facts are in, but reconcile would not know what they saw: rerun it
            result.status = "failed"
            result.error = f"recording the source fingerprints failed: {type(exc).__name__}: {exc}"
    if result.status != "success" and not result.error:
        result.error = "spark job failed"
    if result.error:  # the job's log tail could quote anything: no password leaves this function
        result.error = redact(result.error, url_secrets(source_url, warehouse_url))
    counts = got or {}
    result.outcome = metadata.finish_run(
        warehouse_url, pipeline, window, run_id, error=result.error if result.status != "success" else None,
        rows_read=counts.get("rows_read"), rows_written=counts.get("rows_written"),
        rows_rejected=counts.get("rows_rejected"), engine="spark", final=final,
    )
    return result

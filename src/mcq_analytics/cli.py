"""``run_etl.py``: the pipeline's command line.

    python run_etl.py --env dev                                   # catch up from each watermark
    python run_etl.py --env dev --start "2024:06:01 10" --end "2024:06:01 11"
    python run_etl.py --env dev --start "2024:06:01 00" --end "2024:06:02 00" [--window-hours 1 | --window-budget N]
    python run_etl.py --env dev init-db | status | demo | reconcile
    python run_etl.py --env dev items [--test 12] [--start … --end …]   # item analysis tables

Exit codes: 0 success, 1 a run failed or a database is unreachable, 2 bad arguments or configuration.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import psycopg

from mcq_analytics import alerts, metadata, reconcile, reporting
from mcq_analytics.config import ENGINES, ConfigError, Settings, load_settings
from mcq_analytics.connections import ConnectionFailed, Databases, check_reachable, resolve_databases
from mcq_analytics.demo import DemoRefused, run_demo
from mcq_analytics.embedded_pg import EmbeddedPostgresError
from mcq_analytics.engines import run_window
from mcq_analytics.extract import RangeSnapshot
from mcq_analytics.item_report import item_report
from mcq_analytics.pipeline import PIPELINES, PipelineResult
from mcq_analytics.planning import catch_up_windows, first_activity_hour, plan_range
from mcq_analytics.redaction import install_log_redaction, redact
from mcq_analytics.schema import init_databases
from mcq_analytics.spark.submit import SparkUnavailable, preflight
from mcq_analytics.windows import Window, WindowError, last_full_hour, parse_time

COMMANDS = ("run", "init-db", "status", "demo", "reconcile", "items")


class UsageError(Exception):
    """Bad arguments: reported in one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the whole usage otherwise)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="run_etl.py", description="Build the MCQ analytics fact tables for a range of hours.")
    parser.add_argument("command", nargs="?", default="run", choices=COMMANDS,
                        help="run (default): build facts; init-db: apply the DDL; status: show metadata; "
                             "demo: generate data on the embedded default, run, and summarise; "
                             "reconcile: reprocess processed hours whose source rows changed since "
                             "(default range: the last MCQ_RECONCILE_DAYS days)")
    parser.add_argument("--env", default="dev", help="environment: loads .env.ENV (default: dev)")
    parser.add_argument("--start", help="window range start, 'YYYY:MM:DD HH' or ISO 8601 (UTC if no zone)")
    parser.add_argument("--end", help="window range end (exclusive); default: the last full hour")
    parser.add_argument("--engine", choices=ENGINES, help="override MCQ_ENGINE (pandas, spark, auto)")
    parser.add_argument("--pipeline", action="append", choices=PIPELINES,
                        help="run only this fact table's pipeline (repeatable; default: all three)")
    parser.add_argument("--window-hours", type=_positive("hours"), metavar="N",
                        help="cut the range into windows of up to N clock hours of activity (1: one window per "
                             "active hour); default: by --window-budget")
    parser.add_argument("--window-budget", type=_positive("affected answers"), metavar="N",
                        help="cut the range into windows of up to N affected answers (default: MCQ_WINDOW_BUDGET, "
                             "2,000,000); a catch-up from the watermarks runs hour by hour unless one of these "
                             "two is given")
    parser.add_argument("--answers", type=int, default=50_000, help="demo: answer rows to generate")
    parser.add_argument("--test", type=int, help="items: the test to analyse (default: every flagged item)")
    parser.add_argument("--min-attempts", type=int, default=30,
                        help="items: scored attempts a question needs before it is flagged (default 30)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors and the summary")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="demo: show the pipeline's log lines here (default: only in <state dir>/logs/demo.log)")
    return parser


def _positive(unit: str) -> Callable[[str], int]:
    """An argparse type: a whole number ≥ 1 (bad values end in argparse's one-line error)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be a positive whole number of {unit}, got {text!r}")
        return value
    return parse


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(args: argparse.Namespace) -> Path | None:
    """Log lines go to stderr, except for the demo: its output is meant to be read, so there they go to a
    file (returned; warnings and errors still reach stderr) unless ``--verbose``."""
    level = logging.WARNING if args.quiet else logging.INFO
    if args.command != "demo" or args.verbose:
        logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
        return None
    path = load_settings(args.env).state_dir / "logs" / "demo.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=level, format=LOG_FORMAT, filename=path, filemode="w", encoding="utf-8")
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setLevel(logging.WARNING)
    to_terminal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(to_terminal)
    return path


def _print(text: str = "") -> None:
    print(text, flush=True)


def _progress(result: PipelineResult) -> None:
    mark = "ok " if result.status == "success" else "FAILED"
    line = (f"  {result.window}  {result.pipeline:<26} {mark:<6} read {result.rows_read:>9,}  "
            f"written {result.rows_written:>8,}  rejected {result.rows_rejected:>6,}  {result.seconds:6.2f}s")
    if result.error:
        line += f"\n      error: {result.error.splitlines()[0]}"
    _print(line)


def plan_windows(args: argparse.Namespace, settings: Settings, dbs: Databases,
                 pipelines: Sequence[str]) -> dict[Window, list[str]]:
    """Windows to run, each with the pipelines that need it, in time order.

    No window may end after the last settled hour (``MCQ_SETTLE_MINUTES`` after the last full hour): its
    rows may still be committing. An explicit range is cut into work-sized windows (``planning.plan_range``:
    up to ``--window-budget``/``MCQ_WINDOW_BUDGET`` affected answers, or ``--window-hours`` clock hours); a
    catch-up from the watermarks runs one window per active hour (a failure pins one hour) unless
    ``--window-hours``/``--window-budget`` is given. Quiet stretches are one window each either way.
    """
    limit = last_full_hour(settle=settings.settle)
    end = parse_time(args.end) if args.end else limit
    if end > limit:
        raise UsageError(f"--end {end:%Y-%m-%d %H:%M} is after the last settled hour {limit:%Y-%m-%d %H:%M} UTC "
                         f"(the last full hour, {settings.settle.total_seconds() / 60:.0f} min after its end): "
                         "its rows may still be committing")
    sized = args.window_hours is not None or args.window_budget is not None

    def windows(start: datetime) -> list[Window]:
        if not (args.start or sized):
            return catch_up_windows(dbs.source_url, start, end)
        return plan_range(dbs.source_url, start, end, budget=args.window_budget or settings.window_budget,
                          window_hours=args.window_hours, shared_snapshot=settings.shares_range_snapshot)

    if args.start:
        start = parse_time(args.start)
        if end <= start:
            raise UsageError(f"--end {end:%Y-%m-%d %H:%M} must be after --start {start:%Y-%m-%d %H:%M}")
        return {w: list(pipelines) for w in windows(start)}
    plan: dict[Window, list[str]] = {}
    first = None
    for pipeline in pipelines:
        start = metadata.watermark(dbs.warehouse_url, pipeline)
        if start is None:
            first = first or first_activity_hour(dbs.source_url)
            start = first
        if start is None or start >= end:
            continue
        for window in windows(start):
            plan.setdefault(window, []).append(pipeline)
    return dict(sorted(plan.items()))


def run_plan(plan: dict[Window, list[str]], engine: str, settings: Settings, dbs: Databases,
             quiet: bool, *, triggered_by: str = "cli",
             progress: Callable[[PipelineResult], None] | None = None) -> list[PipelineResult]:
    """Run the windows in order. A pipeline whose window fails stops there: its later windows are not run
    (they could not move its watermark past the failed hour), so it stays ``failed`` and alerts. The windows
    share one source snapshot (``extract.RangeSnapshot``), so a session is read about once per run.
    ``triggered_by``/``progress`` let the reconcile DAG record its runs as its own and log each result."""
    results: list[PipelineResult] = []
    stopped: dict[str, Window] = {}
    with RangeSnapshot(dbs.source_url, settings.range_snapshot_age) as snapshot:  # Pandas windows share it
        for window, planned in plan.items():
            pipelines = [p for p in planned if p not in stopped]
            if not pipelines:
                continue
            batch = run_window(engine, settings, dbs.source_url, dbs.warehouse_url, window, pipelines, triggered_by,
                               progress=progress or (None if quiet else _progress), snapshot=snapshot)
            for result in batch:  # the same alert policy as the Airflow callbacks; never raises
                if result.outcome is not None:
                    alerts.notify_after_run(result.outcome, settings, dbs.warehouse_url, window=result.window,
                                            error=result.error, run_id=result.run_id)
                if result.status != "success":
                    stopped[result.pipeline] = window
            results += batch
    for pipeline, window in stopped.items():
        skipped = sum(1 for w, planned in plan.items() if w > window and pipeline in planned)
        if skipped:
            _print(f"  {pipeline}: stopped after its failed window {window}; {skipped} later window(s) not run")
    return results


def reconcile_plan(args: argparse.Namespace, settings: Settings, dbs: Databases,
                   pipelines: Sequence[str]) -> dict[Window, list[str]]:
    """Hours to reprocess (``reconcile.plan``, shared with the reconcile DAG) for the command line's range."""
    try:
        return reconcile.plan(dbs.source_url, dbs.warehouse_url, pipelines, settings.reconcile_days,
                              start=parse_time(args.start) if args.start else None,
                              end=parse_time(args.end) if args.end else None)
    except reconcile.ReconcileRangeError as exc:
        raise UsageError(str(exc)) from None


def summarise_results(results: list[PipelineResult], seconds: float) -> str:
    """The totals in one line, then one line per failed pipeline run: its first error line (for Spark the
    cause and the path of the job's log)."""
    failed = [r for r in results if r.status != "success"]
    windows = len({r.window for r in results})
    text = (f"{windows} window(s), {len(results)} pipeline run(s): {len(results) - len(failed)} succeeded, "
            f"{len(failed)} failed; {sum(r.rows_written for r in results):,} fact rows written, "
            f"{sum(r.rows_rejected for r in results):,} rejects in {seconds:.1f}s")
    for r in failed:
        text += f"\nFAILED {r.pipeline} {r.window}: {(r.error or '').splitlines()[0]}"
    return text


def _spark_preflight(args: argparse.Namespace, settings: Settings) -> None:
    """``--engine spark``: what every window needs (driver, Java, a reachable master) is checked once, before
    anything runs, and reported in one line (``SparkUnavailable``) — not as a failed run per window."""
    if args.command in ("run", "reconcile") and (args.engine or settings.engine) == "spark":
        preflight(settings.spark_master, settings.jdbc_jar)


def _setup(args: argparse.Namespace) -> tuple[Settings, Databases]:
    settings = load_settings(args.env)
    _spark_preflight(args, settings)
    dbs = resolve_databases(settings)
    check_reachable("source", dbs.source_url)
    check_reachable("warehouse", dbs.warehouse_url)
    if settings.use_embedded or args.command in ("init-db", "demo"):
        init_databases(dbs.source_url, dbs.warehouse_url)
    return settings, dbs


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        start = parse_time(args.start) if args.start is not None else None
        end = parse_time(args.end) if args.end is not None else None
        if start and end and end <= start:  # checked before any configuration or connection
            raise UsageError(f"--end {end:%Y-%m-%d %H:%M} must be after --start {start:%Y-%m-%d %H:%M}")
        log_file = configure_logging(args)
        install_log_redaction()  # after configure_logging: it wraps every handler it set up
        settings, dbs = _setup(args)
        return _command(args, settings, dbs, log_file)
    except (UsageError, WindowError, ConfigError) as exc:
        print(f"run_etl.py: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except (ConnectionFailed, EmbeddedPostgresError, DemoRefused, SparkUnavailable) as exc:
        print(f"run_etl.py: error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:  # the warehouse went away, or cannot be written: one line, never a traceback
        print(f"run_etl.py: error: {database_problem(exc)}", file=sys.stderr)
        return 1


def database_problem(exc: psycopg.Error) -> str:
    """One line for a database error outside a fact build (bookkeeping, planning), with what to do."""
    first = redact((str(exc).strip().splitlines() or [type(exc).__name__])[0])
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
        return f"the warehouse has no analytics schema ({first}): run `python run_etl.py --env ENV init-db`"
    if isinstance(exc, psycopg.errors.InsufficientPrivilege | psycopg.errors.ReadOnlySqlTransaction):
        return (f"the warehouse user may not write the analytics schema ({first}): "
                "grant it INSERT/UPDATE/DELETE on analytics.*")
    if isinstance(exc, psycopg.OperationalError):
        return f"lost the database connection ({first}); runs not recorded as finished are closed by the next run"
    return f"database error: {type(exc).__name__}: {first}"


def _command(args: argparse.Namespace, settings: Settings, dbs: Databases, log_file: Path | None = None) -> int:
    if args.command == "init-db":
        _print("schema applied to the source and warehouse databases")
        return 0
    if args.command == "status":
        _print(reporting.format_metadata(metadata.read_metadata(dbs.warehouse_url),
                                         stale_after=settings.stale_after))
        return 0
    if args.command == "demo":
        return run_demo(settings, dbs, answers=args.answers, log_file=log_file)
    if args.command == "items":
        _print(item_report(dbs.warehouse_url, parse_time(args.start) if args.start else None,
                           parse_time(args.end) if args.end else None, args.test, args.min_attempts))
        return 0
    pipelines = args.pipeline or PIPELINES
    if args.command == "reconcile":
        plan = reconcile_plan(args, settings, dbs, pipelines)
        if not plan:
            _print("reconciled: no processed hour changed in the source")
            return 0
        _print(f"reconcile: {len(plan)} processed hour(s) changed in the source; reprocessing them")
    else:
        plan = plan_windows(args, settings, dbs, pipelines)
        if not plan:
            _print("nothing to do: every pipeline is up to date")
            return 0
    started = datetime.now()
    results = run_plan(plan, args.engine or settings.engine, settings, dbs, args.quiet)
    _print(summarise_results(results, (datetime.now() - started).total_seconds()))
    return 1 if any(r.status != "success" for r in results) else 0

"""The command line: arguments, the throwaway server or the given databases, the run, the report, the exit code."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import mcq_bench
from mcq_bench.airflow_backfill import PRELOADED_EXECUTOR
from mcq_bench.dataset import clean_user_databases, holds_rows
from mcq_bench.history import measure_history
from mcq_bench.measure import run_benchmark
from mcq_bench.report import all_runs, jsonable, machine_info, print_saved, summarise
from mcq_bench.runner import Context
from mcq_bench.scales import ENGINES, RESULTS_DIR, SCALES, SOURCE_TABLES, WAREHOUSE_TABLES
from mcq_bench.worker import worker_main

if TYPE_CHECKING:
    from mcq_analytics.embedded_pg import EmbeddedPostgres


# -- command line ----------------------------------------------------------------------------------------
def _spark_unavailable() -> str | None:
    """Why the Spark engine cannot be benchmarked here, or None."""
    import importlib.util

    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java (java not on PATH, JAVA_HOME unset)"
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed"
    try:
        import mcq_analytics.spark.submit  # noqa: F401
    except Exception as exc:
        return f"mcq_analytics.spark.submit does not import: {type(exc).__name__}: {exc}"
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcq-bench", description=mcq_bench.__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated subset of pandas,spark,reference (default: all; Spark is skipped "
                             "with a note where Java or pyspark is missing)")
    parser.add_argument("--json", type=Path, help="write the results here (default bench/results/<time>-<scale>.json)")
    parser.add_argument("--source-url", help="use this source database instead of a throwaway server: its source "
                                             "tables are TRUNCATED and refilled (needs --reset if they hold rows)")
    parser.add_argument("--warehouse-url", help="use this warehouse database (its analytics tables are TRUNCATED)")
    parser.add_argument("--reset", action="store_true", help="allow truncating non-empty --source-url/--warehouse-url")
    parser.add_argument("--repeat", type=int, help="measured runs per engine of the small window (median)")
    parser.add_argument("--spark-backfill-windows", type=int, help="windows of the backfill Spark runs")
    parser.add_argument("--env", default="dev", help="settings environment for Spark (default dev)")
    parser.add_argument("--work-dir", type=Path, help="scratch folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway server, data and logs")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--airflow", action="store_true", help="also section 6: a real Airflow backfill of the "
                                                               "demo's 6 hours under a local scheduler")
    parser.add_argument("--airflow-only", action="store_true", help="only section 6 (no engine phases)")
    parser.add_argument("--history-only", action="store_true",
                        help="only section 7: the scale's large history as a work-sized range against the rebuild, "
                             "the item facts' share of a window, the range functions (full: the 10M figures)")
    parser.add_argument("--airflow-max-active-runs", type=int, default=3, metavar="N",
                        help="the Airflow backfill's --max-active-runs (default 3)")
    parser.add_argument("--airflow-parallelism", type=int, default=8, metavar="N",
                        help="the local scheduler's task slots, [core] parallelism (default 8, as make airflow)")
    parser.add_argument("--airflow-executor", default=PRELOADED_EXECUTOR, metavar="CLASS",
                        help="the scheduler's [core] executor (default: the package's PreloadedLocalExecutor, as make "
                             "airflow; LocalExecutor measures what it saves, or an older checkout)")
    parser.add_argument("--from-json", type=Path, metavar="PATH", help="print the tables of a saved run and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser


def _say(line: str) -> None:
    """Progress goes to stderr: stdout carries the tables only."""
    print(line, file=sys.stderr, flush=True)


def _requested_engines(text: str) -> list[str] | None:
    """The engines asked for, reference first (the others are ratios to it); None after one error line."""
    engines = [e.strip() for e in text.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown or not engines:
        print(f"error: unknown engine(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(ENGINES)}",
              file=sys.stderr)
        return None
    return [e for e in ENGINES if e in engines]


def _skip_unavailable(engines: list[str]) -> dict[str, str]:
    """Drop Spark from ``engines`` where it cannot run here; returns what was skipped and why."""
    reason = _spark_unavailable() if "spark" in engines else None
    if reason:
        engines.remove("spark")
        return {"spark": reason}
    return {}


def _refuse_filled(source_url: str, warehouse_url: str) -> bool:
    """True (after one error line) when the given databases hold rows the benchmark would truncate."""
    filled = holds_rows(source_url, SOURCE_TABLES) + [
        f"analytics.{t}" for t in holds_rows(warehouse_url, WAREHOUSE_TABLES[:4], "analytics")]
    if filled:
        print(f"error: {', '.join(filled)} hold rows; the benchmark truncates them: pass --reset to allow it",
              file=sys.stderr)
    return bool(filled)


def _run_and_report(args: argparse.Namespace, ctx: Context, skipped: dict[str, str], began: float) -> int:
    """Measure, print the tables, write the JSON (also after a failure: what was measured is kept)."""
    scale = ctx.scale
    report = {"scale": asdict(scale), "engines": ctx.engines, "skipped": skipped, "repeat": ctx.repeat,
              "machine": machine_info(ctx.source_url), "started_at": datetime.now(UTC)}
    path = args.json or RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{scale.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if args.history_only:
            report["history"] = measure_history(ctx)
        elif not args.airflow_only:
            run_benchmark(ctx, report)
        if args.airflow or args.airflow_only:
            report["airflow"] = _airflow_section(ctx, args.airflow_max_active_runs, args.airflow_parallelism,
                                                  args.airflow_executor)
        text, targets = summarise(ctx, report)
    except Exception:
        report["error"] = traceback.format_exc()
        report["elapsed_seconds"] = time.perf_counter() - began
        path.write_text(json.dumps(jsonable(report), indent=2) + "\n", encoding="utf-8")
        _say(f"{report['error']}the benchmark failed; what it measured is in {path}")
        return 1
    report["targets"] = targets
    report["elapsed_seconds"] = time.perf_counter() - began
    print(text)
    path.write_text(json.dumps(jsonable(report), indent=2) + "\n", encoding="utf-8")
    _say(f"results written to {path} ({report['elapsed_seconds']:.0f} s in all)")
    failed = [f"{r.engine} {r.label}" for r in all_runs(report) if not r.ok]
    if failed:
        _say("FAILED runs: " + "; ".join(failed) + f" (logs in {ctx.work_dir}, kept)")
        args.keep = True
        return 1
    if args.check and not all(t["met"] for t in targets.values()):
        return 1
    return 0


def _airflow_section(ctx: Context, max_active_runs: int, parallelism: int, executor: str) -> dict:
    """Section 6 on the benchmark's server (its failure is reported in the section, not fatal)."""
    from mcq_bench.airflow_backfill import measure_airflow_backfill

    ctx.say("section 6: Airflow backfill")
    try:
        return measure_airflow_backfill(ctx.admin_url or ctx.source_url, ctx.work_dir, ctx.say,
                                        max_active_runs=max_active_runs, parallelism=parallelism,
                                        executor=executor)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def _clean_up(args: argparse.Namespace, server: EmbeddedPostgres | None, wrote_user_databases: bool,
             work_dir: Path) -> None:
    """Leave nothing behind unless ``--keep`` (set too when a run failed, so its logs stay)."""
    if wrote_user_databases and not args.keep:
        clean_user_databases(args.source_url, args.warehouse_url)
    if server is not None and not args.keep:
        server.stop()
    if not args.keep and args.work_dir is None:
        shutil.rmtree(work_dir, ignore_errors=True)
    elif args.keep and server is not None:
        _say(f"kept: server on port {server.port} ({server.url('mcq_bench_source')}), logs in {work_dir}")


def main(argv: list[str] | None = None) -> int:
    """``mcq-bench``: exit 0 when every run succeeded (and, with ``--check``, every target was met), 1 when a
    run failed or a target was missed, 2 for bad arguments or databases that hold rows without ``--reset``."""
    args = _parser().parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    if args.from_json:
        return print_saved(args.from_json)
    scale = SCALES[args.scale]
    engines = _requested_engines(args.engines)
    if engines is None:
        return 2
    if bool(args.source_url) != bool(args.warehouse_url):
        print("error: give both --source-url and --warehouse-url, or neither (throwaway server)", file=sys.stderr)
        return 2
    skipped = _skip_unavailable(engines)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="mcq-bench-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    server = None
    wrote_user_databases = False  # set once the given databases are written: only then are they cleaned
    began = time.perf_counter()
    try:
        if args.source_url:
            source_url, warehouse_url, admin_url = args.source_url, args.warehouse_url, args.source_url
            if not args.reset and _refuse_filled(source_url, warehouse_url):
                return 2
            wrote_user_databases = True
        else:
            from mcq_analytics.embedded_pg import EmbeddedPostgres

            _say(f"starting a throwaway PostgreSQL in {work_dir}")
            server = EmbeddedPostgres(work_dir / "pgdata", ephemeral=not args.keep).start()
            source_url = server.create_database("mcq_bench_source")
            warehouse_url = server.create_database("mcq_bench_warehouse")
            admin_url = server.url("postgres")
        ctx = Context(scale=scale, engines=engines, work_dir=work_dir, source_url=source_url,
                      warehouse_url=warehouse_url, admin_url=admin_url, env_name=args.env,
                      repeat=args.repeat or scale.repeat,
                      spark_backfill_windows=scale.spark_backfill_windows if args.spark_backfill_windows is None
                      else args.spark_backfill_windows, say=_say)
        return _run_and_report(args, ctx, skipped, began)
    finally:
        _clean_up(args, server, wrote_user_databases, work_dir)

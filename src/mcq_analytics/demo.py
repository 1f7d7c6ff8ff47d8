"""``run_etl.py demo``: generate data on the embedded default, run the hourly windows, print the facts.

It resets the source and the facts, so it refuses to touch anything but the embedded databases.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg

from mcq_analytics import reporting
from mcq_analytics.config import Settings
from mcq_analytics.connections import Databases
from mcq_analytics.engines import run_window
from mcq_analytics.facts import BOOKKEEPING_TABLES, FACT_NAMES, REGISTRY
from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.item_report import item_report
from mcq_analytics.metadata import read_metadata
from mcq_analytics.pipeline import PipelineResult
from mcq_analytics.windows import hourly_windows

DEMO_TABLES = (*FACT_NAMES, *BOOKKEEPING_TABLES)
#: The progress table's column per fact: its name without ``_fact`` (``question_interaction`` …).
FACT_LABELS = tuple(f.name.removesuffix("_fact") for f in REGISTRY)
INDENT = " " * 6
#: What a new user does next, after the demo's facts (command, what it shows).
NEXT_STEPS = (
    ("make airflow", "the Airflow UI on http://localhost:8080 (login printed) with both DAGs"),
    (".venv/bin/python run_etl.py --env dev status", "each pipeline's watermark and last run"),
    (".venv/bin/python run_etl.py --env dev items --test N", "one test's item analysis (docs/item_analysis.md)"),
)


class DemoRefused(RuntimeError):
    """The demo would overwrite databases that are not the embedded default."""


def _say(text: str = "") -> None:
    print(text, flush=True)


def progress_header(window_width: int) -> str:
    """Column titles of the per-window lines: rows read, then rows written per fact, by short name."""
    return (f"{INDENT}{'window':<{window_width}}  {'status':<6} {'read':>8}  written: "
            + "  ".join(FACT_LABELS) + f"  {'time':>6}")


def progress_line(window: str, status: str, read: int, written: list[int], seconds: float) -> str:
    """One window, each written count right-aligned under its fact's label in ``progress_header``."""
    counts = "  ".join(f"{n:>{len(label)},}" for n, label in zip(written, FACT_LABELS, strict=True))
    return f"{INDENT}{window}  {status:<6} {read:>8,}  {'':8} " + counts + f"  {seconds:5.2f}s"


def next_steps(log_file: Path | None) -> str:
    width = max(len(cmd) for cmd, _ in NEXT_STEPS)
    lines = ["next steps:"] + [f"  {cmd:<{width}}  {what}" for cmd, what in NEXT_STEPS]
    if log_file:
        lines.append(f"\nthis run's log: {log_file} (run_etl.py --env dev demo --verbose shows it here)")
    return "\n".join(lines)


def run_demo(settings: Settings, dbs: Databases, answers: int, log_file: Path | None = None) -> int:
    """Generate ``answers`` rows, run every pipeline over the hourly windows, print the facts and next steps;
    ``log_file`` is where the CLI sent the log lines (``None``: they are on the terminal)."""
    if settings.source_url or settings.warehouse_url:
        raise DemoRefused("the demo resets its databases: it only runs on the embedded default "
                          "(unset MCQ_SOURCE_URL and MCQ_WAREHOUSE_URL)")
    began = time.perf_counter()
    _say(f"[1/3] generating {answers:,} answer rows (seed 42) into the embedded source database …")
    report = generate(dbs.source_url, GeneratorConfig(answers=answers, hours=6, seed=42), reset=True,
                      progress=lambda line: _say(f"      {line}"))
    _say("\n".join(f"      {line}" for line in report.format().splitlines()))

    with psycopg.connect(dbs.warehouse_url) as conn:  # a clean slate, so the summary shows this run only
        conn.execute("TRUNCATE " + ", ".join(f"analytics.{t}" for t in DEMO_TABLES))
    windows = list(hourly_windows(*report.window_range()))
    _say(f"\n[2/3] running the {len(FACT_NAMES)} pipelines over {len(windows)} hourly windows "
         f"({settings.engine} engine) …")
    results: list[PipelineResult] = []
    if windows:
        _say(progress_header(len(str(windows[0]))))
    for window in windows:
        t0 = time.perf_counter()
        batch = run_window(settings.engine, settings, dbs.source_url, dbs.warehouse_url, window, triggered_by="demo")
        results += batch
        status = "ok" if all(r.status == "success" for r in batch) else "FAILED"
        written = {r.pipeline: r.rows_written for r in batch}
        _say(progress_line(str(window), status, batch[0].rows_read, [written.get(f.name, 0) for f in REGISTRY],
                           time.perf_counter() - t0))
    failed = [r for r in results if r.status != "success"]
    for r in failed:
        _say(f"      FAILED {r.pipeline} {r.window}: {r.error}")

    _say("\n[3/3] the facts\n")
    _say(reporting.fact_summaries(dbs.warehouse_url))
    _say("\n" + reporting.format_metadata(read_metadata(dbs.warehouse_url)))
    _say("\nitem analysis of the demo data: the questions and options the pipeline flags\n")
    _say(item_report(dbs.warehouse_url, None, None))
    _say(f"\ndemo finished in {time.perf_counter() - began:.1f}s: {report.rows['answers']:,} answers generated, "
         f"{len(windows)} windows, {sum(r.rows_written for r in results):,} fact rows written, "
         f"{sum(r.rows_rejected for r in results):,} rejects found, {len(failed)} failures")
    _say("\n" + next_steps(log_file))
    return 1 if failed else 0


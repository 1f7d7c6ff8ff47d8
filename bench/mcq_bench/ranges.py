"""The range section (issue 17): the large history rebuilt as a range the way ``run_etl.py --start --end``
runs it — planned by ``mcq_analytics.planning`` and run through one CLI ``run_plan`` (look-back included, the
windows sharing one source snapshot) —
once as hourly windows (``--window-hours 1``) and once as work-sized windows (``MCQ_WINDOW_BUDGET``), against
the in-database rebuild of the whole range (the SQL reference, one statement set). One run, the same history."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from mcq_analytics.facts import FACT_NAMES
from mcq_analytics.windows import Window
from mcq_bench.analysis import ratio_or_none
from mcq_bench.dataset import DataSet, reset_warehouse
from mcq_bench.runner import Context, Run
from mcq_bench.scales import REFERENCE_SCHEMA

#: The issue's target: a range through run_etl.py at most this many times the in-database rebuild.
TARGET_RANGE_VS_REBUILD = 2.0
#: ... and a 10M-answer range at most this many times.
TARGET_LARGE_RANGE_VS_REBUILD = 1.5
#: (label, ``--window-hours``): None plans by the budget.
MODES = (("hourly", 1), ("work-sized", None))


# -- the parent ------------------------------------------------------------------------------------------
def measure_ranges(ctx: Context, history: DataSet,
                   modes: tuple[str, ...] = tuple(m for m, _ in MODES)) -> dict[str, Any]:
    """Each planner mode in ``modes`` from an empty warehouse, then the rebuild; the fact rows each left behind."""
    window = history.window
    task = {"kind": "range", "start": window.start.isoformat(), "end": window.end.isoformat()}
    from mcq_analytics.config import load_settings

    budget = load_settings(ctx.env_name, environ=ctx.settings_env()).window_budget
    out: dict[str, Any] = {"range": window, "budget": budget, "runs": {}, "fact_rows": {}}
    if "pandas" in ctx.engines:
        for mode, hours in (m for m in MODES if m[0] in modes):
            reset_warehouse(ctx.source_url, ctx.warehouse_url)
            out["runs"][mode] = ctx.run("pandas", f"range, {mode} windows", {**task, "window_hours": hours})
            out["fact_rows"][mode] = fact_rows(ctx.warehouse_url, "analytics")
    if "reference" in ctx.engines:
        out["runs"]["rebuild"] = ctx.run("reference", "range, in-database rebuild", task)
        out["fact_rows"]["rebuild"] = fact_rows(ctx.source_url, REFERENCE_SCHEMA)
    return out


def fact_rows(url: str, schema: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name)))
                .fetchone()[0] for name in FACT_NAMES}


# -- the worker ------------------------------------------------------------------------------------------
def range_task(task: dict[str, Any]) -> dict[str, Any]:
    """In the worker: the reference over the whole range as one window, or Pandas over the planned windows
    (the planning query counted in the total), each window through ``cli.run_plan`` as ``run_etl.py`` runs it."""
    start, end = datetime.fromisoformat(task["start"]), datetime.fromisoformat(task["end"])
    if task["engine"] == "reference":
        from mcq_analytics.reference import run_reference

        t0 = time.perf_counter()
        written = run_reference(task["source_url"], start, end, REFERENCE_SCHEMA)
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "windows": [{"start": task["start"], "end": task["end"], "seconds": seconds,
                                                 "written": written, "errors": []}]}
    from mcq_analytics import cli
    from mcq_analytics.config import load_settings
    from mcq_analytics.connections import Databases
    from mcq_analytics.pipeline import PIPELINES, PipelineResult
    from mcq_analytics.planning import plan_range

    settings = load_settings(task["env_name"], environ=task["settings_env"])
    dbs = Databases(task["source_url"], task["warehouse_url"])
    began = time.perf_counter()
    planned = plan_range(dbs.source_url, start, end, budget=settings.window_budget, window_hours=task["window_hours"],
                         shared_snapshot=settings.shares_range_snapshot)
    by_window: dict[Window, list[PipelineResult]] = {window: [] for window in planned}
    ended: dict[Window, float] = {}

    def record(result: PipelineResult) -> None:  # a window's time runs from the previous window's last result
        by_window[result.window].append(result)
        ended[result.window] = time.perf_counter()

    planned_at = time.perf_counter()
    # One run_plan, as run_etl.py runs a range: its windows share one source snapshot.
    cli.run_plan({window: list(PIPELINES) for window in planned}, "pandas", settings, dbs, quiet=True,
                 triggered_by="bench", progress=record)
    windows, previous = [], planned_at
    for window, results in by_window.items():
        windows.append({"start": window.start.isoformat(), "end": window.end.isoformat(),
                        "seconds": ended.get(window, previous) - previous,
                        "rows_read": max((r.rows_read for r in results), default=0),
                        "errors": [f"{r.pipeline}: {r.error}" for r in results if r.status != "success"]})
        previous = ended.get(window, previous)
    result: dict[str, Any] = {"seconds": time.perf_counter() - began, "windows": windows}
    errors = [e for w in windows for e in w["errors"]]
    if errors:
        result["error"] = "; ".join(errors)[:2000]
    return result


# -- the report ------------------------------------------------------------------------------------------
def report_lines(ranges: dict[str, Any] | None, targets: dict[str, Any], limit: float | None = None) -> list[str]:
    """The section's table: windows, seconds, × the rebuild, peak RSS, the fact rows left; judges the target
    (``limit``: the 10M-answer range's own, :data:`TARGET_LARGE_RANGE_VS_REBUILD`)."""
    if not ranges or not ranges.get("runs"):
        return []
    window = ranges["range"]
    window = Window(datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])) \
        if isinstance(window, dict) else window
    runs: dict[str, Run] = ranges["runs"]
    rebuild = runs.get("rebuild")
    ref_seconds = rebuild.seconds if rebuild and rebuild.ok else None
    lines = ["", f"Ranges. The history's range {window} through run_etl.py's planner (Pandas, look-back on) "
                 "against the in-database rebuild of the range"]
    rows = []
    for mode, run in runs.items():
        label = {"rebuild": "rebuild (reference)", "hourly": "hourly (--window-hours 1)"}.get(mode, mode)
        if mode == "work-sized":
            label = f"work-sized (budget {ranges['budget']:,})"
        sizes = [w.get("rows_read", 0) for w in run.windows if "rows_read" in w]
        rows.append([label, str(len(run.windows)), f"{run.seconds:.2f}" if run.ok else "FAILED",
                     f"{max((w['seconds'] for w in run.windows), default=0):.2f}",
                     f"{max(sizes):,}" if sizes else "-",
                     _x(ratio_or_none(run.seconds, ref_seconds)) if run.ok else "-",
                     f"{run.engine_rss_mib:,.0f}",
                     " ".join(f"{n:,}" for n in ranges["fact_rows"].get(mode, {}).values())])
    from mcq_bench.report import _table  # the report's table layout (imported late: report imports this module)

    lines.append(_table(["mode", "windows", "total s", "slowest window s", "max rows read", "× rebuild",
                         "peak RSS MiB", "fact rows"], rows))
    hourly, sized = runs.get("hourly"), runs.get("work-sized")
    if hourly and sized and hourly.ok and sized.ok:
        lines.append(f"   work-sized / hourly: {_x(sized.seconds / hourly.seconds)}; fact rows equal: "
                     f"{'yes' if len({tuple(v.values()) for v in ranges['fact_rows'].values()}) == 1 else 'NO'}")
    if sized is not None and sized.ok and sized.windows:
        windows_seconds = sum(w["seconds"] for w in sized.windows)
        lines.append(f"   work-sized: {sum(w.get('rows_read', 0) for w in sized.windows):,} rows read in all "
                     f"(the windows share one source snapshot); planning {sized.seconds - windows_seconds:.1f} s "
                     f"of the {sized.seconds:.1f} s")
    if sized is not None and ref_seconds:
        ratio = ratio_or_none(sized.seconds, ref_seconds) if sized.ok else None
        key = "range_vs_rebuild" if limit is None else "large_range_vs_rebuild"
        targets[key] = {"value": ratio, "met": ratio is not None and ratio <= (limit or TARGET_RANGE_VS_REBUILD)}
    return lines


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"

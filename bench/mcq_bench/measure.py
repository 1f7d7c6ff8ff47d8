"""The measurements: the data sets of each phase, each engine on a window (median of rounds) and the backfill."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from mcq_analytics.windows import HOUR, Window
from mcq_bench.dataset import DataSet, add_dataset, affected_answers, analyze_source, load_history, reset_warehouse
from mcq_bench.explain import explain_window_queries
from mcq_bench.queries import time_queries
from mcq_bench.ranges import measure_ranges
from mcq_bench.runner import Context, Run
from mcq_bench.scales import CATALOG_AT, HISTORY_START, ID_STRIDE


# -- the measurements ----------------------------------------------------------------------------------
def _median_run(runs: list[Run]) -> Run:
    ok = [r for r in runs if r.ok]
    if not ok:
        return runs[-1]
    ordered = sorted(ok, key=lambda r: r.seconds)
    return ordered[(len(ordered) - 1) // 2]


def window_task(*windows: Window) -> dict[str, Any]:
    return {"kind": "windows", "windows": [{"start": w.start.isoformat(), "end": w.end.isoformat()} for w in windows]}


def measure_window(ctx: Context, label: str, window: Window, repeat: int, prime: bool = True) -> dict[str, Any]:
    """Each engine on one window, ``repeat`` rounds (engines interleaved), median reported. Priming runs
    (reference and Pandas, not reported) load the window first, so every measured run is a re-run that
    replaces the window's rows, the same work for every engine."""
    if prime:
        for engine in ("reference", "pandas"):
            if engine in ctx.engines:
                ctx.run(engine, f"{label} (prime)", window_task(window))
    runs: dict[str, list[Run]] = {e: [] for e in ctx.engines}
    for _ in range(repeat):
        for engine in ctx.engines:
            runs[engine].append(ctx.run(engine, label, window_task(window)))
    return {engine: _median_run(rs) for engine, rs in runs.items()}


def run_benchmark(ctx: Context, report: dict[str, Any]) -> None:
    """Measure everything, filling ``report`` as it goes (a failure keeps what was measured)."""
    scale = ctx.scale
    hours = scale.history_hours
    small = DataSet("window_small", scale.window_small, HISTORY_START + (hours + 2) * HOUR, 1, 201, ID_STRIDE)
    sizes = [small] + [
        DataSet(f"window_{n}", n, HISTORY_START + (hours + 2 + 2 * k) * HOUR, 1, 201 + k, (k + 1) * ID_STRIDE)
        for k, n in enumerate(sorted({scale.window_large, *scale.extra_windows} - {scale.window_small}), start=1)
    ]
    large = next(d for d in sizes if d.answers == scale.window_large)
    report["phases"] = {}
    report["layout"] = {"history_start": HISTORY_START, "catalog_at": CATALOG_AT,
                        "datasets": [asdict(d) for d in sizes], "large": large.name, "small": small.name}

    # Phase A: the small history, the window sizes, the big window.
    ctx.say(f"phase A: {scale.history_small:,}-answer history + windows of "
            + ", ".join(f"{d.answers:,}" for d in sizes))
    t0 = time.perf_counter()
    history = DataSet("history_small", scale.history_small, HISTORY_START, hours, 101, 0)
    rows = {"history": load_history(ctx.source_url, history)}
    for data in sizes:
        rows[data.name] = add_dataset(ctx.source_url, data)
    analyze_source(ctx.source_url)
    reset_warehouse(ctx.source_url, ctx.warehouse_url)
    ctx.say(f"  data ready in {time.perf_counter() - t0:.1f} s")
    phase_a: dict[str, Any] = {"rows": rows, "windows": {}}
    report["phases"]["A"] = phase_a
    if scale.warm_warehouse:
        phase_a["backfill"] = measure_backfill(ctx, history, spark_windows=0)
    if "spark" in ctx.engines:
        phase_a["spark_startup"] = [ctx.run("spark", "start-up (no-op job)", {"kind": "spark_noop"})
                                    for _ in range(scale.spark_startup_runs)]
    for data in sizes:
        count = affected_answers(ctx.source_url, data.window)
        repeat = ctx.repeat if data is small else 1
        runs = measure_window(ctx, f"{count:,}-answer window", data.window, repeat, prime=scale.prime)
        phase_a["windows"][data.name] = {"window": data.window, "affected_answers": count, "runs": runs}

    # Phase B: the large history, the same small window on top of it, the backfill.
    ctx.say(f"phase B: {scale.history_large:,}-answer history + the same {small.answers:,}-answer window")
    t0 = time.perf_counter()
    history = DataSet("history_large", scale.history_large, HISTORY_START, hours, 102, 0)
    rows = {"history": load_history(ctx.source_url, history), small.name: add_dataset(ctx.source_url, small)}
    analyze_source(ctx.source_url)
    reset_warehouse(ctx.source_url, ctx.warehouse_url)
    ctx.say(f"  data ready in {time.perf_counter() - t0:.1f} s")
    phase_b: dict[str, Any] = {"rows": rows, "windows": {}}
    report["phases"]["B"] = phase_b
    phase_b["backfill"] = measure_backfill(ctx, history, spark_windows=ctx.spark_backfill_windows)
    phase_b["ranges"] = measure_ranges(ctx, history)  # leaves the history's facts in the warehouse, as the backfill
    count = affected_answers(ctx.source_url, small.window)
    runs = measure_window(ctx, f"{count:,}-answer window", small.window, ctx.repeat, prime=scale.prime)
    phase_b["windows"][small.name] = {"window": small.window, "affected_answers": count, "runs": runs}
    phase_b["explain"] = explain_window_queries(ctx.source_url, small.window)
    if "pandas" in ctx.engines:  # the facts of the whole history are in the warehouse now
        phase_b["queries"] = queries = time_queries(ctx.warehouse_url)
        for name, ms in {**queries.get("range_functions_ms", {}), **{
                f"dashboard page {p} (all its queries)": v for p, v in queries.get("dashboard_pages_ms", {}).items()
        }}.items():
            ctx.say(f"  {name}: {ms:.1f} ms")


def measure_backfill(ctx: Context, history: DataSet, spark_windows: int) -> dict[str, Any]:
    """Every hourly window of the history, in order, one subprocess per engine (Spark: the first
    ``spark_windows`` windows only, after the others, so its runs replace rows already loaded)."""
    from mcq_analytics.windows import hourly_windows

    windows = list(hourly_windows(history.window.start, history.window.end))
    label = f"backfill {len(windows)} windows"
    out: dict[str, Any] = {"windows": len(windows), "runs": {},
                           "affected_answers": [affected_answers(ctx.source_url, w) for w in windows]}
    for engine in ("reference", "pandas"):
        if engine in ctx.engines:
            out["runs"][engine] = ctx.run(engine, label, window_task(*windows))
    if "spark" in ctx.engines and spark_windows > 0:
        subset = windows[:spark_windows]
        out["spark_windows"] = len(subset)
        out["runs"]["spark"] = ctx.run("spark", f"backfill first {len(subset)} windows", window_task(*subset))
    return out

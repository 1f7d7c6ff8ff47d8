"""The printed tables and the targets from the measurements, the JSON of a run, and a saved run printed again."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
from psycopg import sql

from mcq_analytics.facts import FACT_NAMES
from mcq_analytics.windows import Window
from mcq_bench import airflow_backfill, history, ranges
from mcq_bench.analysis import crossover, memory_limit, ratio_or_none, recommend_threshold
from mcq_bench.runner import Context, Run
from mcq_bench.scales import (
    EXPLAIN_MIN_HISTORY,
    TARGET_HISTORY_GROWTH,
    TARGET_PANDAS_RSS_MIB,
    TARGET_PANDAS_VS_REFERENCE,
    Scale,
)


# -- report --------------------------------------------------------------------------------------------
def _written(run: Run) -> str:
    """Fact rows written by the run's first window, in the registry's order."""
    written = run.windows[0]["written"] if run.windows else {}
    return " ".join(f"{written[f]:,}" if f in written else "-" for f in FACT_NAMES)


def _fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _fmt_x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"


def _fmt_n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _table(headers: Sequence[str], rows: list[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def machine_info(source_url: str) -> dict[str, Any]:
    """The machine, PostgreSQL and library versions, recorded with every run (figures compare within one)."""
    info: dict[str, Any] = {
        "cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    with psycopg.connect(source_url) as conn:
        info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        info["postgresql_settings"] = {name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
                                       for name in ("shared_buffers", "work_mem", "temp_buffers", "jit")}
    for module in ("pandas", "pyarrow", "pyspark"):
        try:
            info[module] = __import__(module).__version__
        except Exception:
            info[module] = None
    return info


def summarise(ctx: Context | SimpleNamespace, report: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The printed tables and the targets, from the measurements (``ctx``: scale, engines, repeat).

    One function per numbered section, each appending its lines and the targets it judges."""
    targets: dict[str, Any] = {}
    lines = _header(ctx, report)
    if "phases" in report:  # absent with --airflow-only
        lines += _one_window(ctx, report, targets)
        lines += _history_growth(ctx, report, targets)
        lines += _backfill(ctx, report["phases"]["B"]["backfill"], targets)
        startup, startup_lines = _spark_startup(report)
        lines += startup_lines
        lines += _window_sizes(report, startup)
        lines += ranges.report_lines(report["phases"]["B"].get("ranges"), targets)
    if "history" in report:  # --history-only
        lines += history.report_lines(report["history"], targets)
    if "airflow" in report:
        lines += airflow_backfill.report_lines(report["airflow"])
    lines += _targets(targets)
    return "\n".join(lines), targets


def _header(ctx: Context | SimpleNamespace, report: dict[str, Any]) -> list[str]:
    m = report["machine"]
    load = ", ".join(f"{x:.1f}" for x in m.get("loadavg_at_start") or ())
    lines = [f"MCQ analytics benchmark, scale {ctx.scale.name}: {m.get('cpus')} cores ({m.get('cpu')}), "
             f"{m.get('memory_gib')} GiB, PostgreSQL {m.get('postgresql')}, pandas {m.get('pandas')}, "
             f"pyspark {m.get('pyspark')}; load average at start {load}"]
    if report.get("skipped"):
        lines.append("skipped: " + "; ".join(f"{k}: {v}" for k, v in report["skipped"].items()))
    return lines


def _memory_cell(engine: str, run: Run) -> str:
    """The engine's peak RSS, plus the PostgreSQL backends' private memory where it was sampled (not Spark)."""
    mem = f"{run.engine_rss_mib:,.0f}"
    if run.backend_peak_mib is not None and engine != "spark":
        mem += f" (+{run.backend_peak_mib:,.0f} backend)"
    return mem


def _window_rows(entry: dict[str, Any]) -> list[list[str]]:
    ref = entry["runs"].get("reference")
    ref_seconds = ref.seconds if ref and ref.ok else None
    out = []
    for engine, run in entry["runs"].items():
        rate = entry["affected_answers"] / run.seconds if run.ok and run.seconds > 0 else None
        out.append([engine, _fmt_s(run.seconds) if run.ok else "FAILED", _fmt_n(rate),
                    _fmt_x(ratio_or_none(run.seconds, ref_seconds)) if run.ok else "-", _memory_cell(engine, run),
                    _written(run)])
    return out


def _one_window(ctx: Context | SimpleNamespace, report: dict[str, Any], targets: dict[str, Any]) -> list[str]:
    """Section 1: the big window, every engine; judges Pandas' time against the reference and its memory."""
    headers = ["engine", "seconds", "answers/s", "× reference", "peak RSS MiB", "rows written (qif tsf tff)"]
    big = report["phases"]["A"]["windows"][report["layout"]["large"]]
    lines = ["", f"1. One hourly window, {big['affected_answers']:,} affected answer rows "
             f"(on the {ctx.scale.history_small:,}-answer history; median of 1 run, a re-run that replaces the "
             "window's rows)", _table(headers, _window_rows(big))]
    runs = big["runs"]
    if "pandas" in runs and "reference" in runs and runs["pandas"].ok and runs["reference"].ok:
        ratio = runs["pandas"].seconds / runs["reference"].seconds
        targets["pandas_window_vs_reference"] = {"value": ratio, "target": TARGET_PANDAS_VS_REFERENCE,
                                                 "met": ratio <= TARGET_PANDAS_VS_REFERENCE}
        rss = runs["pandas"].peak_rss_mib
        targets["pandas_window_peak_rss_mib"] = {"value": rss, "target": TARGET_PANDAS_RSS_MIB,
                                                 "met": rss < TARGET_PANDAS_RSS_MIB}
    lines.append("   peak RSS: Pandas = the engine process; Spark = worker + spark-submit JVM + Python driver "
                 "(sampled); reference = its client, (+ backend) = private memory of the PostgreSQL backends "
                 "doing the work (sampled RssAnon, shared buffers not counted)")
    return lines


def _history_growth(ctx: Context | SimpleNamespace, report: dict[str, Any], targets: dict[str, Any]) -> list[str]:
    """Section 2: the same small window on both histories (growth per engine) and the EXPLAIN verdict."""
    small = report["layout"]["small"]
    sa, sb = report["phases"]["A"]["windows"][small], report["phases"]["B"]["windows"][small]
    lines = ["", f"2. The same small window ({sa['affected_answers']:,} / {sb['affected_answers']:,} "
             f"affected answers) on a {ctx.scale.history_small:,}- and a {ctx.scale.history_large:,}-answer history "
             f"(median of {ctx.repeat})"]
    rows = []
    ref_a, ref_b = sa["runs"].get("reference"), sb["runs"].get("reference")
    for engine in ctx.engines:
        ra, rb = sa["runs"].get(engine), sb["runs"].get(engine)
        if ra is None or rb is None:
            continue
        growth = ratio_or_none(rb.seconds, ra.seconds) if ra.ok and rb.ok else None
        rows.append([engine, _fmt_s(ra.seconds) if ra.ok else "FAILED", _fmt_s(rb.seconds) if rb.ok else "FAILED",
                     _fmt_x(growth), _fmt_x(ratio_or_none(ra.seconds, ref_a.seconds if ref_a else None)),
                     _fmt_x(ratio_or_none(rb.seconds, ref_b.seconds if ref_b else None)),
                     f"{ra.engine_rss_mib:,.0f} / {rb.engine_rss_mib:,.0f}"])
        targets[f"history_growth_{engine}"] = {"value": growth, "target": TARGET_HISTORY_GROWTH,
                                               "met": growth is not None and growth <= TARGET_HISTORY_GROWTH}
    lines.append(_table(["engine", "small hist s", "large hist s", "large/small", "× ref (small)", "× ref (large)",
                         "peak RSS MiB"], rows))
    explain = report["phases"]["B"]["explain"]
    found = _explain_verdict(explain)
    if ctx.scale.history_large >= EXPLAIN_MIN_HISTORY:
        lines.append(f"   EXPLAIN on the large history ({len(explain)} scope/extract queries): {found}")
        targets["explain_no_seq_scans"] = {"value": [c["query"] for c in explain if not c["ok"]],
                                           "met": all(c["ok"] for c in explain)}
    else:
        lines.append(f"   EXPLAIN not judged at this scale (tables this small are cheaper to scan): {found}")
    return lines


def _explain_verdict(explain: list[dict[str, Any]]) -> str:
    """One sentence on the EXPLAIN checks: sequential scans of answers, failed EXPLAINs, other tables' scans."""
    bad = [c for c in explain if not c["ok"]]
    others = [f"{c['query']}: {', '.join(c['seq_scans'])}" for c in explain if c["ok"] and c["seq_scans"]]
    scanned = [c["query"] for c in bad if not c.get("error")]
    failed = [f"{c['query']} ({c['error']})" for c in bad if c.get("error")]
    found = ("no sequential scan of answers" if not scanned else
             "SEQUENTIAL SCAN of answers in " + ", ".join(scanned))
    if failed:
        found = "could not EXPLAIN " + "; ".join(failed) + "; " + found
    found += ("; sequential scans of smaller tables: " + "; ".join(others)) if others else \
        ", sessions or submissions (index scans only)"
    return found


def _backfill(ctx: Context | SimpleNamespace, bf: dict[str, Any], targets: dict[str, Any]) -> list[str]:
    """Section 3: the backfill of the large history, per engine; judges that Pandas' completes."""
    affected = bf.get("affected_answers") or []
    lines = ["", f"3. Backfill of the {ctx.scale.history_large:,}-answer history: {bf['windows']} hourly windows"
             + (f", {sum(affected):,} affected answers in all ({min(affected):,}-{max(affected):,} a window)"
                if affected else "")]
    rows = []
    ref = bf["runs"].get("reference")
    for engine, run in bf["runs"].items():
        n = len(run.windows) or bf["windows"]
        same_ref = sum(w["seconds"] for w in ref.windows[:n]) if ref and ref.ok and run.ok else None
        rows.append([engine, str(n), _fmt_s(run.seconds) if run.ok else "FAILED",
                     _fmt_s(run.seconds / n if run.ok and n else None),
                     _fmt_s(max((w["seconds"] for w in run.windows), default=None)),
                     _fmt_x(ratio_or_none(run.seconds, same_ref)), _memory_cell(engine, run)])
    lines.append(_table(["engine", "windows", "total s", "s/window", "slowest window s", "× ref (same windows)",
                         "peak RSS MiB"], rows))
    if "pandas" in bf["runs"]:
        run = bf["runs"]["pandas"]
        targets["pandas_backfill_completes"] = {"value": run.peak_rss_mib, "met": run.ok}
    if "spark" in bf["runs"]:
        lines.append("   Spark backfills only the first windows (one spark-submit each), after the others: its "
                     "runs replace rows already loaded")
    return lines


def _spark_startup(report: dict[str, Any]) -> tuple[float | None, list[str]]:
    """Section 4: Spark's start-up alone (median seconds, or None), and its share of the small window."""
    a = report["phases"]["A"]
    sa = a["windows"][report["layout"]["small"]]
    startups = a.get("spark_startup") or []
    ok_startups = [r.seconds for r in startups if r.ok]
    startup = statistics.median(ok_startups) if ok_startups else None
    lines = ["", "4. Spark start-up alone (spark-submit of a job that only starts a session and counts 1 row)"]
    if startups:
        sw = sa["runs"].get("spark")
        lines.append(f"   {startup and f'{startup:.1f} s' or 'FAILED'} (median of {len(startups)}: "
                     f"{', '.join(_fmt_s(r.seconds) for r in startups)} s); peak RSS "
                     f"{max(r.tree_peak_mib for r in startups):,.0f} MiB"
                     + (f"; the {sa['affected_answers']:,}-answer window took {sw.seconds:.1f} s on Spark, "
                        f"{startup / sw.seconds:.0%} of it start-up" if sw and sw.ok and startup else ""))
    else:
        lines.append("   not measured (" + (report.get("skipped", {}).get("spark") or "Spark not selected") + ")")
    return startup, lines


def _ok_seconds(run: Run | None) -> float | None:
    return run.seconds if run and run.ok else None


def _window_sizes(report: dict[str, Any], startup: float | None) -> list[str]:
    """Section 5: window size against time per engine, the crossover, Pandas' memory line and the
    ``--engine auto`` threshold they support (also stored in ``report``)."""
    a, bf = report["phases"]["A"], report["phases"]["B"]["backfill"]
    lines = ["", "5. Window size against time (Pandas vs Spark: the --engine auto threshold)"]
    rows, pandas_points, spark_points = [], [], []
    for entry in sorted(a["windows"].values(), key=lambda e: e["affected_answers"]):
        n = entry["affected_answers"]
        ref, p, s = (_ok_seconds(entry["runs"].get(e)) for e in ("reference", "pandas", "spark"))
        if p is not None:
            pandas_points.append((n, p))
        if s is not None:
            spark_points.append((n, s))
        rows.append([f"{n:,}", _fmt_s(ref), _fmt_s(p), _fmt_s(s), _fmt_x(ratio_or_none(s, p)),
                     _fmt_s((s - startup) if s is not None and startup else None)])
    lines.append(_table(["affected answers", "reference s", "pandas s", "spark s", "spark/pandas",
                         "spark - start-up s"], rows))
    cross = crossover(pandas_points, spark_points) if spark_points else {"verdict": "Spark not measured", "rows": None}
    report["crossover"] = cross
    lines.append(f"   time: {cross['verdict']}")
    memory, memory_line = _pandas_memory(a, bf)
    report["pandas_memory"] = memory
    if memory_line:
        lines.append(memory_line)
    threshold = recommend_threshold(cross, memory)
    report["recommended_auto_threshold"] = threshold
    lines.append(f"   MCQ_AUTO_ENGINE_THRESHOLD_ROWS: {threshold['text']}")
    return lines


def _pandas_memory(a: dict[str, Any], bf: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Pandas' peak RSS against the rows it read, and the line that reports it (None without a fit).

    Pandas' memory follows its scope (the rows it reads: affected sessions plus the other sessions of their
    cohort buckets), while --engine auto counts affected answers; the backfill gives the ratio of the two."""
    memory = memory_limit([(e["runs"]["pandas"].windows[0].get("rows_read", 0), e["runs"]["pandas"].peak_rss_mib)
                           for e in a["windows"].values() if "pandas" in e["runs"] and e["runs"]["pandas"].ok])
    bp = bf["runs"].get("pandas")
    inflation = [w.get("rows_read", 0) / n for w, n in zip(bp.windows, bf.get("affected_answers", []), strict=False)
                 if n] if bp and bp.ok else []
    memory["scope_per_affected_answer"] = statistics.median(inflation) if inflation else None
    if memory["rows"] is None:
        return memory, None
    base, per_row = memory["fit"]
    text = (f"   memory: Pandas peak RSS ≈ {base:,.0f} MiB + {per_row * 1e6:,.0f} MiB per million rows read "
            f"(the scope: sessions, answers, submissions): {TARGET_PANDAS_RSS_MIB:,} MiB at about "
            f"{memory['rows']:,} rows read")
    if inflation:
        text += (f"; in the backfill a window read {min(inflation):.1f}-{max(inflation):.1f}× (median "
                 f"{memory['scope_per_affected_answer']:.1f}×) its affected answers (late rows reopen older "
                 "cohort buckets)")
    return memory, text


TARGET_LABELS = {
    "pandas_window_vs_reference": f"Pandas on the big window <= {TARGET_PANDAS_VS_REFERENCE:g}x the reference",
    "pandas_window_peak_rss_mib": f"Pandas peak RSS on the big window < {TARGET_PANDAS_RSS_MIB:,} MiB",
    "explain_no_seq_scans": "no sequential scan of answers in the scope/extract queries of a small window",
    "pandas_backfill_completes": "Pandas backfill of the large history completes",
    "range_vs_rebuild": f"the range in work-sized windows <= {ranges.TARGET_RANGE_VS_REBUILD:g}x the in-database "
                        "rebuild",
    "large_range_vs_rebuild": f"the 10M-answer range in work-sized windows <= "
                              f"{ranges.TARGET_LARGE_RANGE_VS_REBUILD:g}x the in-database rebuild",
    "item_facts_window_factor": f"the two item facts add <= {(history.TARGET_ITEM_FACTS_FACTOR - 1) * 100:.0f} % "
                                "to a Pandas window (all facts / without them)",
    "item_analysis_one_test_ms": f"item_analysis for one test over all history < "
                                 f"{history.TARGET_ITEM_ANALYSIS_MS:g} ms",
}


def _targets(targets: dict[str, Any]) -> list[str]:
    """The closing list: each target met or MISSED, with its value where it is a number."""
    lines = ["", "Targets"]
    for key, target in targets.items():
        label = TARGET_LABELS.get(key) or f"{key.removeprefix('history_growth_')}: small window large/small " \
                                          f"history <= {TARGET_HISTORY_GROWTH:g}"
        value = target["value"]
        shown = (f"{value:.2f}" if isinstance(value, float) else "") if not isinstance(value, list) else ""
        lines.append(f"  [{'met' if target['met'] else 'MISSED'}] {label}" + (f": {shown}" if shown else ""))
    return lines



def jsonable(value: Any) -> Any:
    """The report as JSON types: runs, windows and times made plain."""
    if isinstance(value, Run):
        return jsonable(asdict(value) | {"engine_rss_mib": value.engine_rss_mib})
    if isinstance(value, Window):
        return {"start": value.start.isoformat(), "end": value.end.isoformat()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _runs_from_json(value: Any) -> Any:
    """A saved report with its runs as ``Run`` objects again (for ``--from-json``)."""
    if isinstance(value, dict):
        if {"engine", "label", "seconds", "ok"} <= value.keys():
            return Run(**{k: v for k, v in value.items() if k in Run.__dataclass_fields__})
        return {k: _runs_from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_runs_from_json(v) for v in value]
    return value


def print_saved(path: Path) -> int:
    """Print the tables of a saved run again (after a change to the report, without measuring again)."""
    report = _runs_from_json(json.loads(path.read_text(encoding="utf-8")))
    scale = Scale(**{**report["scale"], "extra_windows": tuple(report["scale"]["extra_windows"])})
    ctx = SimpleNamespace(scale=scale, engines=report["engines"], repeat=report.get("repeat", scale.repeat))
    text, _ = summarise(ctx, report)
    print(text)
    return 0


def all_runs(report: dict[str, Any]) -> list[Run]:
    """Every engine run of the report's phases (to report the failed ones)."""
    runs: list[Run] = []

    def walk(value: Any) -> None:
        if isinstance(value, Run):
            runs.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(report.get("phases", {}))
    walk(report.get("history", {}))
    return runs

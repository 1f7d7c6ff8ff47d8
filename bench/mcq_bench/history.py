"""Section 7 (``--history-only``): the large history's figures, without the other sections.

At full scale the whole benchmark backfills the 10M-answer history hour by hour twice over (the backfill and
the hourly range); this section measures only what issue 14 item 7 and issue 17's 10M targets ask, on the
same generated history (seed 102, ``scale.history_hours`` hours):

- the range through ``run_etl.py``'s planner as work-sized windows against the in-database rebuild of the
  range (``ranges.measure_ranges``, target ≤ 1.5× on 10M answers), peak RSS;
- what the two item-analysis facts add to a Pandas window: the history's busiest hour re-run with all five
  facts and with the three others, interleaved, median of ``repeat`` (target ≤ 1.5×, i.e. +50 %);
- the range functions and dashboard pages on the facts the range left (``queries.time_queries``: target
  ``item_analysis`` for one test over all history < 100 ms).
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Any

import psycopg

from mcq_analytics.facts import FACT_NAMES
from mcq_analytics.windows import Window
from mcq_bench.dataset import DataSet, analyze_source, load_history, reset_warehouse
from mcq_bench.measure import window_task
from mcq_bench.queries import time_queries
from mcq_bench.ranges import TARGET_LARGE_RANGE_VS_REBUILD, measure_ranges
from mcq_bench.runner import Context, Run
from mcq_bench.scales import HISTORY_START

#: The item-analysis facts (issue 14) and the issue's limit on what they add to a Pandas window.
ITEM_FACTS = ("item_statistics_fact", "option_choice_fact")
TARGET_ITEM_FACTS_FACTOR = 1.5
TARGET_ITEM_ANALYSIS_MS = 100.0


def busiest_hour(source_url: str, history: Window) -> Window:
    """The history's hour with the most answers: the heaviest hourly window a scheduler would run."""
    with psycopg.connect(source_url) as conn:
        start = conn.execute(
            "SELECT date_trunc('hour', answered_at) AS h FROM answers WHERE answered_at >= %s AND answered_at < %s"
            " GROUP BY h ORDER BY count(*) DESC LIMIT 1", (history.start, history.end)).fetchone()[0]
    return Window(start, start + timedelta(hours=1))


def measure_history(ctx: Context) -> dict[str, Any]:
    """Generate the large history, then the range, the item facts' share of a window and the read queries."""
    scale = ctx.scale
    history = DataSet("history_large", scale.history_large, HISTORY_START, scale.history_hours, 102, 0)
    ctx.say(f"section 7: the {scale.history_large:,}-answer history only")
    t0 = time.perf_counter()
    out: dict[str, Any] = {"answers": scale.history_large, "rows": load_history(ctx.source_url, history)}
    analyze_source(ctx.source_url)
    reset_warehouse(ctx.source_url, ctx.warehouse_url)
    out["data_seconds"] = time.perf_counter() - t0
    ctx.say(f"  data ready in {out['data_seconds']:.1f} s")
    out["ranges"] = measure_ranges(ctx, history, modes=("work-sized",))  # leaves the range's facts
    if "pandas" in ctx.engines:
        window = busiest_hour(ctx.source_url, history.window)
        others = [name for name in FACT_NAMES if name not in ITEM_FACTS]
        runs: dict[str, list[Run]] = {"all": [], "without_item_facts": []}
        for _ in range(ctx.repeat):
            runs["all"].append(ctx.run("pandas", "busiest hour, all facts", window_task(window)))
            runs["without_item_facts"].append(ctx.run("pandas", "busiest hour, without the item facts",
                                                      {**window_task(window), "pipelines": others}))
        out["item_facts"] = {"window": window, "runs": runs}
        out["queries"] = time_queries(ctx.warehouse_url)
    return out


def report_lines(section: dict[str, Any] | None, targets: dict[str, Any]) -> list[str]:
    """Section 7's lines (the range table comes from ``ranges.report_lines``) and the targets it judges."""
    from mcq_bench.ranges import report_lines as range_lines

    if not section:
        return []
    lines = ["", f"7. The {section['answers']:,}-answer history only (generated and loaded in "
                 f"{section.get('data_seconds', 0):.0f} s)"]
    lines += range_lines(section.get("ranges"), targets,
                         limit=TARGET_LARGE_RANGE_VS_REBUILD if section["answers"] >= 10_000_000 else None)
    item = section.get("item_facts")
    if item:
        def median(key: str) -> float | None:
            ok = [r.seconds for r in item["runs"][key] if r.ok]
            return statistics.median(ok) if ok else None

        every, without = median("all"), median("without_item_facts")
        window = item["window"]
        start = window["start"] if isinstance(window, dict) else window.start.isoformat()
        if every and without:
            factor = every / without
            peak = max(r.engine_rss_mib for r in item["runs"]["all"])
            lines.append(f"   item facts: the busiest hour ({start}) on Pandas, median of {len(item['runs']['all'])}: "
                         f"all {len(FACT_NAMES)} facts {every:.2f} s, without the two item facts {without:.2f} s "
                         f"= {factor:.2f}× (+{(factor - 1) * 100:.0f} %), peak RSS {peak:,.0f} MiB")
            targets["item_facts_window_factor"] = {"value": factor, "met": factor <= TARGET_ITEM_FACTS_FACTOR}
    queries = section.get("queries") or {}
    timings = queries.get("range_functions_ms") or {}
    if timings:
        lines.append(f"   range functions on the range's facts (test {queries.get('test_id')}, median of 3 warm runs):")
        lines += [f"     {name:<42} {ms:8.1f} ms" for name, ms in timings.items()]
        pages = queries.get("dashboard_pages_ms") or {}
        if pages:
            lines.append("   dashboard pages, all their queries: "
                         + ", ".join(f"{page} {ms:.0f} ms" for page, ms in pages.items()))
        one_test = timings.get("item_analysis, one test, all history")
        if one_test is not None:
            targets["item_analysis_one_test_ms"] = {"value": one_test, "met": one_test < TARGET_ITEM_ANALYSIS_MS}
    return lines

"""The benchmark (``python -m mcq_bench``, package ``bench/mcq_bench``) at its tiny scale, so it cannot rot: the
whole CLI runs end to end on its own throwaway PostgreSQL, without Spark, in well under a minute. The figures
themselves are not asserted (timings are not unit tests); their presence, shape and the clean-up are."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from mcq_bench import analysis, cli, scales

from mcq_analytics.facts import FACT_NAMES
from mcq_analytics.paths import PROJECT_ROOT


def run_bench(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mcq_bench", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=timeout)


def test_tiny_benchmark_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    proc = run_bench("--scale", "tiny", "--engines", "pandas,reference", "--json", str(out), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    for heading in ("1. One hourly window", "2. The same small window", "3. Backfill", "4. Spark start-up",
                    "5. Window size against time", "Targets"):
        assert heading in proc.stdout
    assert "× reference" in proc.stdout

    report = json.loads(out.read_text())
    assert report["engines"] == ["reference", "pandas"]
    a, b = report["phases"]["A"], report["phases"]["B"]
    small, large = report["layout"]["small"], report["layout"]["large"]
    # The same window data on both histories: the same affected answers, the same facts written.
    assert a["windows"][small]["affected_answers"] == b["windows"][small]["affected_answers"] > 0
    assert a["windows"][large]["affected_answers"] > a["windows"][small]["affected_answers"]
    for phase, name in ((a, small), (a, large), (b, small)):
        runs = phase["windows"][name]["runs"]
        assert {e: r["ok"] for e, r in runs.items()} == {"reference": True, "pandas": True}
        assert runs["pandas"]["seconds"] > 0 and runs["pandas"]["peak_rss_mib"] > 0
        # Both implementations write the same number of fact rows for the window.
        reference, pandas = runs["reference"]["windows"][0]["written"], runs["pandas"]["windows"][0]["written"]
        for fact in FACT_NAMES:
            assert pandas[fact] == reference[fact], fact
    backfill = b["backfill"]["runs"]
    assert len(backfill["pandas"]["windows"]) == len(backfill["reference"]["windows"]) == b["backfill"]["windows"]
    assert {c["query"] for c in b["explain"]} >= {"extract/affected_sessions.sql", "extract/answers.sql",
                                                   "extract/questions_by_id.sql"}
    assert [c for c in b["explain"] if "error" in c] == []  # every scope/extract query could be EXPLAINed
    # The read side on the history the backfill built: the range functions and every dashboard page.
    queries = b["queries"]
    assert set(queries["range_functions_ms"]) == {
        "item_analysis, one test, all history", "option_analysis, one test, all history",
        "test_reliability, one test, all history", "item_analysis, all tests, last 30 days",
        "test_reliability, all tests, last 30 days"}
    assert set(queries["dashboard_pages_ms"]) == {"overview", "test", "items", "health"}
    assert all(ms > 0 for ms in [*queries["range_functions_ms"].values(), *queries["dashboard_pages_ms"].values()])
    # The range section: hourly and work-sized windows leave the facts of the in-database rebuild.
    ranges = b["ranges"]
    assert {m: r["ok"] for m, r in ranges["runs"].items()} == {"hourly": True, "work-sized": True, "rebuild": True}
    assert len(ranges["runs"]["hourly"]["windows"]) == report["scale"]["history_hours"]
    assert len(ranges["runs"]["work-sized"]["windows"]) == 1  # 20,000 answers: far below the budget
    assert ranges["fact_rows"]["hourly"] == ranges["fact_rows"]["work-sized"] == ranges["fact_rows"]["rebuild"]
    assert "Ranges. " in proc.stdout and "work-sized / hourly:" in proc.stdout
    assert "range_vs_rebuild" in report["targets"]
    assert "pandas_window_vs_reference" in report["targets"]
    assert "history_growth_pandas" in report["targets"]

    # It cleaned up after itself: the throwaway server and its folder are gone.
    match = re.search(r"starting a throwaway PostgreSQL in (\S+)", proc.stderr)
    assert match and not Path(match.group(1)).exists()


def test_history_only_section(tmp_path: Path) -> None:
    """``--history-only``: the range against the rebuild, the item facts' share of the busiest hour, the range
    functions on the facts the range left, and the targets they judge — without the other sections."""
    out = tmp_path / "history.json"
    proc = run_bench("--scale", "tiny", "--engines", "pandas,reference", "--history-only", "--repeat", "1",
                     "--json", str(out), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "7. The 20,000-answer history only" in proc.stdout
    assert "1. One hourly window" not in proc.stdout and "Ranges. " in proc.stdout
    report = json.loads(out.read_text())
    section = report["history"]
    assert "phases" not in report
    assert 20_000 <= section["rows"]["answers"] < 20_500  # the generator's 20,000 plus its retakes
    ranges = section["ranges"]
    assert {m: r["ok"] for m, r in ranges["runs"].items()} == {"work-sized": True, "rebuild": True}
    assert ranges["fact_rows"]["work-sized"] == ranges["fact_rows"]["rebuild"]
    item = section["item_facts"]
    every, without = item["runs"]["all"][0], item["runs"]["without_item_facts"][0]
    assert every["ok"] and without["ok"]
    assert set(every["windows"][0]["written"]) == set(FACT_NAMES)
    assert set(without["windows"][0]["written"]) == set(FACT_NAMES) - {"item_statistics_fact", "option_choice_fact"}
    assert re.search(rf"item facts: the busiest hour \(\S+\) on Pandas, median of 1: all {len(FACT_NAMES)} facts "
                     r"[0-9.]+ s, without the two item facts [0-9.]+ s = [0-9.]+×", proc.stdout)
    assert "item_analysis, one test, all history" in section["queries"]["range_functions_ms"]
    assert set(report["targets"]) == {"range_vs_rebuild", "item_facts_window_factor", "item_analysis_one_test_ms"}


def test_refuses_to_truncate_given_databases_that_hold_rows(dbs) -> None:
    with psycopg.connect(dbs.source_url) as conn:
        conn.execute("INSERT INTO tests (test_id, teacher_id, title) VALUES (1, 1, 'mine')")
    proc = run_bench("--scale", "tiny", "--engines", "pandas", "--source-url", dbs.source_url,
                     "--warehouse-url", dbs.warehouse_url, timeout=60)
    assert proc.returncode == 2
    assert "--reset" in proc.stderr and "tests" in proc.stderr
    with psycopg.connect(dbs.source_url) as conn:
        assert conn.execute("SELECT title FROM tests").fetchall() == [("mine",)]


def test_given_databases_are_used_with_reset_and_left_empty(dbs) -> None:
    with psycopg.connect(dbs.source_url) as conn:
        conn.execute("INSERT INTO tests (test_id, teacher_id, title) VALUES (1, 1, 'mine')")
    proc = run_bench("--scale", "tiny", "--engines", "reference", "--source-url", dbs.source_url,
                     "--warehouse-url", dbs.warehouse_url, "--reset", "--json", "/dev/null")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1. One hourly window" in proc.stdout
    with psycopg.connect(dbs.source_url) as conn:
        for table in scales.SOURCE_TABLES:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
        assert not schemas & {scales.STAGE_SCHEMA, scales.REFERENCE_SCHEMA}


def test_bad_arguments_exit_2() -> None:
    assert run_bench("--engines", "pandas,duckdb", timeout=60).returncode == 2
    assert run_bench("--source-url", "postgresql://x@127.0.0.1:9/db", timeout=60).returncode == 2


def test_spark_is_skipped_with_a_reason_without_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert "no Java" in (cli._spark_unavailable() or "")


def test_crossover_from_measured_points() -> None:
    # Spark: 20 s fixed + 2 s per million; Pandas: 0.5 s + 10 s per million -> equal at 2.4375M rows.
    pandas = [(n, 0.5 + 10e-6 * n) for n in (10_000, 1_000_000, 3_000_000)]
    spark = [(n, 20 + 2e-6 * n) for n in (10_000, 1_000_000, 3_000_000)]
    assert analysis.crossover(pandas, spark)["rows"] == 2_437_500
    slower = [(n, 20 + 12e-6 * n) for n in (10_000, 1_000_000)]
    result = analysis.crossover(pandas, slower)
    assert result["rows"] is None and "never" in result["verdict"]
    assert analysis.crossover(pandas[:1], spark[:1])["verdict"] == "not enough points"


def test_airflow_section_reports_seconds_per_run_and_per_task() -> None:
    """Section 6's figures from a measured section (the real backfill runs with ``--airflow``: too slow here)."""
    from mcq_bench import airflow_backfill

    task = {"run_id": "r", "state": "success", "try_number": 1}
    section = {"hours": 2, "answers": 50_000, "max_active_runs": 3, "parallelism": 2, "startup_seconds": 20.0,
               "executor": airflow_backfill.PRELOADED_EXECUTOR,
               "backfill_seconds": 30.0,
               "runs": [{"run_id": "a", "state": "success", "seconds": 12.0},
                        {"run_id": "b", "state": "success", "seconds": 16.0}],
               "tasks": [{**task, "task_id": "f.build", "kind": "build", "queued_s": 1.0, "running_s": 4.0,
                          "parse_s": 2.0, "engine_s": 0.5},
                         {**task, "task_id": "f.build", "kind": "build", "queued_s": 3.0, "running_s": 6.0,
                          "parse_s": 2.0, "engine_s": 0.7},
                         {**task, "task_id": "f.checks", "kind": "checks", "queued_s": 1.0, "running_s": 2.5,
                          "parse_s": 1.5, "engine_s": None}]}
    summary = airflow_backfill.summary(section)
    assert (summary["seconds_per_run"], summary["run_seconds_median"], summary["run_seconds_range"]) == (
        15.0, 14.0, (12.0, 16.0))
    assert summary["kinds"]["build"] == {"count": 2, "per_run": 1.0, "queued_s": 2.0, "running_s": 5.0,
                                         "parse_s": 2.0, "engine_s": 0.6}
    assert summary["kinds"]["checks"]["engine_s"] is None
    text = "\n".join(airflow_backfill.report_lines(section))
    assert "backfill 30.0 s = 15.0 s per hourly run (a run: median 14.0 s, 12.0-16.0 s)" in text
    assert "--max-active-runs 3, PreloadedLocalExecutor with 2 task slots" in text
    assert "not measured" in "\n".join(airflow_backfill.report_lines(None))

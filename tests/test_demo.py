"""The README's demo on the embedded default: its own PostgreSQL, readable summaries, harmless re-runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mcq_analytics.embedded_pg import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]
WINDOW = r"\[2024-06-01 \d\d:00, 2024-06-01 \d\d:00\) UTC"


def demo(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCQ_")}
    env["MCQ_STATE_DIR"] = str(state_dir)
    return subprocess.run([sys.executable, "run_etl.py", "--env", "dev", "demo", "--answers", "3000", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_demo_runs_end_to_end_twice_with_the_same_result():
    # Not under pytest's basetemp: a concurrent pytest session prunes old basetemps, server data included.
    tmp_path = Path(tempfile.mkdtemp(prefix="mcq-test-demo-"))
    try:
        first = demo(tmp_path)
        assert first.returncode == 0, first.stderr[-2000:]
        for title in ("question_interaction_fact —", "test_summary_fact —", "test_funnel_fact —",
                      "item_statistics_fact —", "option_choice_fact —", "etl_rejects —"):
            assert title in first.stdout
        assert "0 failures" in first.stdout

        # The per-window lines: a header naming each fact's column, then one line per hourly window.
        lines = first.stdout.splitlines()
        header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("window "))
        assert lines[header].split() == ["window", "status", "read", "written:", "question_interaction",
                                         "test_summary", "test_funnel", "item_statistics", "option_choice", "time"]
        rows = lines[header + 1:header + 7]
        counts = r" +[\d,]+" * 6  # rows read, then the rows written of each of the five facts
        assert all(re.fullmatch(rf" +{WINDOW} +ok{counts} +[\d.]+s", r) for r in rows), rows
        # Each count sits under its fact's label (right-aligned).
        for label in ("question_interaction", "test_summary", "test_funnel", "item_statistics", "option_choice"):
            end = lines[header].index(label) + len(label)
            assert all(r[end - 1].isdigit() and r[end] == " " for r in rows), (label, rows)

        # The demo ends with the item analysis: each test's reliability, then the flagged questions and the options
        # that attract strong students (tests/test_item_report.py checks the figures against the range functions).
        items = first.stdout[first.stdout.index("item analysis of the demo data"):]
        assert "test reliability, the beginning to now (min 30 attempts for flags)" in items
        flagged = items[items.index("flagged questions\n"):].splitlines()
        assert flagged[1].split() == ["test_id", "question_id", "attempts", "facility", "discrimination", "flags"]
        assert re.fullmatch(r"\d+ +\d+ +\d+ +[\d.]+ +-?[\d.]+ +\w+.*", flagged[3].strip())
        assert "what each flag means and what to check: docs/item_analysis.md" in items

        # No log lines in the output: they are in the log file, whose path is printed with the next steps.
        assert "INFO" not in first.stdout + first.stderr
        log_file = tmp_path / "logs" / "demo.log"
        assert " INFO mcq_analytics.pipeline: extracted " in log_file.read_text()
        assert first.stdout.endswith(
            "next steps:\n"
            "  make airflow                                          the Airflow UI on http://localhost:8080"
            " (login printed) with both DAGs\n"
            "  .venv/bin/python run_etl.py --env dev status          each pipeline's watermark and last run\n"
            "  .venv/bin/python run_etl.py --env dev items --test N  one test's item analysis"
            " (docs/item_analysis.md)\n"
            f"\nthis run's log: {log_file} (run_etl.py --env dev demo --verbose shows it here)\n")

        second = demo(tmp_path, "--verbose")  # the log lines on the terminal instead
        assert second.returncode == 0, second.stderr[-2000:]
        assert " INFO mcq_analytics.pipeline: extracted " in second.stderr
        assert "this run's log" not in second.stdout

        def summary(text: str) -> str:  # the facts, minus timings and the log file's line
            return re.sub(r"in [0-9.]+s", "", text[text.index("[3/3]"):text.index("\nthis run's log")
                                                  if "this run's log" in text else len(text)])

        assert summary(second.stdout) == summary(first.stdout)
    finally:
        EmbeddedPostgres(tmp_path / "pgdata").stop()
        shutil.rmtree(tmp_path, ignore_errors=True)

"""run_etl.py as users call it: exit codes, one-line errors, metadata, catch-up from the watermark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
from helpers import fetch_fact
from test_contract import EXPECTED_QIF, assert_rows_equal, seed_platform

from mcq_analytics.metadata import read_metadata

ROOT = Path(__file__).resolve().parents[1]


def run_etl(*args: str, source_url: str = "", warehouse_url: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MCQ_SOURCE_URL": source_url, "MCQ_WAREHOUSE_URL": warehouse_url,
           "MCQ_EMBEDDED_POSTGRES": "false"}
    return subprocess.run([sys.executable, str(ROOT / "run_etl.py"), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert fragment in lines[0]


def test_bad_arguments_exit_2_with_one_line():
    assert_one_line_error(run_etl("--start", "2024:13:01 10"), 2, "cannot read time '2024:13:01 10'")
    assert_one_line_error(run_etl("--start", "2024:06:01 11", "--end", "2024:06:01 10"), 2, "must be after")
    assert_one_line_error(run_etl("--env", "nosuch"), 2, "unknown environment 'nosuch'")
    assert_one_line_error(run_etl("--pipeline", "nosuch_fact"), 2, "invalid choice: 'nosuch_fact'")


def test_unreachable_database_names_it_without_the_password():
    proc = run_etl("--start", "2024:06:01 10", "--end", "2024:06:01 11",
                   source_url="postgresql://etl:s3cret-pw@127.0.0.1:9/mcq", warehouse_url="postgresql://x@127.0.0.1:9/w")
    assert_one_line_error(proc, 1, "cannot connect to the source database postgresql://etl:***@127.0.0.1:9/mcq")
    assert "s3cret-pw" not in proc.stderr + proc.stdout


def test_range_run_then_catch_up_from_the_watermark(dbs):
    seed_platform(dbs.source_url)
    urls = {"source_url": dbs.source_url, "warehouse_url": dbs.warehouse_url}
    proc = run_etl("--env", "dev", "--start", "2024:06:01 10", "--end", "2024-06-01T11:00:00Z", **urls)
    assert proc.returncode == 0, proc.stderr
    assert "1 window(s), 5 pipeline run(s): 5 succeeded, 0 failed" in proc.stdout

    # Without --start each pipeline continues from its watermark (11:00) up to --end.
    proc = run_etl("--env", "dev", "--end", "2024-06-01 14:00", **urls)
    assert proc.returncode == 0, proc.stderr
    meta = read_metadata(dbs.warehouse_url)
    assert {(m["pipeline_name"], m["status"], m["watermark"].hour, m["consecutive_failures"]) for m in meta} == {
        ("question_interaction_fact", "success", 14, 0), ("test_summary_fact", "success", 14, 0),
        ("test_funnel_fact", "success", 14, 0), ("item_statistics_fact", "success", 14, 0),
        ("option_choice_fact", "success", 14, 0)}
    assert_rows_equal(fetch_fact(dbs.warehouse_url, "question_interaction_fact"), EXPECTED_QIF)

    proc = run_etl("--env", "dev", "--end", "2024-06-01 14:00", **urls)
    assert proc.returncode == 0 and "nothing to do" in proc.stdout


def test_a_failed_run_exits_1_and_records_failed(dbs):
    seed_platform(dbs.source_url)
    with psycopg.connect(dbs.warehouse_url) as conn:
        conn.execute("ALTER TABLE analytics.test_funnel_fact ADD CONSTRAINT never CHECK (started < 0)")
    proc = run_etl("--env", "dev", "--start", "2024:06:01 10", "--end", "2024:06:01 11",
                   "--pipeline", "test_funnel_fact", source_url=dbs.source_url, warehouse_url=dbs.warehouse_url)
    assert proc.returncode == 1
    assert "FAILED test_funnel_fact [2024-06-01 10:00, 2024-06-01 11:00) UTC: CheckViolation" in proc.stdout
    (meta,) = read_metadata(dbs.warehouse_url)
    assert (meta["pipeline_name"], meta["status"], meta["consecutive_failures"]) == ("test_funnel_fact", "failed", 1)
    assert "never" in meta["last_error"]

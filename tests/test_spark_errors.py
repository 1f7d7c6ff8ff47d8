"""Spark errors a user can read: ``run_etl.py`` (the real CLI, in a subprocess) names a missing JDBC driver or
an unreachable master in one line before anything is submitted, and a job that fails reports one line per
pipeline — the cause and the path of the full log — never a Java stack trace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcq_analytics.facts import FACT_NAMES
from mcq_analytics.metadata import read_metadata
from mcq_analytics.spark.run import log_cause

ROOT = Path(__file__).resolve().parents[1]
NO_DRIVER = "run_etl.py: error: no PostgreSQL JDBC driver: install libpostgresql-jdbc-java or set MCQ_JDBC_JAR"
UNREACHABLE = "run_etl.py: error: Spark master spark://127.0.0.1:9 is unreachable: connection refused"
HOUR = ("--start", "2024:06:01 00", "--end", "2024:06:01 01")
JAVA_NOISE = ("Exception", "at org.", "Py4J", "Traceback")
needs_java = pytest.mark.skipif(not (shutil.which("java") or os.environ.get("JAVA_HOME")), reason="needs Java")


def run_etl(tmp_path: Path, *args: str, source_url: str = "postgresql://u@127.0.0.1:9/nodb",
            warehouse_url: str = "postgresql://u@127.0.0.1:9/nodb", **settings: str) -> subprocess.CompletedProcess:
    """``run_etl.py --env dev`` with ``settings`` as environment variables (an unused port for the databases
    by default: the checks under test must stop the run before it connects)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MCQ_JDBC_JAR", "MCQ_JDBC_PACKAGE", "SPARK_HOME")}
    env.update({"MCQ_SOURCE_URL": source_url, "MCQ_WAREHOUSE_URL": warehouse_url, "MCQ_EMBEDDED_POSTGRES": "false",
                "MCQ_STATE_DIR": str(tmp_path / "state"), **settings})
    return subprocess.run([sys.executable, str(ROOT / "run_etl.py"), "--env", "dev", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


def a_jar(tmp_path: Path) -> str:
    """A file where ``MCQ_JDBC_JAR`` points (the checks before submitting only need it to exist)."""
    jar = tmp_path / "postgresql.jar"
    jar.write_bytes(b"")
    return str(jar)


def test_a_missing_jdbc_driver_is_one_line_before_spark_submit(tmp_path):
    proc = run_etl(tmp_path, "--engine", "spark", *HOUR, MCQ_JDBC_SEARCH_PATH=str(tmp_path / "nothing-*.jar"))
    assert proc.returncode == 1
    assert (proc.stdout, proc.stderr) == ("", NO_DRIVER + "\n")
    assert not (tmp_path / "state" / "spark").exists()  # nothing was submitted


@needs_java
def test_an_unreachable_master_is_named_in_one_line_within_seconds(tmp_path):
    started = time.monotonic()
    proc = run_etl(tmp_path, "--engine", "spark", *HOUR, MCQ_JDBC_JAR=a_jar(tmp_path),
                   MCQ_SPARK_MASTER="spark://127.0.0.1:9")
    assert time.monotonic() - started < 10
    assert proc.returncode == 1
    assert (proc.stdout, proc.stderr) == ("", UNREACHABLE + "\n")


@needs_java
def test_auto_runs_that_find_the_master_unreachable_fail_in_one_line_each(dbs, tmp_path):
    """Under ``auto`` the check runs per window that chooses Spark: each pipeline fails with the one line,
    recorded as its run's error; the output holds no Java text."""
    proc = run_etl(tmp_path, "--engine", "auto", *HOUR, source_url=dbs.source_url, warehouse_url=dbs.warehouse_url,
                   MCQ_JDBC_JAR=a_jar(tmp_path), MCQ_SPARK_MASTER="spark://127.0.0.1:9",
                   MCQ_AUTO_ENGINE_THRESHOLD_ROWS="0")
    assert proc.returncode == 1
    cause = "Spark master spark://127.0.0.1:9 is unreachable: connection refused"
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    assert failed == [f"FAILED {p} [2024-06-01 00:00, 2024-06-01 01:00) UTC: {cause}"
                      for p in FACT_NAMES]
    assert not any(noise in proc.stdout + proc.stderr for noise in JAVA_NOISE)
    meta = {m["pipeline_name"]: m for m in read_metadata(dbs.warehouse_url)}
    assert {(m["status"], m["engine"], m["last_error"]) for m in meta.values()} == {("failed", "spark", cause)}
    # A fresh pipeline's watermark is set before the run (the empty source's: the window start); a failed
    # window never moves it.
    assert {m["watermark"] for m in meta.values()} == {datetime(2024, 6, 1, tzinfo=UTC)}


@needs_java
def test_a_job_that_dies_in_spark_submit_reports_the_first_meaningful_line_and_its_log(dbs, tmp_path):
    """A real spark-submit that fails before the job starts (a master URL Spark rejects): one line per
    pipeline with Spark's own reason and the log's path; the stack trace stays in the log."""
    proc = run_etl(tmp_path, "--engine", "spark", *HOUR, source_url=dbs.source_url,
                   warehouse_url=dbs.warehouse_url, MCQ_JDBC_JAR=a_jar(tmp_path), MCQ_SPARK_MASTER="bogus://x")
    assert proc.returncode == 1
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == len(FACT_NAMES)
    logs = sorted((tmp_path / "state" / "spark").glob("job-*.log"))
    assert len(logs) == 1
    for line in failed:
        assert line.endswith(f"spark job failed (exit code 1): org.apache.spark.SparkException: Master must "
                             f"either be yarn or start with spark, k8s, or local; log: {logs[0]}"), line
    assert "at org.apache.spark" in logs[0].read_text()  # the full trace is kept for whoever needs it
    assert not any(noise in proc.stdout + proc.stderr for noise in ("at org.", "Py4J", "Traceback"))


def test_log_cause_picks_the_first_meaningful_line():
    py4j = """\
25/11/30 15:00:01 WARN NativeCodeLoader: Unable to load native-hadoop library for your platform
25/11/30 15:00:03 ERROR SparkContext: Error initializing SparkContext.
org.apache.spark.SparkException: Could not parse Master URL: 'spark:/x'
\tat org.apache.spark.SparkContext$.org$apache$spark$SparkContext$$createTaskScheduler(SparkContext.scala:3203)
Traceback (most recent call last):
  File "/work/include/spark_jobs/build_fact.py", line 6, in <module>
py4j.protocol.Py4JJavaError: An error occurred while calling None.org.apache.spark.sql.classic.SparkSession.
: org.apache.spark.SparkException: Could not parse Master URL: 'spark:/x'
"""
    assert log_cause(py4j) == "org.apache.spark.SparkException: Could not parse Master URL: 'spark:/x'"
    ivy = (":: resolution report :: resolve 30012ms :: artifacts dl 0ms\n"
           'Exception in thread "main" java.lang.RuntimeException: [unresolved dependency: '
           "org.postgresql#postgresql;42.7.4: not found]\n"
           "\tat org.apache.spark.deploy.SparkSubmitUtils$.resolveMavenCoordinates(SparkSubmit.scala:1609)\n")
    assert log_cause(ivy) == ("java.lang.RuntimeException: [unresolved dependency: org.postgresql#postgresql;42.7.4: "
                              "not found]")
    python = "Traceback (most recent call last):\n  File \"x.py\", line 1\nModuleNotFoundError: No module named 'x'\n"
    assert log_cause(python) == "ModuleNotFoundError: No module named 'x'"
    assert log_cause("build_fact.py: error: set MCQ_SOURCE_URL and MCQ_WAREHOUSE_URL in the environment\n") \
        == "set MCQ_SOURCE_URL and MCQ_WAREHOUSE_URL in the environment"
    assert log_cause("starting\nkilled\n") == "killed"
    assert log_cause("") == "the job wrote no log"

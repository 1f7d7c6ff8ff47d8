"""The Spark engine against the contract and the Pandas engine, with real ``spark-submit`` (local mode) on a
real PostgreSQL: the hand-built nasty case gives exactly the expected rows, generated data gives the Pandas
engine's facts, rejects and run counts after hourly windows in a shuffled order, and a job that fails in
the swap or is killed between staging and swap leaves the facts as they were and the metadata ``failed``.

Tests marked ``spark`` start Spark (each submit ~15–30 s on 2 cores, so there are few of them: one submit
builds all three facts of a window); the others check the submitting side without Spark.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from helpers import assert_facts_equal, at, fetch_all_facts, fetch_fact, fetch_rejects, insert
from test_contract import (
    EXPECTED_FUNNEL,
    EXPECTED_QIF,
    EXPECTED_SUMMARY,
    SESSION_AND_ANSWER_REJECTS,
    SUBMISSION_REJECTS,
    assert_rows_equal,
    seed_platform,
)

from mcq_analytics.config import ConfigError, load_settings
from mcq_analytics.engines import run_window
from mcq_analytics.facts import REGISTRY
from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.load import lock_key
from mcq_analytics.metadata import read_metadata
from mcq_analytics.pipeline import PIPELINES, run_pandas_window
from mcq_analytics.spark import jdbc, run, submit
from mcq_analytics.spark import job as spark_job
from mcq_analytics.windows import Window, hourly_windows

HAVE_JAVA = bool(shutil.which("java") or os.environ.get("JAVA_HOME"))
needs_spark = [pytest.mark.spark, pytest.mark.skipif(not HAVE_JAVA, reason="Spark needs Java")]
FAIL_ON_INSERT = """
CREATE FUNCTION analytics.refuse_insert() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'disk full (injected)'; END $$;
CREATE TRIGGER refuse_insert BEFORE INSERT ON analytics.question_interaction_fact
   FOR EACH ROW EXECUTE FUNCTION analytics.refuse_insert();
"""
RUN_LOG = ("SELECT pipeline_name, window_start, window_end, engine, status, rows_read, rows_written, rows_rejected"
           " FROM analytics.etl_run_log ORDER BY 1, 2, 3")


def settings(tmp_path: Path, threshold: int = 2_000_000):
    base = load_settings("dev", environ={"MCQ_EMBEDDED_POSTGRES": "true"})
    return dataclasses.replace(base, spark_master="local[2]", auto_engine_threshold=threshold,
                               state_dir=tmp_path / "state", jdbc_jar=None)


def meta(url: str) -> dict[str, dict]:
    return {row["pipeline_name"]: row for row in read_metadata(url)}


def run_log(url: str, engine: str | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(RUN_LOG).fetchall()
    return [r[:3] + (engine or r[3],) + r[4:] for r in rows]


def staging_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'mcq_staging' ORDER BY 1").fetchall()]


def assert_success(results) -> None:
    assert [r.status for r in results] == ["success"] * len(results), [r.error for r in results]


def new_warehouse(pg_server, schema_templates) -> str:
    return pg_server.create_database(f"t_spark_wh_{uuid.uuid4().hex[:8]}", template=schema_templates[1])


# -- the submitting side, without Spark --------------------------------------------------------------
def test_scope_predicates_select_exactly_the_scope_in_balanced_partitions(pg_server):
    rng = random.Random(5)
    ids = sorted(set(range(5_000, 5_400)) | set(rng.sample(range(1, 4_000), 150)) | {9_999_999_999})
    predicates = jdbc.scope_predicates(ids, 4, column="g")
    assert len(predicates) == 4
    assert "BETWEEN 5" in " ".join(predicates)  # the dense block became ranges
    picked: list[list[int]] = []
    with psycopg.connect(pg_server.admin_url) as conn:
        for predicate in predicates:
            picked.append([r[0] for r in conn.execute(
                f"SELECT g FROM unnest(%s::bigint[]) g WHERE {predicate} ORDER BY g",
                (list(range(0, 5_500)) + [9_999_999_999, 10_000_000_000],)).fetchall()])
        assert conn.execute("SELECT count(*) FROM generate_series(1, 3) session_id WHERE "
                            + jdbc.scope_predicates([], 3)[0]).fetchone()[0] == 0
    assert sorted(i for part in picked for i in part) == ids  # every id once, nothing else
    assert max(map(len, picked)) - min(map(len, picked)) <= 1 + len(ids) // 4 // 10


def test_jdbc_target_keeps_the_password_out_of_the_url():
    url, props = jdbc.jdbc_target("postgresql://etl:s3cret@db.internal:6432/analytics?sslmode=require")
    assert url == "jdbc:postgresql://db.internal:6432/analytics"
    assert props == {"user": "etl", "password": "s3cret", "driver": "org.postgresql.Driver", "sslmode": "require"}
    assert jdbc.jdbc_target("host=::1 dbname=x user=u")[0] == "jdbc:postgresql://[::1]:5432/x"
    with pytest.raises(ConfigError, match="TCP"):
        jdbc.jdbc_target("postgresql:///mcq?host=/var/run/postgresql")


def test_spark_conf_per_environment():
    local = submit.spark_conf("local[*]", expected_rows=1_000)
    assert local["spark.sql.session.timeZone"] == "UTC"
    assert local["spark.sql.adaptive.enabled"] == local["spark.sql.adaptive.skewJoin.enabled"] == "true"
    assert local["spark.sql.adaptive.coalescePartitions.enabled"] == "true"
    assert "spark.dynamicAllocation.enabled" not in local and local["spark.ui.enabled"] == "false"
    assert int(local["spark.sql.shuffle.partitions"]) <= 4
    assert "spark.jars.packages" not in local
    cluster = submit.spark_conf("spark://master:7077", expected_rows=50_000_000,
                                jdbc_package="org.postgresql:postgresql:42.7.4",
                                extra={"spark.dynamicAllocation.maxExecutors": "20"})
    assert cluster["spark.dynamicAllocation.enabled"] == "true"
    assert cluster["spark.dynamicAllocation.shuffleTracking.enabled"] == "true"
    assert cluster["spark.dynamicAllocation.maxExecutors"] == "20"
    assert int(cluster["spark.sql.shuffle.partitions"]) >= 100
    assert cluster["spark.jars.packages"].startswith("org.postgresql:postgresql:42.7.")
    assert submit.spark_conf("yarn")["spark.dynamicAllocation.enabled"] == "true"
    assert submit.parse_extra_conf("a=1; b = x=y\n") == {"a": "1", "b": "x=y"}


def test_jdbc_jar_discovery(tmp_path, monkeypatch):
    jar = tmp_path / "postgresql-42.7.4.jar"
    jar.write_bytes(b"")
    assert submit.find_jdbc_jar(str(jar)) == str(jar)
    assert submit.find_jdbc_jar("local:///opt/spark/jars/pg.jar") == "local:///opt/spark/jars/pg.jar"
    with pytest.raises(ConfigError, match="does not exist"):
        submit.find_jdbc_jar(str(tmp_path / "missing.jar"))
    assert submit.find_jdbc_jar(None, [str(tmp_path / "nothing*.jar"), str(tmp_path / "postgresql-*.jar")]) \
        == str(jar)
    monkeypatch.delenv("SPARK_HOME", raising=False)
    assert submit.find_jdbc_jar(None, [str(tmp_path / "nothing*.jar")]) is None
    # Nothing found: no silent download (Spark's Ivy fails minutes later without network) unless opted in.
    monkeypatch.setenv("MCQ_JDBC_SEARCH_PATH", str(tmp_path / "nothing*.jar"))
    monkeypatch.delenv("MCQ_JDBC_PACKAGE", raising=False)
    with pytest.raises(submit.SparkUnavailable) as missing:
        submit.jdbc_driver(None)
    assert str(missing.value) == "no PostgreSQL JDBC driver: install libpostgresql-jdbc-java or set MCQ_JDBC_JAR"
    monkeypatch.setenv("MCQ_JDBC_PACKAGE", "org.postgresql:postgresql:42.7.4")
    assert submit.jdbc_driver(None) == submit.JdbcDriver(package="org.postgresql:postgresql:42.7.4")
    monkeypatch.setenv("MCQ_JDBC_SEARCH_PATH", os.pathsep.join([str(tmp_path / "nothing*.jar"),
                                                                str(tmp_path / "postgresql-*.jar")]))
    assert submit.jdbc_driver(None) == submit.JdbcDriver(jar=str(jar))


def test_submit_command_carries_no_secret(tmp_path):
    window = Window(at(0), at(60))
    jar = tmp_path / "postgresql.jar"
    jar.write_bytes(b"")
    job = submit.build_job("local[2]", "postgresql://u:pw1@h/src", "postgresql://u:pw2@h/wh", window,
                           list(PIPELINES), {p: f"{p}-id" for p in PIPELINES}, work_dir=tmp_path,
                           manage_metadata=True, jdbc_jar=str(jar))
    argv = " ".join(job.argv("spark-submit"))
    assert "pw1" not in argv and "pw2" not in argv and "postgresql://" not in argv
    assert job.env["MCQ_SOURCE_URL"] == "postgresql://u:pw1@h/src"
    assert "--manage-metadata" in argv and "--py-files" in argv and "test_funnel_fact=test_funnel_fact-id" in argv
    assert Path(job.py_files[0]).is_file() and job.py_files[0].endswith(".zip")
    assert job.jars == [str(jar)] and "spark.jars.packages" not in job.conf
    # The operator's way to the same submit: the same conf, jar, package zip and environment.
    settings_ = submit.submit_settings("local[2]", "postgresql://u:pw1@h/src", "postgresql://u:pw2@h/wh",
                                       jars=str(jar), work_dir=tmp_path, conf={"spark.executor.memory": "1g"},
                                       env={"X": 1})
    assert settings_["jars"] == str(jar) and settings_["py_files"] == job.py_files[0]
    assert settings_["conf"] == {**submit.spark_conf("local[2]"), "spark.executor.memory": "1g"}
    assert settings_["env_vars"] == {"X": "1", **job.env}
    # The zip carries the SQL the job reads, where paths.read_sql finds it inside the job.
    names = zipfile.ZipFile(job.py_files[0]).namelist()
    assert {"mcq_analytics/spark/job.py", "mcq_analytics/sql/extract/answers.sql",
            "mcq_analytics/sql/load/rejects.sql"} <= set(names)



def test_the_job_gets_the_look_back_and_the_lock_timeout_and_keeps_its_window(capsys):
    """``run_spark_window``'s window carries the look-back: the job's arguments pass its scan start and the
    lock timeout, and the job rebuilds the same window (bookkeeping ``[start, end)``, scan from 09:00)."""
    window = Window(at(60), at(120), lookback=timedelta(hours=1))
    args = submit.job_arguments(window, ["test_funnel_fact"], {"test_funnel_fact": "id"}, lock_timeout_seconds=30)
    assert args[:8] == ["--window-start", at(60).isoformat(), "--window-end", at(120).isoformat(),
                        "--scan-start", at(0).isoformat(), "--lock-timeout", "30"]
    parsed = spark_job.parse_args(args)
    assert (parsed.scan_start, parsed.lock_timeout) == (at(0).isoformat(), 30)
    assert "--scan-start" not in submit.job_arguments(Window(at(60), at(120)), ["test_funnel_fact"],
                                                      {"test_funnel_fact": "id"})
    # A scan start after the window start is bad input: one line, exit 2, before any Spark or database.
    assert spark_job.main(["--pipeline", "all", "--window-start", at(60).isoformat(), "--window-end",
                           at(120).isoformat(), "--scan-start", at(90).isoformat()]) == 2
    assert "is after the window start" in capsys.readouterr().err

def test_the_package_zip_runs_with_its_own_sql(tmp_path):
    """Imported from the zip alone (as the job's driver does with ``--py-files`` first on its path), the
    package reads the SQL it was shipped with, from any directory, with no setting pointing at a checkout."""
    zip_path = submit.package_zip(tmp_path / "zip")
    probe = ("import mcq_analytics.paths as p, mcq_analytics.spark.job as j; print(p.__file__); "
             "print(j.jdbc_query('answers'))")
    env = {**os.environ, "PYTHONPATH": str(zip_path)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == str(zip_path / "mcq_analytics" / "paths.py")
    assert out[1:] == [
        "SELECT a.answer_id, a.session_id, a.question_id, a.selected_option,",
        "       CASE WHEN a.answered_at >= '2000-01-01 00:00+00' AND a.answered_at < '2100-01-01 00:00+00'",
        "            THEN (extract(epoch FROM a.answered_at) * 1000000)::bigint ELSE 0 END AS answered_us,",
        "       a.time_spent_ms",
        "  FROM answers a"]

def test_auto_engine_counts_affected_answers_and_runs_pandas_below_the_threshold(dbs, tmp_path):
    seed_platform(dbs.source_url)
    hour0 = Window(at(0), at(60))
    # Every answer row of the sessions hour 0 touches, counted by hand from the seed (its answers are all in
    # hours 0 and 1): all answers except those of sessions 7 and 8, which start in hour 1.
    with psycopg.connect(dbs.source_url) as conn:
        expected = conn.execute("SELECT count(*) FROM answers WHERE session_id NOT IN (7, 8)").fetchone()[0]
    assert run.affected_answer_rows(dbs.source_url, hour0) == expected
    assert run.choose_engine(settings(tmp_path, threshold=expected), dbs.source_url, hour0) \
        == ("spark", expected)
    assert run.choose_engine(settings(tmp_path, threshold=expected + 1), dbs.source_url, hour0) \
        == ("pandas", expected)
    assert_success(run_window("auto", settings(tmp_path, threshold=10**9), dbs.source_url, dbs.warehouse_url, hour0))
    assert {m["engine"] for m in meta(dbs.warehouse_url).values()} == {"pandas"}


# -- real spark-submit -------------------------------------------------------------------------------
def spark_test(fn):
    """Marks a test that runs real spark-submit (``-m 'not spark'`` skips them)."""
    for mark in needs_spark:
        fn = mark(fn)
    return fn


@spark_test
def test_spark_gives_every_expected_row_and_reject_of_the_hand_built_case(dbs, pg_server, schema_templates, tmp_path):
    seed_platform(dbs.source_url)
    # Hour 1 first, then hour 0 through ``auto`` with a threshold of 0 rows: both run on Spark.
    assert_success(run_window("spark", settings(tmp_path), dbs.source_url, dbs.warehouse_url, Window(at(60), at(120))))
    assert_success(run_window("auto", settings(tmp_path, threshold=0), dbs.source_url, dbs.warehouse_url,
                              Window(at(0), at(60))))
    assert_rows_equal(fetch_fact(dbs.warehouse_url, "question_interaction_fact"), EXPECTED_QIF)
    assert_rows_equal(fetch_fact(dbs.warehouse_url, "test_summary_fact"), EXPECTED_SUMMARY)
    assert_rows_equal(fetch_fact(dbs.warehouse_url, "test_funnel_fact"), EXPECTED_FUNNEL)
    expected = []  # each fact quarantines the rejects of the source tables it reads
    for f in REGISTRY:
        rows = [*SESSION_AND_ANSWER_REJECTS, *(SUBMISSION_REJECTS if "submissions" in f.sources else ())]
        expected += [(f.name, *r) for r in rows]
    assert fetch_rejects(dbs.warehouse_url) == sorted(expected)
    assert {(m["status"], m["engine"], m["consecutive_failures"]) for m in meta(dbs.warehouse_url).values()} \
        == {("success", "spark", 0)}
    assert staging_tables(dbs.warehouse_url) == []

    # The same windows on the Pandas engine (the same entry point, so the same look-back) read, write and
    # reject exactly as many rows.
    pandas_wh = new_warehouse(pg_server, schema_templates)
    for window in (Window(at(60), at(120)), Window(at(0), at(60))):
        assert_success(run_window("pandas", settings(tmp_path), dbs.source_url, pandas_wh, window))
    assert run_log(dbs.warehouse_url, "-") == run_log(pandas_wh, "-")
    # ... and the same rows of every fact, the item facts (no expected rows above) exactly.
    assert_facts_equal(fetch_all_facts(dbs.warehouse_url), fetch_all_facts(pandas_wh))
    assert fetch_all_facts(dbs.warehouse_url)["option_choice_fact"], "the hand-built case scores attempts"
    pg_server.drop_database(pandas_wh.rsplit("/", 1)[1])


@spark_test
def test_spark_equals_pandas_on_generated_data_after_shuffled_hourly_windows(dbs, pg_server, schema_templates,
                                                                             tmp_path):
    report = generate(dbs.source_url, GeneratorConfig(answers=6_000, hours=3, seed=11, bad_fraction=0.03),
                      reset=True)
    first, last = report.window_range()
    hours = list(hourly_windows(first, last))
    shuffled = hours[:]
    random.Random(2).shuffle(shuffled)
    assert shuffled != hours
    # Both engines run the same shuffled order through run_window (so with the same look-back): a window's scan
    # depends on its look-back and on which hours ran before it, so per-window run logs compare only like that.
    pandas_hourly, pandas_full = new_warehouse(pg_server, schema_templates), new_warehouse(pg_server,
                                                                                          schema_templates)
    for window in shuffled:
        assert_success(run_window("pandas", settings(tmp_path), dbs.source_url, pandas_hourly, window))
    assert_success(run_pandas_window(dbs.source_url, pandas_full, Window(first, last)))

    for window in shuffled:
        assert_success(run_window("spark", settings(tmp_path), dbs.source_url, dbs.warehouse_url, window))

    expected = fetch_all_facts(pandas_hourly)
    assert all(expected.values()), "the generated data must fill every fact"
    assert_facts_equal(fetch_all_facts(dbs.warehouse_url), expected)
    assert_facts_equal(fetch_all_facts(dbs.warehouse_url), fetch_all_facts(pandas_full))
    assert fetch_rejects(dbs.warehouse_url) == fetch_rejects(pandas_hourly)
    assert len(fetch_rejects(dbs.warehouse_url, "test_summary_fact")) == sum(report.bad.values())
    assert run_log(dbs.warehouse_url, "-") == run_log(pandas_hourly, "-")  # per window: same rows read/written
    for url in (pandas_hourly, pandas_full):
        pg_server.drop_database(url.rsplit("/", 1)[1])


@spark_test
def test_a_spark_swap_that_fails_leaves_the_fact_unchanged_and_the_run_failed(dbs, tmp_path):
    seed_platform(dbs.source_url)
    # The catalogue rows date from 00:00: the quiet hours up to 10:00 first, so the windows are in sequence.
    assert_success(run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(at(-600), at(0))))
    for hour in (0, 1, 2):
        assert_success(run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(at(60 * hour), at(60 * hour + 60))))
    with psycopg.connect(dbs.warehouse_url) as conn:
        conn.execute(FAIL_ON_INSERT)
    # A late answer for session 3 written in hour 3: every fact of that window changes.
    insert(dbs.source_url, "answers", [{"answer_id": 301, "session_id": 3, "question_id": 11, "selected_option": 4,
                                        "answered_at": at(45), "time_spent_ms": 700, "updated_at": at(190)}])

    results = {r.pipeline: r for r in run_window("spark", settings(tmp_path), dbs.source_url, dbs.warehouse_url,
                                                  Window(at(180), at(240)))}

    assert results["question_interaction_fact"].status == "failed"
    assert "disk full (injected)" in results["question_interaction_fact"].error
    assert_rows_equal(fetch_fact(dbs.warehouse_url, "question_interaction_fact"), EXPECTED_QIF)  # not half-deleted
    assert results["test_summary_fact"].status == results["test_funnel_fact"].status == "success"
    assert fetch_fact(dbs.warehouse_url, "test_summary_fact")[0][-1] == 1.5  # session 3 now answered one
    m = meta(dbs.warehouse_url)
    assert (m["question_interaction_fact"]["status"], m["question_interaction_fact"]["engine"]) == ("failed", "spark")
    assert m["question_interaction_fact"]["consecutive_failures"] == 1
    assert "disk full (injected)" in m["question_interaction_fact"]["last_error"]
    assert m["question_interaction_fact"]["watermark"] == at(180)  # a failed window never moves it
    assert m["test_summary_fact"]["status"] == "success" and m["test_summary_fact"]["watermark"] == at(240)
    assert staging_tables(dbs.warehouse_url) == []  # the failed job still dropped its staging tables


def _job_process_group(marker: str) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and "build_fact.py" in cmdline:
            return os.getpgid(int(entry))
    return None


@spark_test
def test_a_spark_job_killed_between_staging_and_swap_changes_nothing(dbs, tmp_path):
    seed_platform(dbs.source_url)
    for hour in (0, 1):
        assert_success(run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(at(60 * hour), at(60 * hour + 60))))
    before = fetch_all_facts(dbs.warehouse_url)
    insert(dbs.source_url, "answers", [{"answer_id": 301, "session_id": 3, "question_id": 11, "selected_option": 4,
                                        "answered_at": at(45), "time_spent_ms": 700, "updated_at": at(190)}])
    marker = uuid.uuid4().hex
    run_ids = {p: f"{p}__kill_{marker}" for p in PIPELINES}
    results: list = []
    with psycopg.connect(dbs.warehouse_url, autocommit=True) as holder:
        # Hold the lock of the first fact swapped: the job stages everything, then waits inside its swap.
        holder.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (lock_key("question_interaction_fact"),))
        worker = threading.Thread(target=lambda: results.extend(run.run_spark_window(
            settings(tmp_path), dbs.source_url, dbs.warehouse_url, Window(at(180), at(240)), run_ids=run_ids)))
        worker.start()
        deadline = time.monotonic() + 900  # five facts staged on a loaded 2-core machine
        waiting = None
        while time.monotonic() < deadline and worker.is_alive() and not waiting:
            waiting = holder.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'mcq-spark-swap%%' "
                "AND wait_event_type = 'Lock' AND datname = current_database()").fetchone()
            time.sleep(0.5)
        assert waiting, "the job never reached its swap"
        assert len(staging_tables(dbs.warehouse_url)) == len(REGISTRY) + 1  # the rejects and every fact were staged
        group = _job_process_group(marker)
        assert group is not None and group != os.getpgrp()
        os.killpg(group, signal.SIGKILL)
        worker.join(timeout=120)
        assert not worker.is_alive()
        holder.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (lock_key("question_interaction_fact"),))

    assert [r.status for r in results] == ["failed"] * len(REGISTRY)
    assert all("killed by signal 9" in r.error for r in results), [r.error for r in results]
    time.sleep(1)  # the orphaned swap backend gets the lock, fails to answer its dead client and rolls back
    assert fetch_all_facts(dbs.warehouse_url) == before
    m = meta(dbs.warehouse_url)
    assert {(x["status"], x["engine"], x["consecutive_failures"]) for x in m.values()} == {("failed", "spark", 1)}
    assert all("killed by signal 9" in x["last_error"] for x in m.values())

    # A later job drops staging tables older than a day; here: older than now.
    spark_job.drop_stale_staging(dbs.warehouse_url, max_age_hours=-1)
    assert staging_tables(dbs.warehouse_url) == []

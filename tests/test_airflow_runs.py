"""The batch DAG run by real Airflow (``dag.test()`` through the Task SDK's task runner, on a migrated
metadata database) on a real source and warehouse: the facts equal a direct ``run_pandas_window`` run of the
same windows, ``etl_metadata`` records every pipeline, a re-run changes nothing, and a group that fails
fails its pipeline and the DAG run without touching the other groups. With ``MCQ_ENGINE=auto`` the batch DAG
picks Pandas or Spark per interval as ``run_etl.py`` does. The Spark DAG's operator is run with a stand-in
application (real ``spark-submit``) to check its bookkeeping and the environment convention, with the real
job in ``local[2]``, and on a real Spark standalone cluster (``spark_cluster``)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from airflow_harness import FACTS, airflow_env, assert_facts_equal, dag_test, dag_test_with_output
from helpers import fetch_all_facts, fetch_rejects
from psycopg.rows import dict_row

from mcq_analytics.airflow import support
from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.pipeline import run_pandas_window
from mcq_analytics.windows import Window

T0 = datetime(2024, 6, 1, 10, tzinfo=UTC)
HOURS = [Window(T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1)) for h in range(3)]


def logical_date_for(window: Window) -> str:
    """A manual (``dag.test``) run processes the hour that ends at its logical date."""
    return window.end.isoformat()


@pytest.fixture(scope="module")
def airflow(pg_server, tmp_path_factory):
    return airflow_env(pg_server, tmp_path_factory.getbasetemp(), "runs")


@pytest.fixture
def seeded(dbs):
    generate(dbs.source_url, GeneratorConfig(seed=11, start=T0, hours=3, answers=1500), reset=True)
    return dbs


@pytest.fixture
def reference_warehouse(pg_server, schema_templates):
    """A second, empty warehouse for the direct run the DAG's results are compared with."""
    name = f"t_reference_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name, template=schema_templates[1])
    yield url
    pg_server.drop_database(name)


def direct_run(source_url: str, warehouse_url: str, windows: list[Window]) -> None:
    for window in windows:
        results = run_pandas_window(source_url, warehouse_url, window)
        assert [r.status for r in results] == ["success"] * len(FACTS), [r.error for r in results]


def metadata_rows(url: str) -> dict[str, dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return {r["pipeline_name"]: r for r in conn.execute("SELECT * FROM analytics.etl_metadata")}


def run_log(url: str) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM analytics.etl_run_log ORDER BY started_at, run_id").fetchall()


def test_three_hourly_runs_equal_a_direct_run_and_a_rerun_changes_nothing(airflow, seeded, reference_warehouse):
    env = airflow.env(seeded.source_url, seeded.warehouse_url)
    started = time.perf_counter()
    runs = dag_test(airflow, "mcq_analytics_batch", [logical_date_for(w) for w in HOURS], proc_env=env)
    three_runs = time.perf_counter() - started
    print(f"\ndag.test: 3 hourly runs in {three_runs:.1f}s (process), per run "
          f"{', '.join(f'{r.seconds:.1f}s' for r in runs)}")

    assert [r.state for r in runs] == ["success"] * 3, [r.tasks for r in runs]
    assert [r.interval for r in runs] == [(w.start.isoformat(), w.end.isoformat()) for w in HOURS]
    assert all(set(r.tasks.values()) == {"success"} and len(r.tasks) == 2 * len(FACTS) for r in runs)

    direct_run(seeded.source_url, reference_warehouse, HOURS)
    expected = fetch_all_facts(reference_warehouse)
    assert all(expected.values()), "the generated data should fill every fact"
    assert_facts_equal(fetch_all_facts(seeded.warehouse_url), expected)
    assert fetch_rejects(seeded.warehouse_url) == fetch_rejects(reference_warehouse)

    meta = metadata_rows(seeded.warehouse_url)
    assert set(meta) == set(FACTS)
    for row in meta.values():
        assert (row["status"], row["engine"], row["consecutive_failures"], row["last_error"]) == (
            "success", "pandas", 0, None)
        assert (row["last_window_start"], row["last_window_end"], row["watermark"]) == (
            HOURS[-1].start, HOURS[-1].end, HOURS[-1].end)
    log_rows = run_log(seeded.warehouse_url)
    assert len(log_rows) == 3 * len(FACTS) and {r["status"] for r in log_rows} == {"success"}
    for run in runs:
        for fact in FACTS:
            run_id = support.run_id_for(fact, "mcq_analytics_batch", run.run_id, 1)
            row = next(r for r in log_rows if r["run_id"] == run_id)
            assert row["triggered_by"] == f"airflow:mcq_analytics_batch/{run.run_id}"
            assert (row["window_start"].isoformat(), row["window_end"].isoformat()) == run.interval

    # Re-running the last interval changes nothing (but does rewrite its rows).
    rerun = dag_test(airflow, "mcq_analytics_batch", [logical_date_for(HOURS[-1])], proc_env=env)[0]
    assert rerun.state == "success" and rerun.interval == runs[-1].interval
    assert_facts_equal(fetch_all_facts(seeded.warehouse_url), expected)
    assert fetch_rejects(seeded.warehouse_url) == fetch_rejects(reference_warehouse)
    meta_after = metadata_rows(seeded.warehouse_url)
    for fact in FACTS:
        assert meta_after[fact]["watermark"] == HOURS[-1].end
        assert meta_after[fact]["status"] == "success"
    with psycopg.connect(seeded.warehouse_url) as conn:
        rewritten = conn.execute("SELECT count(*) FROM analytics.question_interaction_fact WHERE etl_run_id = %s",
                                 (support.run_id_for("question_interaction_fact", "mcq_analytics_batch",
                                                     rerun.run_id, 1),)).fetchone()[0]
    assert rewritten > 0
    assert len(run_log(seeded.warehouse_url)) == 4 * len(FACTS)  # three runs and the rerun


BROKEN = "the funnel table is broken (test trigger)"


def test_a_failing_group_fails_its_pipeline_and_the_run_and_leaves_the_others_intact(airflow, seeded,
                                                                                    reference_warehouse):
    """A trigger makes every write to test_funnel_fact raise. With one retry, the funnel build fails twice:
    its metadata says failed with the error, counted once (the retried attempt is not a pipeline failure);
    its checks do not run; the DAG run fails; the two other groups succeed with the right facts; the
    funnel table keeps exactly what it held before."""
    sentinel = support.run_id_for("test_funnel_fact", "earlier", "run", 1)
    with psycopg.connect(seeded.warehouse_url) as conn:
        conn.execute("INSERT INTO analytics.test_funnel_fact VALUES (999, '2000-01-01 00:00+00', 1, 1, 1, 1, 1, "
                     "1, 1, 1, 1, NULL, %s, now())", (sentinel,))
        conn.execute(f"""
            CREATE FUNCTION analytics.broken_funnel() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{BROKEN}'; END $$;
            CREATE TRIGGER broken_funnel BEFORE INSERT OR UPDATE OR DELETE ON analytics.test_funnel_fact
              FOR EACH STATEMENT EXECUTE FUNCTION analytics.broken_funnel();""")
    run = dag_test(airflow, "mcq_analytics_batch", [logical_date_for(HOURS[0])], retries=1,
                   proc_env=airflow.env(seeded.source_url, seeded.warehouse_url))[0]

    assert run.state == "failed"
    assert run.tasks["test_funnel_fact.build"] == "failed"
    assert run.tasks["test_funnel_fact.checks"] == "upstream_failed"
    for fact in ("question_interaction_fact", "test_summary_fact"):
        assert {state for task, state in run.tasks.items() if task.startswith(fact)} == {"success"}

    meta = metadata_rows(seeded.warehouse_url)
    funnel = meta["test_funnel_fact"]
    assert funnel["status"] == "failed" and BROKEN in funnel["last_error"]
    assert funnel["consecutive_failures"] == 1  # two attempts, one pipeline failure
    # A fresh pipeline's watermark starts at the source's first activity hour; the failed hour does not move it.
    assert funnel["watermark"] == HOURS[0].start
    attempts = [r for r in run_log(seeded.warehouse_url) if r["pipeline_name"] == "test_funnel_fact"]
    assert [(r["run_id"].rsplit("__", 1)[1], r["status"]) for r in attempts] == [("try1", "failed"),
                                                                                ("try2", "failed")]
    assert all(BROKEN in r["error"] for r in attempts)
    for fact in ("question_interaction_fact", "test_summary_fact"):
        assert (meta[fact]["status"], meta[fact]["watermark"]) == ("success", HOURS[0].end)

    direct_run(seeded.source_url, reference_warehouse, HOURS[:1])
    got, expected = fetch_all_facts(seeded.warehouse_url), fetch_all_facts(reference_warehouse)
    both = ("question_interaction_fact", "test_summary_fact")
    assert_facts_equal({f: got[f] for f in both}, {f: expected[f] for f in both})
    with psycopg.connect(seeded.warehouse_url) as conn:
        assert conn.execute("SELECT test_id, etl_run_id FROM analytics.test_funnel_fact").fetchall() == [
            (999, sentinel)]


def test_a_failing_check_fails_the_run_and_names_the_failed_checks(airflow, seeded):
    """Bad rows (a trigger sets ``pass_rate`` to 2 on every test_summary_fact row with submissions): the build
    succeeds, the group's one ``checks`` task fails and so does the DAG run; its log lists each check with
    its result and the failure names exactly the two checks the rows break, with the table; the other
    groups' checks pass."""
    from mcq_analytics.airflow.dag_factory import check_expressions

    with psycopg.connect(seeded.warehouse_url) as conn:
        conn.execute("""
            CREATE FUNCTION analytics.bad_pass_rate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.submissions > 0 THEN NEW.pass_rate := 2; END IF; RETURN NEW; END $$;
            CREATE TRIGGER bad_pass_rate BEFORE INSERT OR UPDATE ON analytics.test_summary_fact
              FOR EACH ROW EXECUTE FUNCTION analytics.bad_pass_rate();""")
    [run], out = dag_test_with_output(airflow, "mcq_analytics_batch", [logical_date_for(HOURS[1])], retries=0,
                                      proc_env=airflow.env(seeded.source_url, seeded.warehouse_url))

    assert run.state == "failed"
    assert run.tasks["test_summary_fact.build"] == "success"
    assert run.tasks["test_summary_fact.checks"] == "failed"
    assert {task: state for task, state in run.tasks.items() if not task.startswith("test_summary_fact.")} == {
        f"{fact}.{task}": "success" for fact in FACTS if fact != "test_summary_fact" for task in ("build", "checks")}
    total = len(check_expressions("test_summary_fact")) + 4  # and the rule file's four rules
    assert (f"analytics.test_summary_fact: 2 of {total} checks failed: pass_rate <= 1, "
            "pass_rate_is_passed_over_submissions") in out
    for line in ("pass_rate <= 1: False", "pass_rate_is_passed_over_submissions: False", "pass_rate >= 0: True",
                 "table keys_unique: True", "table counts_nested: True", "score_statistics_ordered: True",
                 "test_id is not null: True"):
        assert line in out, line
    assert "table stages_non_increasing: True" in out  # the funnel's checks ran and passed
    with psycopg.connect(seeded.warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.test_summary_fact WHERE pass_rate = 2").fetchone()[0] > 0


STAND_IN_JOB = '''
"""Stands in for include/spark_jobs/build_fact.py: checks the calling convention, records counts or dies."""
import os, sys
import psycopg
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
assert set(args) == {"--pipeline", "--window-start", "--window-end", "--run-id", "--scan-start", "--lock-timeout"}, \
    sys.argv
from datetime import datetime, timedelta
# The change scan looks back MCQ_LOOKBACK_MINUTES (default 60) before the data interval; swaps wait at most 600 s.
assert (datetime.fromisoformat(args["--window-start"]) - datetime.fromisoformat(args["--scan-start"])
        == timedelta(minutes=60)), sys.argv
assert args["--lock-timeout"] == "600", sys.argv
assert not any("postgresql://" in a for a in sys.argv), "a database URL on the command line"
assert os.environ["MCQ_SOURCE_URL"].startswith("postgresql://")
if args["--pipeline"] == "test_funnel_fact":
    print("stand-in job: dying on purpose", flush=True)
    sys.exit(3)
with psycopg.connect(os.environ["MCQ_WAREHOUSE_URL"]) as conn:
    n = conn.execute("UPDATE analytics.etl_run_log SET rows_read = 100, rows_written = 7, rows_rejected = 1 "
                     "WHERE run_id = %s AND status = 'running'", (args["--run-id"],)).rowcount
assert n == 1, "the operator did not open the run-log row the job was told about"
'''


@pytest.mark.spark
def test_spark_operator_passes_urls_by_environment_and_keeps_metadata_right(airflow, dbs, tmp_path):
    """SparkFactSubmitOperator around a real spark-submit (local[1]) of a stand-in application: the job's
    counts are kept, a job that dies leaves its pipeline failed with the error, and the checks run."""
    job = tmp_path / "stand_in_job.py"
    job.write_text(STAND_IN_JOB)
    env = airflow.env(dbs.source_url, dbs.warehouse_url,
                      AIRFLOW_CONN_SPARK_DEFAULT='{"conn_type": "spark", "host": "local[1]"}')
    started = time.perf_counter()
    run = dag_test(airflow, "mcq_analytics_spark", [logical_date_for(HOURS[0])], retries=0,
                   application=str(job), proc_env=env)[0]
    print(f"\nSpark DAG with a stand-in job: {time.perf_counter() - started:.1f}s")
    assert run.state == "failed"
    assert run.tasks["test_funnel_fact.build"] == "failed"
    for fact in ("question_interaction_fact", "test_summary_fact"):
        assert {state for task, state in run.tasks.items() if task.startswith(fact)} == {"success"}, run.tasks
    meta = metadata_rows(dbs.warehouse_url)
    for fact in ("question_interaction_fact", "test_summary_fact"):
        row = meta[fact]
        assert (row["status"], row["engine"], row["rows_read"], row["rows_written"], row["rows_rejected"]) == (
            "success", "spark", 100, 7, 1)
        assert (row["last_window_start"], row["last_window_end"]) == (HOURS[0].start, HOURS[0].end)
    funnel = meta["test_funnel_fact"]
    assert (funnel["status"], funnel["engine"], funnel["consecutive_failures"]) == ("failed", "spark", 1)
    assert "spark job failed" in funnel["last_error"] and "3" in funnel["last_error"]
    assert "postgresql://" not in funnel["last_error"]


@pytest.mark.spark
def test_spark_dag_with_the_real_job_builds_the_same_facts(airflow, seeded, reference_warehouse):
    """The Spark DAG end to end: SparkFactSubmitOperator → spark-submit (local[2]) of
    include/spark_jobs/build_fact.py for each fact, then the checks; facts equal the Pandas engine's."""
    env = airflow.env(seeded.source_url, seeded.warehouse_url, MCQ_ENGINE="spark",
                      AIRFLOW_CONN_SPARK_DEFAULT='{"conn_type": "spark", "host": "local[2]"}',
                      MCQ_JDBC_JAR="/usr/share/java/postgresql.jar")
    started = time.perf_counter()
    run = dag_test(airflow, "mcq_analytics_spark", [logical_date_for(HOURS[0])], retries=0, proc_env=env)[0]
    print(f"\nSpark DAG, one hour, real job: {time.perf_counter() - started:.1f}s")
    assert run.state == "success", run.tasks
    direct_run(seeded.source_url, reference_warehouse, HOURS[:1])
    assert_facts_equal(fetch_all_facts(seeded.warehouse_url), fetch_all_facts(reference_warehouse))
    assert fetch_rejects(seeded.warehouse_url) == fetch_rejects(reference_warehouse)
    meta = metadata_rows(seeded.warehouse_url)
    for fact in FACTS:
        assert (meta[fact]["status"], meta[fact]["engine"]) == ("success", "spark")
        assert meta[fact]["rows_written"] > 0


#: The Spark DAG's task groups run on the cluster: the interaction fact and the item statistics (exact NUMERIC
#: sums; the item review's asset). Each build is one spark-submit (about 100 s on a loaded CI machine), so two
#: of the five; all five facts on the cluster: tests/test_spark_cluster.py, through this DAG: local[2] above.
CLUSTER_GROUPS = ["question_interaction_fact", "item_statistics_fact"]


@pytest.mark.spark_cluster
def test_spark_dag_on_a_standalone_cluster_builds_the_pandas_facts(spark_cluster, pg_server, tmp_path_factory,
                                                                   seeded, reference_warehouse):
    """The Spark DAG under Airflow against a real standalone cluster: ``spark_default`` is the cluster's
    ``spark://`` master, so every build task's spark-submit registers an application named after its fact with
    the master, which runs it on the workers' executors to the end; the checks pass; the facts, rejects and run
    log equal a direct Pandas run of the hour. Its own Airflow database: the tests above ran this DAG's hour."""
    assert set(CLUSTER_GROUPS) <= set(FACTS)
    airflow = airflow_env(pg_server, tmp_path_factory.getbasetemp(), "cluster")
    env = airflow.env(seeded.source_url, seeded.warehouse_url, MCQ_ENGINE="spark",
                      AIRFLOW_CONN_SPARK_DEFAULT=json.dumps({"conn_type": "spark", "host": spark_cluster.master_url}),
                      MCQ_JDBC_JAR="/usr/share/java/postgresql.jar", **spark_cluster.driver_env)
    apps_before = {app["id"] for app in spark_cluster.status()["completedapps"]}
    started = time.perf_counter()
    run = dag_test(airflow, "mcq_analytics_spark", [logical_date_for(HOURS[0])], retries=0, proc_env=env,
                   groups=CLUSTER_GROUPS, timeout=2400)[0]  # 1,519 s seen at load 20 on 2 cores
    print(f"\nSpark DAG on the standalone cluster, {len(CLUSTER_GROUPS)} groups, one hour: "
          f"{time.perf_counter() - started:.1f}s")

    assert run.state == "success", run.tasks
    assert run.tasks == {f"{fact}.{task}": "success" for fact in CLUSTER_GROUPS
                         for task in ("build", "checks")}
    status = spark_cluster.status()
    ran = [app for app in status["completedapps"] if app["id"] not in apps_before]
    # One application per build (the job names it after its fact and window), finished, with executors on a
    # worker: each executor a worker launches gets a folder <work dir>/<application id>.
    assert sorted((app["name"], app["state"]) for app in ran) == [
        (f"mcq-{fact}-{HOURS[0].start:%Y%m%dT%H%M}", "FINISHED") for fact in sorted(CLUSTER_GROUPS)], ran
    assert status["activeapps"] == []
    for app in ran:
        assert list(spark_cluster.base.glob(f"worker-*/work/{app['id']}")), (app, spark_cluster.log_tail())

    direct_run(seeded.source_url, reference_warehouse, HOURS[:1])
    got, expected = fetch_all_facts(seeded.warehouse_url), fetch_all_facts(reference_warehouse)
    assert all(expected[fact] for fact in CLUSTER_GROUPS), "the generated data should fill the facts built"
    assert_facts_equal({f: got[f] for f in CLUSTER_GROUPS}, {f: expected[f] for f in CLUSTER_GROUPS})
    assert {f: got[f] for f in FACTS if f not in CLUSTER_GROUPS} == {f: [] for f in FACTS if f not in CLUSTER_GROUPS}
    for fact in CLUSTER_GROUPS:
        assert fetch_rejects(seeded.warehouse_url, fact) == fetch_rejects(reference_warehouse, fact)

    meta = metadata_rows(seeded.warehouse_url)
    for fact in CLUSTER_GROUPS:
        row = meta[fact]
        assert (row["status"], row["engine"], row["consecutive_failures"], row["last_error"]) == (
            "success", "spark", 0, None)
        assert (row["last_window_start"], row["last_window_end"], row["watermark"]) == (
            HOURS[0].start, HOURS[0].end, HOURS[0].end)
    assert {(r["pipeline_name"], r["run_id"], r["engine"], r["status"], r["triggered_by"])
            for r in run_log(seeded.warehouse_url)} == {
        (fact, support.run_id_for(fact, "mcq_analytics_spark", run.run_id, 1), "spark", "success",
         support.triggered_by("mcq_analytics_spark", run.run_id)) for fact in CLUSTER_GROUPS}
    counts = {(r["pipeline_name"], r["rows_written"], r["rows_rejected"]) for r in run_log(seeded.warehouse_url)}
    assert counts == {(r["pipeline_name"], r["rows_written"], r["rows_rejected"])
                      for r in run_log(reference_warehouse) if r["pipeline_name"] in CLUSTER_GROUPS}
    assert all(written > 0 for _, written, _ in counts)


@pytest.mark.spark
def test_auto_engine_picks_pandas_or_spark_per_interval_like_run_etl(airflow, seeded, reference_warehouse, tmp_path):
    """``MCQ_ENGINE=auto`` in the batch DAG: each build counts its interval's affected answer rows (the estimate
    ``run_etl.py`` uses) and runs Pandas below ``MCQ_AUTO_ENGINE_THRESHOLD_ROWS``, Spark (a real spark-submit
    on the ``spark_default`` master) from it on. The task log says which and why, ``etl_metadata`` and
    ``etl_run_log`` record the engine that ran, and the facts equal a direct Pandas run's."""
    from mcq_analytics.spark.run import affected_answer_rows

    small, large = HOURS[0], HOURS[1]
    small_rows, large_rows = affected_answer_rows(seeded.source_url, small), affected_answer_rows(seeded.source_url,
                                                                                                 large)
    assert small_rows > 0 and large_rows > 0
    common = {"MCQ_ENGINE": "auto", "MCQ_STATE_DIR": str(tmp_path / "state"),
              "MCQ_JDBC_JAR": "/usr/share/java/postgresql.jar",
              "AIRFLOW_CONN_SPARK_DEFAULT": '{"conn_type": "spark", "host": "local[2]"}'}

    # A small interval: the threshold is one row above its count, so Pandas builds it.
    env = airflow.env(seeded.source_url, seeded.warehouse_url, MCQ_AUTO_ENGINE_THRESHOLD_ROWS=str(small_rows + 1),
                      **common)
    (pandas_run,), output = dag_test_with_output(airflow, "mcq_analytics_batch", [logical_date_for(small)],
                                                 proc_env=env, retries=0)
    assert pandas_run.state == "success", pandas_run.tasks
    assert output.count(f"auto chose pandas: {small_rows} affected answers < threshold {small_rows + 1}") == len(FACTS)
    assert "auto chose spark" not in output
    assert {(m["status"], m["engine"]) for m in metadata_rows(seeded.warehouse_url).values()} == {
        ("success", "pandas")}

    # A forced-large interval: the threshold lowered to exactly its count, so Spark builds it (≥).
    env = airflow.env(seeded.source_url, seeded.warehouse_url, MCQ_AUTO_ENGINE_THRESHOLD_ROWS=str(large_rows),
                      **common)
    started = time.perf_counter()
    (spark_run,), output = dag_test_with_output(airflow, "mcq_analytics_batch", [logical_date_for(large)],
                                                proc_env=env, retries=0, timeout=2400)  # a spark-submit per fact
    print(f"\nbatch DAG, auto → spark, one hour: {time.perf_counter() - started:.1f}s")
    assert spark_run.state == "success", (spark_run.tasks, output[-6000:])
    assert output.count(f"auto chose spark: {large_rows} affected answers ≥ threshold {large_rows}") == len(FACTS)
    assert "auto chose pandas" not in output
    meta = metadata_rows(seeded.warehouse_url)
    for fact in FACTS:
        row = meta[fact]
        assert (row["status"], row["engine"], row["consecutive_failures"]) == ("success", "spark", 0)
        assert (row["last_window_start"], row["last_window_end"], row["watermark"]) == (large.start, large.end,
                                                                                        large.end)
        assert row["rows_written"] > 0
    engines_by_run = {(r["pipeline_name"], r["run_id"]): (r["engine"], r["status"]) for r in run_log(
        seeded.warehouse_url)}
    assert engines_by_run == {
        **{(fact, support.run_id_for(fact, "mcq_analytics_batch", pandas_run.run_id, 1)): ("pandas", "success")
           for fact in FACTS},
        **{(fact, support.run_id_for(fact, "mcq_analytics_batch", spark_run.run_id, 1)): ("spark", "success")
           for fact in FACTS},
    }

    direct_run(seeded.source_url, reference_warehouse, [small, large])
    assert_facts_equal(fetch_all_facts(seeded.warehouse_url), fetch_all_facts(reference_warehouse))
    assert fetch_rejects(seeded.warehouse_url) == fetch_rejects(reference_warehouse)

"""A real Airflow 3 deployment in miniature runs a three-hour backfill of the batch DAG: ``airflow
api-server`` (the Task SDK workers report to its execution API), ``airflow dag-processor`` and ``airflow
scheduler`` with the LocalExecutor on the test PostgreSQL, then ``airflow backfill create`` and ``airflow
dags unpause``, once in order and once with overlapping runs. Slow (minutes each): ``pytest -m 'not
scheduler'`` skips them."""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from airflow_harness import (
    FACTS,
    AirflowEnv,
    Component,
    airflow_env,
    assert_facts_equal,
    free_port,
    start_component,
    stop_components,
    tail,
)
from helpers import fetch_all_facts, fetch_rejects
from psycopg.rows import dict_row

from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.pipeline import run_pandas_window
from mcq_analytics.windows import Window

T0 = datetime(2024, 6, 1, 10, tzinfo=UTC)
HOURS = [Window(T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1)) for h in range(3)]
DAG_ID = "mcq_analytics_batch"


def wait_for(what: str, probe: Callable[[], object], timeout: float, describe: Callable[[], str]) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except AssertionError:
            raise
        except Exception:  # not up yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{describe()}")
        time.sleep(2)


def healthy(port: int) -> bool:
    import json

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as resp:
        health = json.load(resp)
    return all(health[k]["status"] == "healthy" for k in ("metadatabase", "scheduler", "dag_processor"))


@dataclass
class LocalAirflow:
    """One test's api-server, dag-processor and scheduler, on its own metadata database and port."""

    airflow: AirflowEnv
    env: dict[str, str]
    port: int
    components: list[Component] = field(default_factory=list)

    @property
    def metadata_db(self) -> str:
        return self.airflow.db_url.replace("postgresql+psycopg2://", "postgresql://", 1)

    def start(self) -> float:
        """Start the three components; wait until they are healthy (returns the seconds that took) and the
        batch DAG is serialised."""
        started = time.perf_counter()
        self.components = [start_component(self.airflow, name, args, self.env) for name, args in (
            ("api-server", ["api-server", "--port", str(self.port), "--host", "127.0.0.1"]),
            ("dag-processor", ["dag-processor"]),
            ("scheduler", ["scheduler"]),
        )]
        wait_for("the api-server, scheduler and dag-processor to be healthy", lambda: healthy(self.port), 240,
                 self.logs)
        up = time.perf_counter() - started
        wait_for("the dag-processor to serialise the DAG", self.serialized, 240, self.logs)
        return up

    def serialized(self) -> bool:
        with psycopg.connect(self.metadata_db) as conn:
            return bool(conn.execute("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (DAG_ID,)).fetchone())

    def logs(self) -> str:
        return "\n".join(f"--- {c.name} (exit {c.proc.poll()}) ---\n{tail(c.log_path)}" for c in self.components)

    def backfill(self, from_date: str, to_date: str, max_active_runs: int) -> None:
        """``airflow backfill create`` of the batch DAG, then unpause it so the scheduler runs them."""
        self.airflow.airflow("backfill", "create", "--dag-id", DAG_ID, "--from-date", from_date, "--to-date",
                             to_date, "--max-active-runs", str(max_active_runs), env=self.env)
        self.airflow.airflow("dags", "unpause", DAG_ID, env=self.env)

    def backfill_runs(self) -> list[dict]:
        with psycopg.connect(self.metadata_db, row_factory=dict_row) as conn:
            return conn.execute(
                "SELECT run_id, state, data_interval_start, data_interval_end, start_date, end_date FROM dag_run"
                " WHERE dag_id = %s AND run_type = 'backfill' ORDER BY logical_date", (DAG_ID,)).fetchall()

    def stop(self) -> None:
        stop_components(self.components)


def local_airflow(pg_server, dbs, tmp_path_factory, name: str) -> LocalAirflow:
    """A ``LocalAirflow`` (not started) with its own metadata database ``name`` and the test's databases."""
    airflow = airflow_env(pg_server, tmp_path_factory.getbasetemp(), name)
    port = free_port()
    env = airflow.env(
        dbs.source_url, dbs.warehouse_url,
        AIRFLOW__API__HOST="127.0.0.1", AIRFLOW__API__PORT=str(port), AIRFLOW__API__WORKERS="1",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        # A busy test machine: the single api-server worker can take more than the default 5 s to answer
        # a task's first call (seen with a load average of 14 on 2 cores); Airflow's advice is to raise it.
        AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="30",
        # Only the backfill's runs: no scheduled run of the current hour when the DAG is unpaused.
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
    )
    return LocalAirflow(airflow, env, port)


@pytest.mark.scheduler
def test_scheduler_runs_a_three_hour_backfill(pg_server, dbs, tmp_path_factory, schema_templates):
    generate(dbs.source_url, GeneratorConfig(seed=5, start=T0, hours=3, answers=1500), reset=True)
    local = local_airflow(pg_server, dbs, tmp_path_factory, "scheduler")

    started = time.perf_counter()
    try:
        up = local.start()
        # Both dates inclusive, as logical dates (= data_interval_start): runs for 10:00, 11:00 and 12:00,
        # i.e. the windows [10:00, 11:00), [11:00, 12:00), [12:00, 13:00). --max-active-runs 1 keeps them
        # in order (a backfill's own limit; the DAG's max_active_runs does not apply to it).
        local.backfill("2024-06-01T10:00:00", "2024-06-01T12:00:00", max_active_runs=1)
        backfilled = time.perf_counter()

        def finished_runs() -> list[dict] | None:
            failing = failing_tasks()
            if failing:  # fail fast: a retry would wait minutes (2 min, then 4 min back-off)
                raise AssertionError(f"task attempts failed:\n{failing}")
            rows = local.backfill_runs()
            return rows if len(rows) == 3 and all(r["state"] in ("success", "failed") for r in rows) else None

        def failing_tasks() -> str:
            with psycopg.connect(local.metadata_db, row_factory=dict_row) as conn:
                bad = conn.execute(
                    "SELECT run_id, task_id, state, try_number FROM task_instance WHERE dag_id = %s"
                    " AND run_id LIKE 'backfill%%' AND state IN ('failed', 'up_for_retry')", (DAG_ID,)).fetchall()
            return "\n".join(
                f"{t['run_id']} {t['task_id']} {t['state']} try {t['try_number']}:\n" + tail(
                    local.airflow.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={t['run_id']}"
                    / f"task_id={t['task_id']}" / f"attempt={t['try_number']}.log", 3000) for t in bad)

        runs = wait_for("the three backfill runs to finish", finished_runs, 600,
                        lambda: f"{local.backfill_runs()}\n{failing_tasks()}\n{local.logs()}")
        finished = time.perf_counter()
    finally:
        local.stop()
    stopped = time.perf_counter() - finished
    scheduler_log = next(c for c in local.components if c.name == "scheduler").log_path.read_text(errors="replace")
    assert "task processes inherit mcq_analytics.airflow.dag_factory" in scheduler_log, "executor did not preload"
    print(f"\nscheduler test: components healthy after {up:.1f}s, backfill of 3 runs ({6 * len(FACTS)} tasks) took "
          f"{finished - backfilled:.1f}s, total {finished - started:.1f}s (+ stop {stopped:.1f}s)")
    assert all(c.proc.poll() is not None for c in local.components)

    assert [r["state"] for r in runs] == ["success"] * 3, runs
    assert [(r["data_interval_start"], r["data_interval_end"]) for r in runs] == [(w.start, w.end) for w in HOURS]

    reference = pg_server.create_database(f"t_sched_ref_{int(time.time())}", template=schema_templates[1])
    try:
        for window in HOURS:
            assert {r.status for r in run_pandas_window(dbs.source_url, reference, window)} == {"success"}
        assert_facts_equal(fetch_all_facts(dbs.warehouse_url), fetch_all_facts(reference))
        assert fetch_rejects(dbs.warehouse_url) == fetch_rejects(reference)
    finally:
        pg_server.drop_database(reference.rsplit("/", 1)[1])

    with psycopg.connect(dbs.warehouse_url, row_factory=dict_row) as conn:
        meta = {r["pipeline_name"]: r for r in conn.execute("SELECT * FROM analytics.etl_metadata")}
        triggered = {r["triggered_by"] for r in conn.execute("SELECT triggered_by FROM analytics.etl_run_log")}
    assert set(meta) == set(FACTS)
    for row in meta.values():
        assert (row["status"], row["last_window_start"], row["last_window_end"], row["watermark"]) == (
            "success", HOURS[-1].start, HOURS[-1].end, HOURS[-1].end)
    assert triggered == {f"airflow:{DAG_ID}/{r['run_id']}" for r in runs}


@pytest.mark.scheduler
def test_local_airflow_script_comes_up_with_both_dags():
    """``scripts/airflow_local.sh --check``: embedded PostgreSQL, migrate, api-server + dag-processor +
    scheduler + triggerer healthy, login through the REST API, both DAGs listed without import errors, all stopped."""
    import shutil
    import signal
    import subprocess
    import tempfile
    from pathlib import Path

    from airflow_harness import REPO, clean_environ

    from mcq_analytics.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError

    # Not under pytest's basetemp: a concurrent pytest session resets /tmp/pytest-of-<user> to mode 0700,
    # which locks the `postgres` user (the server's owner when running as root) out of the data folder.
    state = Path(tempfile.mkdtemp(prefix="mcq-airflow-local-"))
    port = free_port()
    env = {**clean_environ(), "MCQ_STATE_DIR": str(state), "MCQ_ENGINE": "pandas"}
    started = time.perf_counter()
    try:
        proc = subprocess.run([str(REPO / "scripts" / "airflow_local.sh"), "--check", "--port", str(port)],
                              env=env, capture_output=True, text=True, timeout=400, cwd=str(REPO))
        elapsed = time.perf_counter() - started
        logs = tail(state / "airflow" / "logs" / "api-server.out")
        env_file = (state / "airflow" / "env.sh").read_text() if (state / "airflow" / "env.sh").exists() else ""
        # `stop` (make airflow-stop): nothing of Airflow is left (--check stopped it), the embedded PostgreSQL is
        stopped = subprocess.run([str(REPO / "scripts" / "airflow_local.sh"), "stop"], env=env,
                                 capture_output=True, text=True, timeout=120, cwd=str(REPO))
        pg_running_after_stop = EmbeddedPostgres(state / "pgdata").is_running()
    finally:
        try:
            EmbeddedPostgres(state / "pgdata").stop()
        except EmbeddedPostgresError:
            pid_file = state / "pgdata" / "postmaster.pid"
            if pid_file.exists():  # the postmaster this test's script started: fast shutdown
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
                time.sleep(3)
        shutil.rmtree(state, ignore_errors=True)
    print(f"\nairflow_local.sh --check: {elapsed:.1f}s")
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{logs}"
    assert f"http://localhost:{port}   login: admin / " in proc.stdout
    assert ("REST API lists ['mcq_analytics_batch', 'mcq_analytics_reconcile', 'mcq_analytics_reload', "
            "'mcq_analytics_spark', 'mcq_item_review']") in proc.stdout
    assert proc.stdout.rstrip().endswith("stopped")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "embedded PostgreSQL stopped" in stopped.stdout
    assert not pg_running_after_stop
    assert "export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=" in env_file


OVERLAP_HOURS = [Window(T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1)) for h in range(4)]


@pytest.mark.scheduler
def test_scheduler_backfill_with_overlapping_runs_equals_a_full_recompute(pg_server, dbs, tmp_path_factory,
                                                                          schema_templates):
    """Issue 17: backfill runs may overlap (``--max-active-runs 3``, what docs/airflow.md recommends): the
    runs of four hours run side by side under a real scheduler, and the facts equal one recompute of the
    whole range; every pipeline's watermark still ends at the range's end."""
    generate(dbs.source_url, GeneratorConfig(seed=7, start=T0, hours=4, answers=2000), reset=True)
    local = local_airflow(pg_server, dbs, tmp_path_factory, "scheduler_overlap")

    def failed_tasks() -> list[dict]:
        with psycopg.connect(local.metadata_db, row_factory=dict_row) as conn:
            return conn.execute("SELECT run_id, task_id, state FROM task_instance WHERE dag_id = %s"
                                " AND state IN ('failed', 'up_for_retry')", (DAG_ID,)).fetchall()

    try:
        local.start()
        local.backfill("2024-06-01T10:00:00", "2024-06-01T13:00:00", max_active_runs=3)

        def finished() -> list[dict] | None:
            if failing := failed_tasks():
                raise AssertionError(f"task attempts failed: {failing}")
            rows = local.backfill_runs()
            return rows if len(rows) == 4 and all(r["state"] in ("success", "failed") for r in rows) else None

        runs = wait_for("the four backfill runs", finished, 1200, lambda: f"{local.backfill_runs()}\n{local.logs()}")
    finally:
        local.stop()

    assert [r["state"] for r in runs] == ["success"] * 4, runs
    # They overlapped: a later window's run started before an earlier one ended.
    assert any(later["start_date"] < earlier["end_date"] for i, earlier in enumerate(runs) for later in runs[i + 1:])

    reference = pg_server.create_database(f"t_sched_full_{int(time.time())}", template=schema_templates[1])
    try:
        whole = Window(OVERLAP_HOURS[0].start, OVERLAP_HOURS[-1].end)
        assert {r.status for r in run_pandas_window(dbs.source_url, reference, whole)} == {"success"}
        expected = fetch_all_facts(reference)
        assert all(expected.values()), "the generated data should fill every fact"
        assert_facts_equal(fetch_all_facts(dbs.warehouse_url), expected)
    finally:
        pg_server.drop_database(reference.rsplit("/", 1)[1])
    with psycopg.connect(dbs.warehouse_url, row_factory=dict_row) as conn:
        meta = {r["pipeline_name"]: r for r in conn.execute("SELECT * FROM analytics.etl_metadata")}
    assert set(meta) == set(FACTS)
    assert {(r["status"], r["watermark"]) for r in meta.values()} == {("success", OVERLAP_HOURS[-1].end)}

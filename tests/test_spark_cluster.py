"""The Spark engine on a real standalone cluster (``spark_cluster`` fixture: a master and two workers on
127.0.0.1): generated data processed in shuffled hourly windows gives the Pandas engine's facts; the command
line with ``--env prod`` and ``MCQ_SPARK_MASTER=spark://…`` runs there; dynamic allocation really starts
executors for a job and gives them back while the application still runs.

Slow (minutes): ``-m 'not spark_cluster'`` skips them; CI runs them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from helpers import assert_facts_equal, at, fetch_all_facts, fetch_rejects
from test_contract import seed_platform
from test_spark_parity import assert_success, meta, new_warehouse, run_log, settings

from mcq_analytics.engines import run_window
from mcq_analytics.facts import FACT_NAMES
from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.load import lock_key
from mcq_analytics.windows import Window, hourly_windows

pytestmark = pytest.mark.spark_cluster
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def on_cluster(spark_cluster, monkeypatch, tmp_path):
    """Settings whose Spark master is the cluster; drivers started from this process bind to 127.0.0.1."""
    for key, value in spark_cluster.driver_env.items():
        monkeypatch.setenv(key, value)
    return dataclasses.replace(settings(tmp_path), spark_master=spark_cluster.master_url)


def pandas_facts(pg_server, schema_templates, source_url: str, windows: list[Window], tmp_path: Path) -> str:
    """A fresh warehouse built by the Pandas engine over ``windows`` (in order)."""
    url = new_warehouse(pg_server, schema_templates)
    for window in windows:
        assert_success(run_window("pandas", settings(tmp_path), source_url, url, window))
    return url


def test_cluster_facts_equal_pandas_after_shuffled_hourly_windows(spark_cluster, on_cluster, dbs, pg_server,
                                                                  schema_templates, tmp_path):
    report = generate(dbs.source_url, GeneratorConfig(answers=4_000, hours=3, seed=23, bad_fraction=0.03),
                      reset=True)
    hours = list(hourly_windows(*report.window_range()))
    assert len(hours) == 3
    expected_url = pandas_facts(pg_server, schema_templates, dbs.source_url, hours, tmp_path)
    shuffled = hours[:]
    random.Random(3).shuffle(shuffled)
    assert shuffled != hours
    done_before = {app["id"] for app in spark_cluster.status()["completedapps"]}

    for window in shuffled:
        assert_success(run_window("spark", on_cluster, dbs.source_url, dbs.warehouse_url, window))

    expected = fetch_all_facts(expected_url)
    assert all(expected.values()), "the generated data must fill every fact"
    assert_facts_equal(fetch_all_facts(dbs.warehouse_url), expected)
    assert fetch_rejects(dbs.warehouse_url) == fetch_rejects(expected_url)
    assert len(fetch_rejects(dbs.warehouse_url, "test_summary_fact")) == sum(report.bad.values())
    assert run_log(dbs.warehouse_url, "-") == run_log(expected_url, "-")
    assert {(m["status"], m["engine"]) for m in meta(dbs.warehouse_url).values()} == {("success", "spark")}
    ran = [app for app in spark_cluster.status()["completedapps"] if app["id"] not in done_before]
    assert len(ran) == 3, ran  # one application per window ran on the cluster, and finished
    assert {(app["name"].startswith("mcq-"), app["state"]) for app in ran} == {(True, "FINISHED")}
    pg_server.drop_database(expected_url.rsplit("/", 1)[1])


def test_run_etl_prod_with_a_spark_master_url_builds_the_pandas_facts(spark_cluster, dbs, pg_server,
                                                                      schema_templates, tmp_path):
    report = generate(dbs.source_url, GeneratorConfig(answers=2_000, hours=1, seed=5, bad_fraction=0.02),
                      reset=True)
    first, last = report.window_range()
    hours = list(hourly_windows(first, last))
    assert len(hours) == 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCQ_")}
    env.update(spark_cluster.driver_env, MCQ_SOURCE_URL=dbs.source_url, MCQ_WAREHOUSE_URL=dbs.warehouse_url,
               MCQ_SPARK_MASTER=spark_cluster.master_url, MCQ_STATE_DIR=str(tmp_path / "state"))

    proc = subprocess.run([sys.executable, "run_etl.py", "--env", "prod", "--engine", "spark",
                           "--start", first.isoformat(), "--end", last.isoformat()],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)

    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert f"1 window(s), {len(FACT_NAMES)} pipeline run(s): {len(FACT_NAMES)} succeeded, 0 failed" in proc.stdout
    expected_url = pandas_facts(pg_server, schema_templates, dbs.source_url, hours, tmp_path)
    assert_facts_equal(fetch_all_facts(dbs.warehouse_url), fetch_all_facts(expected_url))
    assert fetch_rejects(dbs.warehouse_url) == fetch_rejects(expected_url)
    assert {(name, m["status"], m["engine"], m["watermark"]) for name, m in meta(dbs.warehouse_url).items()} \
        == {(name, "success", "spark", last) for name in FACT_NAMES}
    pg_server.drop_database(expected_url.rsplit("/", 1)[1])


class ExecutorWatch:
    """Polls the master's JSON status: executors of every running application over time."""

    def __init__(self, cluster, interval: float = 0.1) -> None:
        self.cluster, self.interval = cluster, interval
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.samples.append((time.monotonic(), self.cluster.executors()))
            self._stop.wait(self.interval)

    def __enter__(self) -> ExecutorWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def history(self, app: str) -> list[int]:
        """The application's executor counts while it was running, consecutive repeats dropped."""
        counts = [apps[app] for _, apps in self.samples if app in apps]
        return [c for i, c in enumerate(counts) if i == 0 or c != counts[i - 1]]


def test_dynamic_allocation_starts_executors_for_the_job_and_gives_them_back(spark_cluster, on_cluster, dbs,
                                                                             pg_server, schema_templates,
                                                                             monkeypatch, tmp_path):
    """The engine's cluster conf turns dynamic allocation on; here its idle timeouts are 15 s (30 s in the
    engine; shorter ones remove executors between the job's actions on a busy machine) and the test holds the
    first swap's lock, so the application stays up with nothing to compute: its executors must go back to 0
    while it still runs, then the window completes."""
    seed_platform(dbs.source_url)
    idle = ";".join(f"spark.dynamicAllocation.{key}=15s" for key in
                    ("executorIdleTimeout", "cachedExecutorIdleTimeout", "shuffleTracking.timeout"))
    monkeypatch.setenv("MCQ_SPARK_CONF", f"{spark_cluster.driver_env['MCQ_SPARK_CONF']};{idle}")
    results: list = []
    lock = lock_key("question_interaction_fact")
    with ExecutorWatch(spark_cluster) as watch, psycopg.connect(dbs.warehouse_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (lock,))
        job = threading.Thread(target=lambda: results.extend(
            run_window("spark", on_cluster, dbs.source_url, dbs.warehouse_url, Window(at(0), at(60)))), daemon=True)
        job.start()
        deadline = time.monotonic() + 900
        waiting = None
        while time.monotonic() < deadline and job.is_alive() and not waiting:
            waiting = holder.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'mcq-spark-swap%%' "
                "AND wait_event_type = 'Lock' AND datname = current_database()").fetchone()
            time.sleep(0.5)
        assert waiting, f"the job never reached its swap: {results}"
        apps = {app for _, running in watch.samples for app in running}
        assert len(apps) == 1, apps
        app = apps.pop()
        while time.monotonic() < deadline and spark_cluster.executors().get(app) != 0:
            time.sleep(0.5)
        assert app in spark_cluster.executors(), "the application must still be running"
        released_at = time.monotonic()
        holder.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (lock,))
        job.join(timeout=600)
        assert not job.is_alive()

    assert_success(results)
    history = watch.history(app)
    before_release = [apps[app] for t, apps in watch.samples if app in apps and t < released_at]
    assert history[0] == 0, history  # registered with no executor: none until the job asked
    assert max(history) >= 1, history
    assert before_release[-1] == 0, history  # given back while the application was still up
    expected_url = pandas_facts(pg_server, schema_templates, dbs.source_url, [Window(at(0), at(60))], tmp_path)
    assert_facts_equal(fetch_all_facts(dbs.warehouse_url), fetch_all_facts(expected_url))
    pg_server.drop_database(expected_url.rsplit("/", 1)[1])

"""Real Airflow for the DAG tests: a migrated metadata database on the test PostgreSQL, AIRFLOW_HOME in a
temporary folder, and every Airflow run in a subprocess with an explicit environment.

Airflow reads its configuration when it is first imported, so runs that need a database happen in child
processes (``airflow …`` or this file run as a script for ``dag.test()``); that keeps them independent of
whatever the rest of the test session imported. One metadata database is migrated per name and session
(``airflow db migrate`` ≈ 5 s) and shared by the tests that use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from helpers import assert_facts_equal, free_port  # noqa: F401  (re-exported to the Airflow tests)

from mcq_analytics.facts import FACT_NAMES

REPO = Path(__file__).resolve().parents[1]
DAGS_DIR = REPO / "dags"
PLUGINS_DIR = REPO / "plugins"
VENV_BIN = Path(sys.executable).parent
FACTS = FACT_NAMES


def sqlalchemy_url(libpq_url: str) -> str:
    """A ``postgresql://`` URL in the form Airflow's metadata database setting takes."""
    return urlunsplit(urlsplit(libpq_url)._replace(scheme="postgresql+psycopg2"))






def clean_environ() -> dict[str, str]:
    """The current environment without any Airflow or MCQ settings (the tests set their own).

    ``PYTHONPATH`` stays: Airflow's processes import ``mcq_analytics`` (DAG factory, operators) from the same
    place as this test session does, e.g. a worktree's ``src`` ahead of an editable install elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MCQ_", "_AIRFLOW"))}


@dataclass
class AirflowEnv:
    """One AIRFLOW_HOME and metadata database; ``env()`` builds the environment of an Airflow process."""

    home: Path
    db_url: str
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def env(self, source_url: str | None = None, warehouse_url: str | None = None,
            **extra: str) -> dict[str, str]:
        env = clean_environ()
        env.update({
            "PATH": os.pathsep.join([str(VENV_BIN), env.get("PATH", "")]),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.db_url,
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "mcq_analytics.airflow.executor.PreloadedLocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "MCQ_ENGINE": "pandas",
            "MCQ_ENV": "dev",
        })
        if source_url:
            env["AIRFLOW_CONN_MCQ_SOURCE"] = source_url
        if warehouse_url:
            env["AIRFLOW_CONN_MCQ_WAREHOUSE"] = warehouse_url
        env.update(extra)
        return env

    def airflow(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` and return the finished process (raising on a non-zero exit if ``check``)."""
        proc = subprocess.run([str(VENV_BIN / "airflow"), *args], env=env or self.env(), capture_output=True,
                              text=True, timeout=timeout, cwd=str(self.home))
        if check and proc.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
        return proc


_ENVS: dict[tuple[str, str], AirflowEnv] = {}


def airflow_env(pg_server: Any, base_dir: Path, name: str = "tests") -> AirflowEnv:
    """The session's migrated Airflow environment called ``name`` (created on first use, then shared)."""
    key = (pg_server.admin_url, name)
    if key not in _ENVS:
        database = f"airflow_{name}_{uuid.uuid4().hex[:8]}"
        home = base_dir / f"airflow_home_{name}"
        home.mkdir(parents=True, exist_ok=True)
        env = AirflowEnv(home, sqlalchemy_url(pg_server.create_database(database)))
        env.airflow("db", "migrate", timeout=300)
        _ENVS[key] = env
    return _ENVS[key]


# -- dag.test() in a child process -----------------------------------------------------------------
@dataclass
class DagTestRun:
    logical_date: str
    state: str
    run_id: str
    interval: tuple[str, str]
    seconds: float
    tasks: dict[str, str]


def dag_test(env: AirflowEnv, dag_id: str, logical_dates: list[str], *, proc_env: dict[str, str],
             retries: int | None = None, application: str | None = None,
             timeout: float = 600, conf: dict[str, Any] | None = None,
             groups: list[str] | None = None) -> list[DagTestRun]:
    """``dag.test(logical_date=…)`` for each date in turn, in one child process; the runs' outcomes.

    A manual run's data interval is the hour that *ends* at its logical date, so ``2024-06-01T11:00+00:00``
    processes [10:00, 11:00). ``retries`` overrides every task's retries with no delay between attempts;
    ``application`` replaces the Spark build tasks' application file; ``conf`` is each run's conf (params);
    ``groups`` runs only those task groups (``dag.partial_subset``: each Spark build is a spark-submit).
    """
    return dag_test_with_output(env, dag_id, logical_dates, proc_env=proc_env, retries=retries,
                                application=application, timeout=timeout, conf=conf, groups=groups)[0]


def dag_test_with_output(env: AirflowEnv, dag_id: str, logical_dates: list[str], *, proc_env: dict[str, str],
                         retries: int | None = None, application: str | None = None,
                         timeout: float = 600, conf: dict[str, Any] | None = None,
                         groups: list[str] | None = None) -> tuple[list[DagTestRun], str]:
    """``dag_test`` plus the child's output (``dag.test()`` writes the task logs there)."""
    spec = {"dag_id": dag_id, "logical_dates": logical_dates, "retries": retries, "application": application,
            "conf": conf, "groups": groups}
    proc = subprocess.run([sys.executable, __file__, "dag-test", json.dumps(spec)], env=proc_env,
                          capture_output=True, text=True, timeout=timeout, cwd=str(env.home))
    marker = [line for line in proc.stdout.splitlines() if line.startswith("DAG_TEST_RESULT ")]
    if proc.returncode != 0 or not marker:
        raise AssertionError(f"dag.test driver exited {proc.returncode}:\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-8000:]}")
    runs = [DagTestRun(**{**r, "interval": tuple(r["interval"])})
            for r in json.loads(marker[-1].removeprefix("DAG_TEST_RESULT "))]
    return runs, proc.stdout + proc.stderr


def _dag_test_main(spec: dict[str, Any]) -> None:
    from datetime import datetime, timedelta

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags[spec["dag_id"]]
    if spec.get("groups"):
        groups = set(spec["groups"])
        unknown = groups - {task.task_id.partition(".")[0] for task in dag.tasks}
        if unknown:
            raise SystemExit(f"no task group {', '.join(sorted(unknown))} in {dag.dag_id}")
        dag = dag.partial_subset([task.task_id for task in dag.tasks if task.task_id.partition(".")[0] in groups],
                                 include_downstream=True)
    for task in dag.tasks:
        if spec.get("retries") is not None:
            task.retries = spec["retries"]
            task.retry_delay = timedelta(0)
            task.retry_exponential_backoff = 0
        if spec.get("application") and task.task_id.endswith(".build"):
            task.application = spec["application"]
    results = []
    for text in spec["logical_dates"]:
        t0 = time.perf_counter()
        dr = dag.test(logical_date=datetime.fromisoformat(text), run_conf=spec.get("conf"))
        results.append({
            "logical_date": text, "state": str(dr.state), "run_id": dr.run_id,
            "interval": [dr.data_interval_start.isoformat(), dr.data_interval_end.isoformat()],
            "seconds": round(time.perf_counter() - t0, 2),
            "tasks": {ti.task_id: str(ti.state) for ti in dr.get_task_instances()},
        })
    print("DAG_TEST_RESULT " + json.dumps(results), flush=True)


# -- long-running Airflow components ---------------------------------------------------------------
@dataclass
class Component:
    name: str
    proc: subprocess.Popen
    log_path: Path


def start_component(env: AirflowEnv, name: str, args: list[str], proc_env: dict[str, str]) -> Component:
    """Start ``airflow <args>`` in its own process group (so stopping it stops its children too)."""
    log_path = env.home / f"{name}.log"
    log_file = open(log_path, "w")  # noqa: SIM115 - owned by the child process until it ends
    proc = subprocess.Popen([str(VENV_BIN / "airflow"), *args], env=proc_env, stdout=log_file,
                            stderr=subprocess.STDOUT, cwd=str(env.home), start_new_session=True)
    log_file.close()
    return Component(name, proc, log_path)


def stop_components(components: list[Component], grace: float = 30) -> None:
    """SIGTERM each component's process group, then SIGKILL whatever is left after ``grace`` seconds."""
    import signal

    for comp in components:
        if comp.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(comp.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for comp in components:
        with contextlib.suppress(subprocess.TimeoutExpired):
            comp.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):  # the group may outlive its leader (task runners, workers)
            os.killpg(comp.proc.pid, signal.SIGKILL)
        comp.proc.wait(timeout=10)


def tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "dag-test":
        _dag_test_main(json.loads(sys.argv[2]))
    else:
        raise SystemExit("usage: airflow_harness.py dag-test '<json spec>'")

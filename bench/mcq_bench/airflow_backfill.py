"""Section 6: a real ``airflow backfill create`` of the demo's 6 hours under a local scheduler.

What Airflow adds to the engines' work (issue 17 item 2): it starts ``airflow api-server``, ``dag-processor``
and ``scheduler`` (the package's ``PreloadedLocalExecutor`` with ``parallelism`` task slots, as ``make
airflow``) on a metadata database of the benchmark's server, generates the demo's data (``run_etl.py demo``:
50,000 answers over 6 hours, seed 42) into its own source and warehouse databases, backfills the batch DAG
over those hours and reads from Airflow's metadata database where the seconds went: per run (queued to end),
per task (queued → started: the executor and the task process's start-up; started → ended: the task runner,
i.e. DAG parse + the operator + callbacks) and, for the build tasks, the engine's own seconds from
``etl_run_log``.

The DAG code is whatever ``mcq_analytics`` this interpreter imports (``PYTHONPATH``), so the same section
measures another checkout's DAGs: ``PYTHONPATH=<checkout>/src:bench python -m mcq_bench --airflow-only``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from mcq_analytics.paths import PROJECT_ROOT

DAG_ID = "mcq_analytics_batch"
#: The demo's data (``run_etl.py demo``): its seed, hours and answers.
DEMO_START = datetime(2024, 6, 1, tzinfo=UTC)
DEMO_HOURS = 6
DEMO_ANSWERS = 50_000
DEMO_SEED = 42
#: The components started (name, is the api-server); no triggerer: no task defers.
COMPONENTS = (("api-server", True), ("dag-processor", False), ("scheduler", False))

#: The executor ``make airflow`` runs (the package's LocalExecutor with its modules preloaded).
PRELOADED_EXECUTOR = "mcq_analytics.airflow.executor.PreloadedLocalExecutor"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _create_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _airflow_env(home: Path, metadata_url: str, port: int, source_url: str, warehouse_url: str,
                 parallelism: int, executor: str) -> dict[str, str]:
    """The environment of every Airflow process: this interpreter's ``PYTHONPATH`` (so its DAG code), the
    benchmark's databases as the ``mcq_source``/``mcq_warehouse`` connections, no scheduled runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MCQ_", "_AIRFLOW"))}
    bin_dir = str(Path(sys.executable).parent)
    env.update({
        "PATH": os.pathsep.join([bin_dir, env.get("PATH", "")]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": urlunsplit(
            urlsplit(metadata_url)._replace(scheme="postgresql+psycopg2")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",  # a loaded machine: the one api-server worker is slow
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the backfill's runs
        "AIRFLOW_CONN_MCQ_SOURCE": source_url, "AIRFLOW_CONN_MCQ_WAREHOUSE": warehouse_url,
        "MCQ_ENV": "dev", "MCQ_ENGINE": "pandas", "MCQ_SOURCE_URL": source_url, "MCQ_WAREHOUSE_URL": warehouse_url,
        "MCQ_EMBEDDED_POSTGRES": "false", "MCQ_STATE_DIR": str(home / "mcq-state"),
    })
    return env


def _wait(what: str, probe: Callable[[], Any], timeout: float, procs: list[subprocess.Popen]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"an Airflow component exited while waiting for {what}")
        with contextlib.suppress(Exception):
            if value := probe():
                return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(1)


def _healthy(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as resp:
        health = json.load(resp)
    return all(health[k]["status"] == "healthy" for k in ("metadatabase", "scheduler", "dag_processor"))


def _stop(procs: list[subprocess.Popen], grace: float = 30) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return (b - a).total_seconds() if a and b else None


def _parse_seconds(logs: Path, run_id: str, task_id: str, try_number: int) -> float | None:
    """The task process's DAG parse (``dag_file_parse_ms`` of the task runner's "Worker startup parse
    complete" line), from the task's log."""
    path = logs / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}" / f"attempt={try_number}.log"
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if "dag_file_parse_ms" in line:
                    return json.loads(line)["dag_file_parse_ms"] / 1000
    except (OSError, ValueError, KeyError):
        return None
    return None


def _timings(metadata_url: str, warehouse_url: str, logs: Path) -> dict[str, Any]:
    """Runs and task instances of the backfill from Airflow's metadata database; the builds' own seconds
    from ``etl_run_log`` (keyed by the run-log id's DAG run); each task's DAG parse from its log."""
    with psycopg.connect(metadata_url, row_factory=dict_row) as conn:
        runs = conn.execute(
            "SELECT run_id, state, queued_at, start_date, end_date FROM dag_run"
            " WHERE dag_id = %s AND run_type = 'backfill' ORDER BY logical_date", (DAG_ID,)).fetchall()
        tis = conn.execute(
            "SELECT run_id, task_id, state, try_number, queued_dttm, start_date, end_date FROM task_instance"
            " WHERE dag_id = %s AND run_id LIKE 'backfill%%'", (DAG_ID,)).fetchall()
    with psycopg.connect(warehouse_url, row_factory=dict_row) as conn:
        work = {r["run_id"]: r["s"] for r in conn.execute(
            "SELECT run_id, extract(epoch FROM finished_at - started_at)::float8 AS s FROM analytics.etl_run_log"
            " WHERE status = 'success'")}
    tasks = []
    for ti in tis:
        fact, _, kind = ti["task_id"].rpartition(".")
        engine = next((s for rid, s in work.items() if rid.startswith(f"{fact}__{DAG_ID}__{ti['run_id']}__")), None)
        tasks.append({"run_id": ti["run_id"], "task_id": ti["task_id"], "kind": kind, "state": ti["state"],
                      "try_number": ti["try_number"], "queued_s": _seconds(ti["queued_dttm"], ti["start_date"]),
                      "running_s": _seconds(ti["start_date"], ti["end_date"]),
                      "parse_s": _parse_seconds(logs, ti["run_id"], ti["task_id"], ti["try_number"]),
                      "engine_s": engine if kind == "build" else None})
    return {"runs": [{"run_id": r["run_id"], "state": r["state"],
                      "seconds": _seconds(r["start_date"] or r["queued_at"], r["end_date"])} for r in runs],
            "tasks": tasks}


def measure_airflow_backfill(admin_url: str, work_dir: Path, say: Callable[[str], None], *,
                             max_active_runs: int = 1, parallelism: int = 8, executor: str = PRELOADED_EXECUTOR,
                             hours: int = DEMO_HOURS,
                             answers: int = DEMO_ANSWERS, timeout: float = 2400) -> dict[str, Any]:
    """Backfill the demo's hours through a real scheduler; the timings (see the module docstring).

    ``admin_url``: a database on a server where the benchmark may create (and drops again) its three
    databases. ``max_active_runs`` is the backfill's ``--max-active-runs``."""
    from mcq_analytics.generator import GeneratorConfig, generate
    from mcq_analytics.schema import init_databases

    tag = f"{os.getpid()}"
    names = {k: f"mcq_bench_af_{k}_{tag}" for k in ("source", "warehouse", "airflow")}
    urls = {k: _create_database(admin_url, n) for k, n in names.items()}
    home = work_dir / "airflow_home"
    home.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    result: dict[str, Any] = {"hours": hours, "answers": answers, "max_active_runs": max_active_runs,
                              "parallelism": parallelism, "executor": executor}
    try:
        init_databases(urls["source"], urls["warehouse"])
        generate(urls["source"], GeneratorConfig(seed=DEMO_SEED, start=DEMO_START, hours=hours, answers=answers),
                 reset=True)
        port = _free_port()
        env = _airflow_env(home, urls["airflow"], port, urls["source"], urls["warehouse"], parallelism, executor)
        airflow = str(Path(sys.executable).parent / "airflow")

        def cli(*args: str) -> None:
            proc = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=600,
                                  cwd=str(home))
            if proc.returncode != 0:
                raise RuntimeError(f"airflow {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")

        say("  airflow: migrating its metadata database")
        cli("db", "migrate")
        t0 = time.perf_counter()
        for name, is_api in COMPONENTS:
            extra = ["--port", str(port), "--host", "127.0.0.1"] if is_api else []
            with open(home / f"{name}.log", "w") as log:
                procs.append(subprocess.Popen([airflow, name, *extra], env=env, stdout=log, stderr=subprocess.STDOUT,
                                              cwd=str(home), start_new_session=True))
        _wait("a healthy api-server, scheduler and dag-processor", lambda: _healthy(port), 240, procs)
        metadata_url = urls["airflow"]

        def serialized() -> bool:
            with psycopg.connect(metadata_url) as conn:
                return bool(conn.execute("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (DAG_ID,)).fetchone())

        _wait("the DAG to be serialised", serialized, 240, procs)
        result["startup_seconds"] = time.perf_counter() - t0
        last = DEMO_START + timedelta(hours=hours - 1)
        say(f"  airflow: backfill of {hours} hours (--max-active-runs {max_active_runs}, parallelism {parallelism})")
        began = time.perf_counter()
        cli("backfill", "create", "--dag-id", DAG_ID, "--from-date", DEMO_START.strftime("%Y-%m-%dT%H:%M:%S"),
            "--to-date", last.strftime("%Y-%m-%dT%H:%M:%S"), "--max-active-runs", str(max_active_runs))
        cli("dags", "unpause", DAG_ID)

        def done() -> bool:
            with psycopg.connect(metadata_url) as conn:
                states = [r[0] for r in conn.execute(
                    "SELECT state FROM dag_run WHERE dag_id = %s AND run_type = 'backfill'", (DAG_ID,))]
            return len(states) == hours and all(s in ("success", "failed") for s in states)

        try:
            _wait(f"the {hours} backfill runs", done, timeout, procs)
            result["backfill_seconds"] = time.perf_counter() - began
        except RuntimeError as exc:  # keep what finished (a loaded machine can be very slow)
            result["error"] = str(exc)
        result.update(_timings(metadata_url, urls["warehouse"], home / "logs"))
    finally:
        _stop(procs)
        for name in names.values():
            with contextlib.suppress(psycopg.Error):
                _drop_database(admin_url, name)
    result["ok"] = all(r["state"] == "success" for r in result.get("runs", [])) and "backfill_seconds" in result
    result["dag_code"] = str(Path(__import__("mcq_analytics").__file__).parent)
    return result


def summary(section: dict[str, Any]) -> dict[str, Any]:
    """The figures the report prints: seconds per run and per task (by kind), the build work."""
    runs = [r["seconds"] for r in section.get("runs", []) if r["seconds"] is not None]
    out: dict[str, Any] = {"runs": len(runs), "tasks": len(section.get("tasks", [])),
                           "backfill_seconds": section.get("backfill_seconds"),
                           "seconds_per_run": (section["backfill_seconds"] / section["hours"])
                           if section.get("backfill_seconds") else None,
                           "run_seconds_median": statistics.median(runs) if runs else None,
                           "run_seconds_range": (min(runs), max(runs)) if runs else None, "kinds": {}}
    kinds: dict[str, list[dict[str, Any]]] = {}
    for task in section.get("tasks", []):
        kinds.setdefault(task["kind"], []).append(task)
    for kind, tasks in sorted(kinds.items()):
        def med(key: str, ts: list[dict[str, Any]] = tasks) -> float | None:
            values = [t[key] for t in ts if t[key] is not None]
            return statistics.median(values) if values else None
        out["kinds"][kind] = {"count": len(tasks), "per_run": len(tasks) / max(1, section["hours"]),
                              "queued_s": med("queued_s"), "running_s": med("running_s"), "parse_s": med("parse_s"),
                              "engine_s": med("engine_s")}
    return out


def report_lines(section: dict[str, Any] | None) -> list[str]:
    """Section 6 of the printed report."""
    lines = ["", "6. Airflow: `airflow backfill create` of the demo's hours under a local scheduler (LocalExecutor)"]
    if not section:
        return [*lines, "   not measured (pass --airflow or --airflow-only)"]
    if section.get("error"):
        lines.append(f"   FAILED: {section['error'][:500]}")
    s = summary(section)
    if s["run_seconds_median"] is None:
        return lines
    low, high = s["run_seconds_range"]
    total = f"backfill {s['backfill_seconds']:.1f} s = {s['seconds_per_run']:.1f} s per hourly run" \
        if s["backfill_seconds"] else f"{s['runs']} run(s) finished"
    executor = section.get("executor", "LocalExecutor").rsplit(".", 1)[-1]
    lines.append(f"   {section['hours']} hourly runs of {section['answers']:,} demo answers, --max-active-runs "
                 f"{section['max_active_runs']}, {executor} with {section['parallelism']} task slots: {total} "
                 f"(a run: median {s['run_seconds_median']:.1f} s, {low:.1f}-{high:.1f} s); components up in "
                 f"{section.get('startup_seconds', 0):.1f} s (not counted)")
    rows = []
    for kind, k in s["kinds"].items():
        rows.append(f"   {kind:<14} {k['count']:>5} {k['per_run']:>8.1f} {_f(k['queued_s']):>9} "
                    f"{_f(k['running_s']):>10} {_f(k['parse_s']):>8} {_f(k['engine_s']):>9}")
    lines.append(f"   {'task':<14} {'count':>5} {'per run':>8} {'queued s':>9} {'running s':>10} {'parse s':>8} "
                 f"{'engine s':>9}")
    lines += rows
    lines.append("   per task, medians: queued = queued → started (executor, task process start-up); running = the "
                 "task runner (DAG parse, operator, callbacks); parse = its DAG parse; engine = the build's own s")
    failed = [r["run_id"] for r in section.get("runs", []) if r["state"] != "success"]
    if failed:
        lines.append(f"   FAILED runs: {', '.join(failed)}")
    return lines


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"

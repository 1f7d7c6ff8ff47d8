"""The worker subprocess (``python -m mcq_bench --worker TASK``): one engine on the task's windows, timed after
its imports, its result written as JSON for the parent."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mcq_analytics.windows import Window
from mcq_bench.scales import REFERENCE_SCHEMA, SPARK_NOOP_JOB


# -- the worker (runs in the subprocess) -----------------------------------------------------------------
def _window_from(item: dict[str, str]) -> Window:
    return Window(datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"]))


def _engine_call(task: dict[str, Any]) -> Callable[[Window], dict[str, Any]]:
    """The engine's entry point for one window, imported (and, for Spark, configured) before any timing:
    the import of pandas alone takes 0.5-1 s and is not a per-window cost."""
    engine = task["engine"]
    if engine == "reference":
        from mcq_analytics.reference import run_reference

        return lambda window: {"written": run_reference(task["source_url"], window.start, window.end,
                                                        REFERENCE_SCHEMA)}
    if engine == "pandas":
        from mcq_analytics.pipeline import PIPELINES, run_pandas_window

        def call(window: Window) -> dict[str, Any]:
            return _results(run_pandas_window(task["source_url"], task["warehouse_url"], window,
                                              pipelines=task.get("pipelines") or PIPELINES, triggered_by="bench"))
        return call
    from mcq_analytics.config import load_settings
    from mcq_analytics.engines import run_window

    settings = load_settings(task["env_name"], environ=task["settings_env"])
    return lambda window: _results(run_window("spark", settings, task["source_url"], task["warehouse_url"],
                                              window, triggered_by="bench"))


def _results(results: list[Any]) -> dict[str, Any]:
    return {
        "written": {r.pipeline: r.rows_written for r in results},
        "rows_read": max((r.rows_read for r in results), default=0),
        "errors": [f"{r.pipeline}: {r.error}" for r in results if r.status != "success"],
    }


def _run_windows(task: dict[str, Any]) -> dict[str, Any]:
    call = _engine_call(task)
    windows = []
    began = time.perf_counter()
    for item in task["windows"]:
        window = _window_from(item)
        t0 = time.perf_counter()
        outcome = call(window)
        windows.append({"start": window.start.isoformat(), "seconds": time.perf_counter() - t0,
                        "errors": [], **outcome})
    result = {"seconds": time.perf_counter() - began, "windows": windows}
    errors = [e for w in windows for e in w["errors"]]
    if errors:
        result["error"] = "; ".join(errors)[:2000]
    return result


def _spark_noop(task: dict[str, Any]) -> dict[str, Any]:
    from mcq_analytics.config import load_settings
    from mcq_analytics.spark import submit

    settings = load_settings(task["env_name"], environ=task["settings_env"])
    job = Path(task["result"]).with_name("spark_noop.py")
    job.write_text(SPARK_NOOP_JOB, encoding="utf-8")
    jar = submit.find_jdbc_jar(settings.jdbc_jar)
    # The conf of a small window's job (same JVM options), so the figure is the start-up a window pays.
    conf = submit.spark_conf(settings.spark_master, expected_rows=task.get("expected_rows", 10_000))
    argv = [submit.spark_submit_path(), "--master", settings.spark_master, "--deploy-mode", "client"]
    for key, value in conf.items():
        argv += ["--conf", f"{key}={value}"]
    if jar:
        argv += ["--jars", jar]
    argv.append(str(job))
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=str(job.parent),
                          env={**os.environ, **submit.job_env(task["source_url"], task["warehouse_url"])})
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"spark-submit exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return {"seconds": seconds, "windows": []}


def _vmhwm_mib() -> float:
    """This process's peak RSS since its exec (VmHWM; ru_maxrss would include the pre-exec parent's)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_main(task_path: str) -> int:
    """Entry point of the subprocess: run the task, write its result JSON, exit 0 only if all went well."""
    task = json.loads(Path(task_path).read_text(encoding="utf-8"))
    result: dict[str, Any] = {}
    try:
        if task["kind"] == "range":
            from mcq_bench.ranges import range_task

            result = range_task(task)
        else:
            result = _spark_noop(task) if task["kind"] == "spark_noop" else _run_windows(task)
    except Exception as exc:  # reported to the parent in the result file
        traceback.print_exc()
        result["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    result["vmhwm_mib"] = _vmhwm_mib()
    result["maxrss_children_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    Path(task["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 1 if result.get("error") else 0

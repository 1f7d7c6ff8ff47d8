"""One engine run in its own subprocess, and what it cost: time, the worker's peak RSS, the process tree and
the PostgreSQL backends it used, sampled from /proc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from mcq_bench.scales import MIB, SAMPLE_SECONDS, Scale


# -- processes and memory ----------------------------------------------------------------------------
def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def _private_rss_bytes(pid: int) -> int:
    """RssAnon of a process: its private memory, without the shared buffers it touched."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class _Sampler(threading.Thread):
    """Samples, every ``SAMPLE_SECONDS``, the RSS of a process tree and the private memory of the
    PostgreSQL backends serving it (found by ``application_name`` when the server runs on this machine)."""

    def __init__(self, pid: int, admin_url: str | None, app_name: str) -> None:
        super().__init__(daemon=True)
        self.pid, self.app_name = pid, app_name
        self.tree_peak = 0
        self.backend_peak: int | None = None
        self._halt = threading.Event()
        self._conn: psycopg.Connection | None = None
        if admin_url and os.path.isdir("/proc"):
            try:
                self._conn = psycopg.connect(admin_url, autocommit=True, application_name="mcq-bench-sampler")
                own = self._conn.execute("SELECT pg_backend_pid()").fetchone()[0]
                with open(f"/proc/{own}/cmdline", "rb") as f:
                    local = b"postgres" in f.read()
                if local:
                    self.backend_peak = 0
                else:
                    self._conn.close()
                    self._conn = None
            except (psycopg.Error, OSError):
                self._conn = None

    def _tick(self) -> None:
        children = _proc_children()
        tree, stack = 0, [self.pid]
        while stack:
            pid = stack.pop()
            tree += _rss_bytes(pid)
            stack.extend(children.get(pid, ()))
        self.tree_peak = max(self.tree_peak, tree)
        if self._conn is not None and self.backend_peak is not None:
            try:
                pids = [r[0] for r in self._conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.app_name,))]
            except psycopg.Error:
                return
            self.backend_peak = max(self.backend_peak, sum(_private_rss_bytes(p) for p in pids))

    def run(self) -> None:
        while not self._halt.is_set():
            self._tick()
            self._halt.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
        if self._conn is not None:
            self._conn.close()


@dataclass
class Run:
    """One engine subprocess: what it did and what it cost."""

    engine: str
    label: str
    seconds: float  # the engine's own time, measured inside the subprocess around the engine calls
    process_seconds: float  # the subprocess from start to exit (interpreter and imports included)
    peak_rss_mib: float  # the subprocess itself: its VmHWM (Pandas: the engine; reference: the client)
    children_peak_mib: float  # its largest child process (getrusage RUSAGE_CHILDREN; Spark: the JVM)
    tree_peak_mib: float  # the whole tree, sampled (Spark: worker + spark-submit JVM + Python driver)
    backend_peak_mib: float | None  # private memory of the PostgreSQL backends it used, sampled
    ok: bool
    windows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def engine_rss_mib(self) -> float:
        """The engine's own memory: the process for Pandas, the tree for Spark, the client for the reference."""
        if self.engine == "spark":
            return max(self.tree_peak_mib, self.children_peak_mib, self.peak_rss_mib)
        return self.peak_rss_mib


# -- the context of one benchmark -----------------------------------------------------------------------
@dataclass
class Context:
    """One benchmark: its scale, engines, databases and scratch folder; runs engine subprocesses."""

    scale: Scale
    engines: list[str]
    work_dir: Path
    source_url: str
    warehouse_url: str
    admin_url: str | None  # for the memory sampler (None: no backend sampling)
    env_name: str
    repeat: int
    spark_backfill_windows: int
    say: Callable[[str], None]
    runs: int = 0

    def settings_env(self) -> dict[str, str]:
        """The ``MCQ_*`` environment of a worker: the caller's, pointed at the benchmark's databases."""
        env = {k: v for k, v in os.environ.items() if k.startswith("MCQ_")}
        env.update({"MCQ_SOURCE_URL": self.source_url, "MCQ_WAREHOUSE_URL": self.warehouse_url,
                    "MCQ_EMBEDDED_POSTGRES": "false", "MCQ_STATE_DIR": str(self.work_dir / "state")})
        return env

    def run(self, engine: str, label: str, task: dict[str, Any]) -> Run:
        """Run one task in a fresh ``python -m mcq_bench --worker`` process."""
        self.runs += 1
        tag = f"mcq-bench-{os.getpid()}-{self.runs}"
        task_path = self.work_dir / f"task-{self.runs}.json"
        result_path = self.work_dir / f"result-{self.runs}.json"
        log_path = self.work_dir / f"task-{self.runs}.log"
        task = {**task, "engine": engine, "result": str(result_path), "settings_env": self.settings_env(),
                "env_name": self.env_name, "source_url": self.source_url, "warehouse_url": self.warehouse_url}
        task_path.write_text(json.dumps(task), encoding="utf-8")
        env = {**os.environ, "PGAPPNAME": tag, "PYTHONUNBUFFERED": "1"}
        t0 = time.perf_counter()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "mcq_bench", "--worker", str(task_path)],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)
            sampler = _Sampler(proc.pid, self.admin_url, tag)
            sampler.start()
            try:
                proc.wait()
            except BaseException:  # interrupted: take the worker and everything it started down
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
            finally:
                sampler.stop()
        process_seconds = time.perf_counter() - t0
        # A Spark job's JVM or Python driver may outlive spark-submit for a moment: never leave one behind.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        result: dict[str, Any] = {}
        if result_path.exists():
            result = json.loads(result_path.read_text(encoding="utf-8"))
        error = result.get("error")
        if proc.returncode != 0 and not error:
            error = f"worker exited with {proc.returncode}: {_tail(log_path)}"
        run = Run(
            engine=engine, label=label, seconds=result.get("seconds", process_seconds),
            process_seconds=process_seconds,
            # Not the parent's view of ru_maxrss (os.wait4): Linux carries the forking parent's RSS over exec.
            peak_rss_mib=result.get("vmhwm_mib", 0.0), children_peak_mib=result.get("maxrss_children_mib", 0.0),
            tree_peak_mib=sampler.tree_peak / MIB,
            backend_peak_mib=None if sampler.backend_peak is None else sampler.backend_peak / MIB,
            ok=proc.returncode == 0 and not error, windows=result.get("windows", []), error=error,
        )
        status_text = "ok" if run.ok else f"FAILED: {(run.error or '')[:300]}"
        self.say(f"  {engine:<9} {label:<28} {run.seconds:8.2f} s  {run.engine_rss_mib:7.0f} MiB  {status_text}")
        return run


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])

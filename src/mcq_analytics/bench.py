"""Benchmark: the Pandas and Spark engines against the in-database SQL reference (docs/performance.md).

``python -m mcq_analytics.bench [--scale tiny|small|full] [--json PATH] [--engines pandas,spark,reference]``

It starts its own throwaway PostgreSQL (or uses ``--source-url``/``--warehouse-url`` when told to), generates
the data, and measures side by side in one run:

1. one hourly window with about ``window_large`` affected answer rows (1M at small and full scale);
2. the same small window (``window_small`` answers) on a small and on a large history: the per-window cost
   must not grow with history, and EXPLAIN of the scope and extract queries must show no sequential scan of
   answers;
3. a backfill over the large history's hourly windows: total time and peak memory;
4. Spark's start-up alone (``spark-submit`` of a job that does nothing);
5. window size against time for Pandas and Spark, and where Spark starts to win (``--engine auto``).

Every engine run happens in its own subprocess, so its peak RSS is its own (the worker's VmHWM; Spark's
process tree is sampled from /proc). The reference runs inside PostgreSQL: its client is tiny, and the
figure that matters is the backends' private memory, sampled from /proc when the server is local. Every
figure is also given as a ratio to the reference measured in the same run.

Data layout. ``generate()`` cannot append (it refuses non-empty tables, ``reset`` truncates them, and ids
always start at 1), and it writes every test and question at its ``start``, so the hour holding ``start``
touches every session. So each data set is generated on its own — the history straight into the source
tables, each window's data into a scratch schema and then copied in with its ids shifted by ``k × 10⁹`` —
and the catalogue rows (tests, questions) that were written at a data set's start are moved to one import
hour a day before the history, which no measured window contains. Regrades stay where the generator put
them: a regrade window legitimately recomputes every session of the regraded tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from mcq_analytics.facts import BOOKKEEPING_TABLES, FACT_NAMES
from mcq_analytics.paths import PROJECT_ROOT, read_sql
from mcq_analytics.windows import HOUR, Window

ENGINES = ("reference", "pandas", "spark")
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
#: The history starts here; the window data sets follow it, two hours apart.
HISTORY_START = datetime(2024, 6, 3, tzinfo=UTC)
#: Where the catalogue rows of every data set are moved: an hour no measured window contains.
CATALOG_AT = HISTORY_START - timedelta(days=1)
ID_STRIDE = 10**9
STAGE_SCHEMA = "mcq_bench_stage"
REFERENCE_SCHEMA = "mcq_reference"
SOURCE_TABLES = ("teachers", "students", "tests", "questions", "sessions", "answers", "submissions")
#: Id columns shifted when a data set is copied into the source tables.
ID_COLUMNS = {
    "teachers": ("teacher_id",),
    "students": ("student_id",),
    "tests": ("test_id", "teacher_id"),
    "questions": ("question_id", "test_id"),
    "sessions": ("session_id", "test_id", "student_id"),
    "answers": ("answer_id", "session_id", "question_id"),
    "submissions": ("submission_id", "session_id"),
}
WAREHOUSE_TABLES = (*FACT_NAMES, *BOOKKEEPING_TABLES)
#: The event tables whose scans EXPLAIN reports; answers must never be scanned sequentially for a small
#: window (the planner may rightly scan a few-thousand-row sessions or submissions table).
BIG_TABLES = ("answers", "sessions", "submissions")
SAMPLE_SECONDS = 0.2
MIB = 1024 * 1024

#: The Spark start-up job: a session, one trivial action (so the executor is really up), stop.
SPARK_NOOP_JOB = """\
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("mcq-bench-noop").getOrCreate()
spark.range(1).count()
spark.stop()
"""

# Targets (issue 8): checked on the printed figures, never by a timed unit test.
TARGET_PANDAS_VS_REFERENCE = 2.0
TARGET_PANDAS_RSS_MIB = 2048
TARGET_HISTORY_GROWTH = 1.5
#: Below this history the planner rightly prefers sequential scans, so EXPLAIN is reported, not judged.
EXPLAIN_MIN_HISTORY = 1_000_000


@dataclass(frozen=True)
class Scale:
    name: str
    history_small: int  # answers of the small history
    history_large: int  # answers of the large history (also the backfill)
    history_hours: int
    window_small: int  # answers of the small window, measured on both histories
    window_large: int  # answers of the big window
    extra_windows: tuple[int, ...] = ()  # more window sizes for the Pandas/Spark crossover
    repeat: int = 1  # measured runs per engine of the small window (the median is reported)
    spark_backfill_windows: int = 0  # Spark backfills the first N windows only (one spark-submit each)
    spark_startup_runs: int = 1
    prime: bool = True  # load each measured window once first, so every measured run is a re-run
    warm_warehouse: bool = True  # backfill the small history too, so its warehouse holds its facts


SCALES = {
    "tiny": Scale("tiny", 2_000, 20_000, 3, 500, 10_000, prime=False, warm_warehouse=False),
    "small": Scale("small", 100_000, 1_000_000, 12, 10_000, 1_000_000, (100_000,), repeat=3,
                   spark_backfill_windows=2, spark_startup_runs=2),
    "full": Scale("full", 100_000, 10_000_000, 24, 10_000, 1_000_000, (250_000, 3_000_000), repeat=3,
                  spark_backfill_windows=3, spark_startup_runs=3),
}


class BenchError(RuntimeError):
    """The benchmark cannot run as asked; the message is one line meant for the user."""


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
        env = {k: v for k, v in os.environ.items() if k.startswith("MCQ_")}
        env.update({"MCQ_SOURCE_URL": self.source_url, "MCQ_WAREHOUSE_URL": self.warehouse_url,
                    "MCQ_EMBEDDED_POSTGRES": "false", "MCQ_STATE_DIR": str(self.work_dir / "state")})
        return env

    def run(self, engine: str, label: str, task: dict[str, Any]) -> Run:
        """Run one task in a fresh ``python -m mcq_analytics.bench --worker`` process."""
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
            proc = subprocess.Popen([sys.executable, "-m", "mcq_analytics.bench", "--worker", str(task_path)],
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
        from mcq_analytics.pipeline import run_pandas_window

        def call(window: Window) -> dict[str, Any]:
            return _results(run_pandas_window(task["source_url"], task["warehouse_url"], window,
                                              triggered_by="bench"))
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
    from mcq_analytics import spark_engine
    from mcq_analytics.config import load_settings

    settings = load_settings(task["env_name"], environ=task["settings_env"])
    job = Path(task["result"]).with_name("spark_noop.py")
    job.write_text(SPARK_NOOP_JOB, encoding="utf-8")
    jar = spark_engine.find_jdbc_jar(settings.jdbc_jar)
    # The conf of a small window's job (same JVM options), so the figure is the start-up a window pays.
    conf = spark_engine.spark_conf(settings.spark_master, expected_rows=task.get("expected_rows", 10_000),
                                   jdbc_jar=jar)
    conf.pop("spark.jars.packages", None)  # the no-op job needs no JDBC driver (and no network)
    argv = [spark_engine.spark_submit_path(), "--master", settings.spark_master, "--deploy-mode", "client"]
    for key, value in conf.items():
        argv += ["--conf", f"{key}={value}"]
    if jar:
        argv += ["--jars", jar]
    argv.append(str(job))
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=str(job.parent),
                          env={**os.environ, **spark_engine.job_env(task["source_url"], task["warehouse_url"])})
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
        result = _spark_noop(task) if task["kind"] == "spark_noop" else _run_windows(task)
    except Exception as exc:  # reported to the parent in the result file
        traceback.print_exc()
        result["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    result["vmhwm_mib"] = _vmhwm_mib()
    result["maxrss_children_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    Path(task["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 1 if result.get("error") else 0


# -- data ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSet:
    """One generated data set: ``hours`` hours of activity from ``start``, ids shifted by ``offset``."""

    name: str
    answers: int
    start: datetime
    hours: int
    seed: int
    offset: int

    @property
    def window(self) -> Window:
        return Window(self.start, self.start + self.hours * HOUR)


def _with_search_path(url: str, schema: str) -> str:
    return make_conninfo(url, options=f"-c search_path={schema}")


def _move_catalog(conn: psycopg.Connection, schema: str | None, written_at: datetime) -> None:
    """Tests and questions written at ``written_at`` (the generator's import) move to ``CATALOG_AT``."""
    for table in ("tests", "questions"):
        ident = sql.Identifier(schema, table) if schema else sql.Identifier(table)
        conn.execute(sql.SQL("UPDATE {} SET created_at = %(c)s, updated_at = %(c)s WHERE updated_at = %(w)s")
                     .format(ident), {"c": CATALOG_AT, "w": written_at})


def load_history(source_url: str, data: DataSet) -> dict[str, int]:
    """Generate the history straight into the source tables (truncating them) and move its catalogue."""
    from mcq_analytics.generator import GeneratorConfig, generate

    report = generate(source_url, GeneratorConfig(answers=data.answers, hours=data.hours, seed=data.seed,
                                                  start=data.start), reset=True, progress=lambda _: None)
    with psycopg.connect(source_url) as conn:
        _move_catalog(conn, None, data.start)
    return report.rows


def add_dataset(source_url: str, data: DataSet) -> dict[str, int]:
    """Generate ``data`` in a scratch schema and copy it into the source tables with shifted ids."""
    from mcq_analytics.generator import GeneratorConfig, generate

    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(STAGE_SCHEMA)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(STAGE_SCHEMA)))
    try:
        report = generate(_with_search_path(source_url, STAGE_SCHEMA),
                          GeneratorConfig(answers=data.answers, hours=data.hours, seed=data.seed, start=data.start),
                          reset=True, progress=lambda _: None)
        with psycopg.connect(source_url) as conn:
            _move_catalog(conn, STAGE_SCHEMA, data.start)
            for table in SOURCE_TABLES:
                columns = [r[0] for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
                    " ORDER BY ordinal_position", (STAGE_SCHEMA, table))]
                select = sql.SQL(", ").join(
                    sql.SQL("{} + {}").format(sql.Identifier(c), sql.Literal(data.offset))
                    if c in ID_COLUMNS[table] else sql.Identifier(c) for c in columns)
                conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)), select,
                    sql.Identifier(STAGE_SCHEMA, table)))
    finally:
        with psycopg.connect(source_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(STAGE_SCHEMA)))
    return report.rows


def analyze_source(source_url: str) -> None:
    with psycopg.connect(source_url, autocommit=True) as conn:
        for table in SOURCE_TABLES:
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def reset_warehouse(source_url: str, warehouse_url: str) -> None:
    """Empty the warehouse's facts and bookkeeping and drop the reference schema."""
    from mcq_analytics.schema import ANALYTICS_DDL, apply_ddl

    apply_ddl(warehouse_url, ANALYTICS_DDL)
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(sql.SQL("TRUNCATE {}").format(
            sql.SQL(", ").join(sql.Identifier("analytics", t) for t in WAREHOUSE_TABLES)))
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(REFERENCE_SCHEMA)))


def affected_answers(source_url: str, window: Window) -> int:
    """Answer rows of the window's affected sessions: the size ``--engine auto`` decides on."""
    query = "SELECT count(*) FROM answers WHERE session_id IN (" + read_sql("extract/affected_sessions.sql") + ")"
    with psycopg.connect(source_url) as conn:
        return int(conn.execute(query, {"window_start": window.start, "window_end": window.end}).fetchone()[0])


# -- EXPLAIN -------------------------------------------------------------------------------------------
def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(_plan_nodes(child))
    return nodes


def explain_window_queries(source_url: str, window: Window) -> list[dict[str, Any]]:
    """EXPLAIN the scope and extract queries of ``window`` (the reference's scope too) as they run: after
    the temp tables they join are filled and analysed. Returns, per query, the scans of the big tables."""
    from mcq_analytics.extract import EXTRACT_COLUMNS, create_scope

    params = {"window_start": window.start, "window_end": window.end}
    plans: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    with psycopg.connect(source_url) as conn, conn.cursor() as cur:
        def explain(name: str, query: str, args: dict[str, Any] | None = None) -> None:
            try:
                with conn.transaction():  # a savepoint: one failing query does not lose the others
                    cur.execute("EXPLAIN (FORMAT JSON) " + query, args)
                    plans[name] = cur.fetchone()[0][0]["Plan"]
            except psycopg.Error as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"

        explain("extract/affected_sessions.sql", read_sql("extract/affected_sessions.sql"), params)
        create_scope(cur, window, with_buckets=True)
        explain("extract/bucket_sessions.sql", read_sql("extract/bucket_sessions.sql"))
        for name in EXTRACT_COLUMNS:
            explain(f"extract/{name}.sql", read_sql(f"extract/{name}.sql"))
        explain("extract/questions_by_id.sql", read_sql("extract/questions_by_id.sql"), {"question_ids": [1, 2, 3]})
        conn.rollback()
    checks = []
    for name, plan in plans.items():
        scans = set()
        for node in _plan_nodes(plan):
            relation, index = node.get("Relation Name"), node.get("Index Name")
            if relation in BIG_TABLES:
                scans.add(f"{node['Node Type']} {relation}" + (f" using {index}" if index else ""))
            elif relation is None and index and index.split("_")[0] in BIG_TABLES:
                scans.add(f"{node['Node Type']} using {index}")
        seq = sorted(s.removeprefix("Seq Scan ") for s in scans if s.startswith("Seq Scan "))
        checks.append({"query": name, "seq_scans": seq, "scans": sorted(scans), "ok": "answers" not in seq})
    checks += [{"query": name, "seq_scans": [], "scans": [], "ok": False, "error": error}
               for name, error in errors.items()]
    return checks


# -- the measurements ----------------------------------------------------------------------------------
def _median_run(runs: list[Run]) -> Run:
    ok = [r for r in runs if r.ok]
    if not ok:
        return runs[-1]
    ordered = sorted(ok, key=lambda r: r.seconds)
    return ordered[(len(ordered) - 1) // 2]


def _window_task(*windows: Window) -> dict[str, Any]:
    return {"kind": "windows", "windows": [{"start": w.start.isoformat(), "end": w.end.isoformat()} for w in windows]}


def measure_window(ctx: Context, label: str, window: Window, repeat: int, prime: bool = True) -> dict[str, Any]:
    """Each engine on one window, ``repeat`` rounds (engines interleaved), median reported. Priming runs
    (reference and Pandas, not reported) load the window first, so every measured run is a re-run that
    replaces the window's rows, the same work for every engine."""
    if prime:
        for engine in ("reference", "pandas"):
            if engine in ctx.engines:
                ctx.run(engine, f"{label} (prime)", _window_task(window))
    runs: dict[str, list[Run]] = {e: [] for e in ctx.engines}
    for _ in range(repeat):
        for engine in ctx.engines:
            runs[engine].append(ctx.run(engine, label, _window_task(window)))
    return {engine: _median_run(rs) for engine, rs in runs.items()}


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base <= 0:
        return None
    return value / base


def _fit(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    """Least-squares line ``seconds = a + b × rows``."""
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return None
    xs, ys = [float(x) for x, _ in points], [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def crossover(pandas_points: list[tuple[int, float]], spark_points: list[tuple[int, float]]) -> dict[str, Any]:
    """Where the Spark line drops below the Pandas line, from the measured (rows, seconds) points."""
    p, s = _fit(pandas_points), _fit(spark_points)
    out: dict[str, Any] = {"pandas_fit": p, "spark_fit": s, "rows": None}
    if p is None or s is None:
        out["verdict"] = "not enough points"
    elif s[1] >= p[1]:
        out["verdict"] = (f"Spark never wins on this machine: {s[1] * 1e6:.1f} s per million answers against "
                          f"Pandas' {p[1] * 1e6:.1f} s, on top of {s[0] - p[0]:.1f} s more fixed cost")
    else:
        rows = (s[0] - p[0]) / (p[1] - s[1])
        out["rows"] = max(0, int(rows))
        out["verdict"] = f"Spark wins from about {out['rows']:,} affected answer rows"
    return out


def memory_limit(points: list[tuple[int, float]], budget_mib: float = TARGET_PANDAS_RSS_MIB) -> dict[str, Any]:
    """Pandas' peak RSS as a line in the window's affected answers, and where it reaches ``budget_mib``."""
    fit = _fit(points)
    rows = None
    if fit is not None and fit[1] > 0:
        rows = max(0, int((budget_mib - fit[0]) / fit[1]))
    return {"fit": fit, "budget_mib": budget_mib, "rows": rows}


def recommend_threshold(cross: dict[str, Any], memory: dict[str, Any]) -> dict[str, Any]:
    """The ``--engine auto`` threshold these figures support: where Spark gets faster, or, where it never
    does, where Pandas' memory reaches the budget (Spark's reason to run is then memory, not speed)."""
    def round2(n: int) -> int:  # two significant digits, down
        digits = max(0, len(str(n)) - 2)
        return n // 10**digits * 10**digits

    if cross.get("rows") is not None:
        rows = round2(cross["rows"])
        return {"rows": rows, "basis": "time", "text": f"{rows:,} (Spark is faster from there on this machine)"}
    if memory.get("rows") is not None:
        per_affected = max(1.0, memory.get("scope_per_affected_answer") or 1.0)
        rows = round2(int(memory["rows"] / per_affected))
        return {"rows": rows, "basis": "memory",
                "text": f"{rows:,} affected answers (Spark is never faster here; beyond it Pandas would pass "
                        f"{memory['budget_mib']:,.0f} MiB in a steady hourly stream, scope {per_affected:.1f}× "
                        "the affected answers)"}
    return {"rows": None, "basis": None, "text": "no recommendation from these figures"}


def run_benchmark(ctx: Context, report: dict[str, Any]) -> None:
    """Measure everything, filling ``report`` as it goes (a failure keeps what was measured)."""
    scale = ctx.scale
    hours = scale.history_hours
    small = DataSet("window_small", scale.window_small, HISTORY_START + (hours + 2) * HOUR, 1, 201, ID_STRIDE)
    sizes = [small] + [
        DataSet(f"window_{n}", n, HISTORY_START + (hours + 2 + 2 * k) * HOUR, 1, 201 + k, (k + 1) * ID_STRIDE)
        for k, n in enumerate(sorted({scale.window_large, *scale.extra_windows} - {scale.window_small}), start=1)
    ]
    large = next(d for d in sizes if d.answers == scale.window_large)
    report["phases"] = {}
    report["layout"] = {"history_start": HISTORY_START, "catalog_at": CATALOG_AT,
                        "datasets": [asdict(d) for d in sizes], "large": large.name, "small": small.name}

    # Phase A: the small history, the window sizes, the big window.
    ctx.say(f"phase A: {scale.history_small:,}-answer history + windows of "
            + ", ".join(f"{d.answers:,}" for d in sizes))
    t0 = time.perf_counter()
    history = DataSet("history_small", scale.history_small, HISTORY_START, hours, 101, 0)
    rows = {"history": load_history(ctx.source_url, history)}
    for data in sizes:
        rows[data.name] = add_dataset(ctx.source_url, data)
    analyze_source(ctx.source_url)
    reset_warehouse(ctx.source_url, ctx.warehouse_url)
    ctx.say(f"  data ready in {time.perf_counter() - t0:.1f} s")
    phase_a: dict[str, Any] = {"rows": rows, "windows": {}}
    report["phases"]["A"] = phase_a
    if scale.warm_warehouse:
        phase_a["backfill"] = measure_backfill(ctx, history, spark_windows=0)
    if "spark" in ctx.engines:
        phase_a["spark_startup"] = [ctx.run("spark", "start-up (no-op job)", {"kind": "spark_noop"})
                                    for _ in range(scale.spark_startup_runs)]
    for data in sizes:
        count = affected_answers(ctx.source_url, data.window)
        repeat = ctx.repeat if data is small else 1
        runs = measure_window(ctx, f"{count:,}-answer window", data.window, repeat, prime=scale.prime)
        phase_a["windows"][data.name] = {"window": data.window, "affected_answers": count, "runs": runs}

    # Phase B: the large history, the same small window on top of it, the backfill.
    ctx.say(f"phase B: {scale.history_large:,}-answer history + the same {small.answers:,}-answer window")
    t0 = time.perf_counter()
    history = DataSet("history_large", scale.history_large, HISTORY_START, hours, 102, 0)
    rows = {"history": load_history(ctx.source_url, history), small.name: add_dataset(ctx.source_url, small)}
    analyze_source(ctx.source_url)
    reset_warehouse(ctx.source_url, ctx.warehouse_url)
    ctx.say(f"  data ready in {time.perf_counter() - t0:.1f} s")
    phase_b: dict[str, Any] = {"rows": rows, "windows": {}}
    report["phases"]["B"] = phase_b
    phase_b["backfill"] = measure_backfill(ctx, history, spark_windows=ctx.spark_backfill_windows)
    count = affected_answers(ctx.source_url, small.window)
    runs = measure_window(ctx, f"{count:,}-answer window", small.window, ctx.repeat, prime=scale.prime)
    phase_b["windows"][small.name] = {"window": small.window, "affected_answers": count, "runs": runs}
    phase_b["explain"] = explain_window_queries(ctx.source_url, small.window)


def measure_backfill(ctx: Context, history: DataSet, spark_windows: int) -> dict[str, Any]:
    """Every hourly window of the history, in order, one subprocess per engine (Spark: the first
    ``spark_windows`` windows only, after the others, so its runs replace rows already loaded)."""
    from mcq_analytics.windows import hourly_windows

    windows = list(hourly_windows(history.window.start, history.window.end))
    label = f"backfill {len(windows)} windows"
    out: dict[str, Any] = {"windows": len(windows), "runs": {},
                           "affected_answers": [affected_answers(ctx.source_url, w) for w in windows]}
    for engine in ("reference", "pandas"):
        if engine in ctx.engines:
            out["runs"][engine] = ctx.run(engine, label, _window_task(*windows))
    if "spark" in ctx.engines and spark_windows > 0:
        subset = windows[:spark_windows]
        out["spark_windows"] = len(subset)
        out["runs"]["spark"] = ctx.run("spark", f"backfill first {len(subset)} windows", _window_task(*subset))
    return out


# -- report --------------------------------------------------------------------------------------------
def _written(run: Run) -> str:
    """Fact rows written by the run's first window, in the registry's order."""
    written = run.windows[0]["written"] if run.windows else {}
    return " ".join(f"{written[f]:,}" if f in written else "-" for f in FACT_NAMES)


def _fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _fmt_x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"


def _fmt_n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _table(headers: Sequence[str], rows: list[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    return "\n".join([fmt(headers), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def machine_info(source_url: str) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    with psycopg.connect(source_url) as conn:
        info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
        info["postgresql_settings"] = {name: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
                                       for name in ("shared_buffers", "work_mem", "temp_buffers", "jit")}
    for module in ("pandas", "pyarrow", "pyspark"):
        try:
            info[module] = __import__(module).__version__
        except Exception:  # noqa: BLE001 - optional
            info[module] = None
    return info


def summarise(ctx: Context | SimpleNamespace, report: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The printed tables and the targets, from the measurements (``ctx``: scale, engines, repeat)."""
    a, b = report["phases"]["A"], report["phases"]["B"]
    small, large = report["layout"]["small"], report["layout"]["large"]
    lines: list[str] = []
    targets: dict[str, Any] = {}
    m = report["machine"]
    load = ", ".join(f"{x:.1f}" for x in m.get("loadavg_at_start") or ())
    lines.append(f"MCQ analytics benchmark, scale {ctx.scale.name}: {m.get('cpus')} cores ({m.get('cpu')}), "
                 f"{m.get('memory_gib')} GiB, PostgreSQL {m.get('postgresql')}, pandas {m.get('pandas')}, "
                 f"pyspark {m.get('pyspark')}; load average at start {load}")
    if report.get("skipped"):
        lines.append("skipped: " + "; ".join(f"{k}: {v}" for k, v in report["skipped"].items()))

    def window_rows(entry: dict[str, Any]) -> list[list[str]]:
        ref = entry["runs"].get("reference")
        out = []
        for engine, run in entry["runs"].items():
            rate = entry["affected_answers"] / run.seconds if run.ok and run.seconds > 0 else None
            mem = f"{run.engine_rss_mib:,.0f}"
            if run.backend_peak_mib is not None and engine != "spark":
                mem += f" (+{run.backend_peak_mib:,.0f} backend)"
            out.append([engine, _fmt_s(run.seconds) if run.ok else "FAILED", _fmt_n(rate),
                        _fmt_x(_ratio(run.seconds, ref.seconds if ref and ref.ok else None)) if run.ok else "-", mem,
                        _written(run)])
        return out

    headers = ["engine", "seconds", "answers/s", "× reference", "peak RSS MiB", "rows written (qif tsf tff)"]
    big = a["windows"][large]
    lines += ["", f"1. One hourly window, {big['affected_answers']:,} affected answer rows "
              f"(on the {ctx.scale.history_small:,}-answer history; median of 1 run, a re-run that replaces the "
              "window's rows)", _table(headers, window_rows(big))]
    runs = big["runs"]
    if "pandas" in runs and "reference" in runs and runs["pandas"].ok and runs["reference"].ok:
        ratio = runs["pandas"].seconds / runs["reference"].seconds
        targets["pandas_window_vs_reference"] = {"value": ratio, "target": TARGET_PANDAS_VS_REFERENCE,
                                                 "met": ratio <= TARGET_PANDAS_VS_REFERENCE}
        rss = runs["pandas"].peak_rss_mib
        targets["pandas_window_peak_rss_mib"] = {"value": rss, "target": TARGET_PANDAS_RSS_MIB,
                                                 "met": rss < TARGET_PANDAS_RSS_MIB}
    lines.append("   peak RSS: Pandas = the engine process; Spark = worker + spark-submit JVM + Python driver "
                 "(sampled); reference = its client, (+ backend) = private memory of the PostgreSQL backends "
                 "doing the work (sampled RssAnon, shared buffers not counted)")

    sa, sb = a["windows"][small], b["windows"][small]
    lines += ["", f"2. The same small window ({sa['affected_answers']:,} / {sb['affected_answers']:,} "
              f"affected answers) on a {ctx.scale.history_small:,}- and a {ctx.scale.history_large:,}-answer history "
              f"(median of {ctx.repeat})"]
    rows = []
    for engine in ctx.engines:
        ra, rb = sa["runs"].get(engine), sb["runs"].get(engine)
        if ra is None or rb is None:
            continue
        growth = _ratio(rb.seconds, ra.seconds) if ra.ok and rb.ok else None
        ref_a, ref_b = sa["runs"].get("reference"), sb["runs"].get("reference")
        rows.append([engine, _fmt_s(ra.seconds) if ra.ok else "FAILED", _fmt_s(rb.seconds) if rb.ok else "FAILED",
                     _fmt_x(growth), _fmt_x(_ratio(ra.seconds, ref_a.seconds if ref_a else None)),
                     _fmt_x(_ratio(rb.seconds, ref_b.seconds if ref_b else None)),
                     f"{ra.engine_rss_mib:,.0f} / {rb.engine_rss_mib:,.0f}"])
        targets[f"history_growth_{engine}"] = {"value": growth, "target": TARGET_HISTORY_GROWTH,
                                               "met": growth is not None and growth <= TARGET_HISTORY_GROWTH}
    lines.append(_table(["engine", "small hist s", "large hist s", "large/small", "× ref (small)", "× ref (large)",
                         "peak RSS MiB"], rows))
    explain = b["explain"]
    bad = [c for c in explain if not c["ok"]]
    others = [f"{c['query']}: {', '.join(c['seq_scans'])}" for c in explain if c["ok"] and c["seq_scans"]]
    scanned = [c["query"] for c in bad if not c.get("error")]
    failed = [f"{c['query']} ({c['error']})" for c in bad if c.get("error")]
    found = ("no sequential scan of answers" if not scanned else
             "SEQUENTIAL SCAN of answers in " + ", ".join(scanned))
    if failed:
        found = "could not EXPLAIN " + "; ".join(failed) + "; " + found
    found += ("; sequential scans of smaller tables: " + "; ".join(others)) if others else \
        ", sessions or submissions (index scans only)"
    if ctx.scale.history_large >= EXPLAIN_MIN_HISTORY:
        lines.append(f"   EXPLAIN on the large history ({len(explain)} scope/extract queries): {found}")
        targets["explain_no_seq_scans"] = {"value": [c["query"] for c in bad], "met": not bad}
    else:
        lines.append(f"   EXPLAIN not judged at this scale (tables this small are cheaper to scan): {found}")

    bf = b["backfill"]
    affected = bf.get("affected_answers") or []
    lines += ["", f"3. Backfill of the {ctx.scale.history_large:,}-answer history: {bf['windows']} hourly windows"
              + (f", {sum(affected):,} affected answers in all ({min(affected):,}-{max(affected):,} a window)"
                 if affected else "")]
    rows = []
    ref = bf["runs"].get("reference")
    for engine, run in bf["runs"].items():
        n = len(run.windows) or bf["windows"]
        same_ref = None
        if ref and ref.ok and run.ok:
            same_ref = sum(w["seconds"] for w in ref.windows[:n])
        mem = f"{run.engine_rss_mib:,.0f}"
        if run.backend_peak_mib is not None and engine != "spark":
            mem += f" (+{run.backend_peak_mib:,.0f} backend)"
        rows.append([engine, str(n), _fmt_s(run.seconds) if run.ok else "FAILED",
                     _fmt_s(run.seconds / n if run.ok and n else None),
                     _fmt_s(max((w["seconds"] for w in run.windows), default=None)),
                     _fmt_x(_ratio(run.seconds, same_ref)), mem])
    lines.append(_table(["engine", "windows", "total s", "s/window", "slowest window s", "× ref (same windows)",
                         "peak RSS MiB"], rows))
    if "pandas" in bf["runs"]:
        run = bf["runs"]["pandas"]
        targets["pandas_backfill_completes"] = {"value": run.peak_rss_mib, "met": run.ok}
    if "spark" in bf["runs"]:
        lines.append("   Spark backfills only the first windows (one spark-submit each), after the others: its "
                     "runs replace rows already loaded")

    startups = a.get("spark_startup") or []
    ok_startups = [r.seconds for r in startups if r.ok]
    startup = statistics.median(ok_startups) if ok_startups else None
    lines += ["", "4. Spark start-up alone (spark-submit of a job that only starts a session and counts 1 row)"]
    if startups:
        sw = sa["runs"].get("spark")
        lines.append(f"   {startup and f'{startup:.1f} s' or 'FAILED'} (median of {len(startups)}: "
                     f"{', '.join(_fmt_s(r.seconds) for r in startups)} s); peak RSS "
                     f"{max(r.tree_peak_mib for r in startups):,.0f} MiB"
                     + (f"; the {sa['affected_answers']:,}-answer window took {sw.seconds:.1f} s on Spark, "
                        f"{startup / sw.seconds:.0%} of it start-up" if sw and sw.ok and startup else ""))
    else:
        lines.append("   not measured (" + (report.get("skipped", {}).get("spark") or "Spark not selected") + ")")

    lines += ["", "5. Window size against time (Pandas vs Spark: the --engine auto threshold)"]
    rows, pandas_points, spark_points = [], [], []
    for entry in sorted(a["windows"].values(), key=lambda e: e["affected_answers"]):
        r = entry["runs"]
        n = entry["affected_answers"]
        p, s, ref = r.get("pandas"), r.get("spark"), r.get("reference")
        if p and p.ok:
            pandas_points.append((n, p.seconds))
        if s and s.ok:
            spark_points.append((n, s.seconds))
        rows.append([f"{n:,}", _fmt_s(ref.seconds if ref and ref.ok else None),
                     _fmt_s(p.seconds if p and p.ok else None), _fmt_s(s.seconds if s and s.ok else None),
                     _fmt_x(_ratio(s.seconds if s and s.ok else None, p.seconds if p and p.ok else None)),
                     _fmt_s((s.seconds - startup) if s and s.ok and startup else None)])
    lines.append(_table(["affected answers", "reference s", "pandas s", "spark s", "spark/pandas",
                         "spark - start-up s"], rows))
    cross = crossover(pandas_points, spark_points) if spark_points else {"verdict": "Spark not measured", "rows": None}
    report["crossover"] = cross
    lines.append(f"   time: {cross['verdict']}")
    # Pandas' memory follows its scope (the rows it reads: affected sessions plus the other sessions of their
    # cohort buckets), while --engine auto counts affected answers; the backfill gives the ratio of the two.
    memory = memory_limit([(e["runs"]["pandas"].windows[0].get("rows_read", 0), e["runs"]["pandas"].peak_rss_mib)
                           for e in a["windows"].values() if "pandas" in e["runs"] and e["runs"]["pandas"].ok])
    bp = bf["runs"].get("pandas")
    inflation = [w.get("rows_read", 0) / n for w, n in zip(bp.windows, bf.get("affected_answers", []), strict=False)
                 if n] if bp and bp.ok else []
    memory["scope_per_affected_answer"] = statistics.median(inflation) if inflation else None
    report["pandas_memory"] = memory
    if memory["rows"] is not None:
        base, per_row = memory["fit"]
        text = (f"   memory: Pandas peak RSS ≈ {base:,.0f} MiB + {per_row * 1e6:,.0f} MiB per million rows read "
                f"(the scope: sessions, answers, submissions): {TARGET_PANDAS_RSS_MIB:,} MiB at about "
                f"{memory['rows']:,} rows read")
        if inflation:
            text += (f"; in the backfill a window read {min(inflation):.1f}-{max(inflation):.1f}× (median "
                     f"{memory['scope_per_affected_answer']:.1f}×) its affected answers (late rows reopen older "
                     "cohort buckets)")
        lines.append(text)
    threshold = recommend_threshold(cross, memory)
    report["recommended_auto_threshold"] = threshold
    lines.append(f"   MCQ_AUTO_ENGINE_THRESHOLD_ROWS: {threshold['text']}")

    lines += ["", "Targets"]
    labels = {
        "pandas_window_vs_reference": f"Pandas on the big window <= {TARGET_PANDAS_VS_REFERENCE:g}x the reference",
        "pandas_window_peak_rss_mib": f"Pandas peak RSS on the big window < {TARGET_PANDAS_RSS_MIB:,} MiB",
        "explain_no_seq_scans": "no sequential scan of answers in the scope/extract queries of a small window",
        "pandas_backfill_completes": "Pandas backfill of the large history completes",
    }
    for key, target in targets.items():
        label = labels.get(key) or f"{key.removeprefix('history_growth_')}: small window large/small history <= " \
                                   f"{TARGET_HISTORY_GROWTH:g}"
        value = target["value"]
        shown = (f"{value:.2f}" if isinstance(value, float) else "") if not isinstance(value, list) else ""
        lines.append(f"  [{'met' if target['met'] else 'MISSED'}] {label}" + (f": {shown}" if shown else ""))
    return "\n".join(lines), targets


def _jsonable(value: Any) -> Any:
    if isinstance(value, Run):
        return _jsonable(asdict(value) | {"engine_rss_mib": value.engine_rss_mib})
    if isinstance(value, Window):
        return {"start": value.start.isoformat(), "end": value.end.isoformat()}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# -- command line ----------------------------------------------------------------------------------------
def _spark_unavailable() -> str | None:
    """Why the Spark engine cannot be benchmarked here, or None."""
    import importlib.util

    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return "no Java (java not on PATH, JAVA_HOME unset)"
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed"
    try:
        import mcq_analytics.spark_engine  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means: not available
        return f"mcq_analytics.spark_engine does not import: {type(exc).__name__}: {exc}"
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mcq_analytics.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated subset of pandas,spark,reference (default: all; Spark is skipped "
                             "with a note where Java or pyspark is missing)")
    parser.add_argument("--json", type=Path, help="write the results here (default bench/results/<time>-<scale>.json)")
    parser.add_argument("--source-url", help="use this source database instead of a throwaway server: its source "
                                             "tables are TRUNCATED and refilled (needs --reset if they hold rows)")
    parser.add_argument("--warehouse-url", help="use this warehouse database (its analytics tables are TRUNCATED)")
    parser.add_argument("--reset", action="store_true", help="allow truncating non-empty --source-url/--warehouse-url")
    parser.add_argument("--repeat", type=int, help="measured runs per engine of the small window (median)")
    parser.add_argument("--spark-backfill-windows", type=int, help="windows of the backfill Spark runs")
    parser.add_argument("--env", default="dev", help="settings environment for Spark (default dev)")
    parser.add_argument("--work-dir", type=Path, help="scratch folder (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway server, data and logs")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--from-json", type=Path, metavar="PATH", help="print the tables of a saved run and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser


def _holds_rows(url: str, tables: Sequence[str], schema: str | None = None) -> list[str]:
    filled = []
    with psycopg.connect(url) as conn:
        for table in tables:
            ident = sql.Identifier(schema, table) if schema else sql.Identifier(table)
            exists = conn.execute("SELECT to_regclass(%s)", (".".join(filter(None, (schema, table))),)).fetchone()[0]
            if exists and conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(ident)).fetchone()[0]:
                filled.append(table)
    return filled


def _runs_from_json(value: Any) -> Any:
    """A saved report with its runs as ``Run`` objects again (for ``--from-json``)."""
    if isinstance(value, dict):
        if {"engine", "label", "seconds", "ok"} <= value.keys():
            return Run(**{k: v for k, v in value.items() if k in Run.__dataclass_fields__})
        return {k: _runs_from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_runs_from_json(v) for v in value]
    return value


def print_saved(path: Path) -> int:
    """Print the tables of a saved run again (after a change to the report, without measuring again)."""
    report = _runs_from_json(json.loads(path.read_text(encoding="utf-8")))
    scale = Scale(**{**report["scale"], "extra_windows": tuple(report["scale"]["extra_windows"])})
    ctx = SimpleNamespace(scale=scale, engines=report["engines"], repeat=report.get("repeat", scale.repeat))
    text, _ = summarise(ctx, report)
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    if args.from_json:
        return print_saved(args.from_json)
    scale = SCALES[args.scale]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown or not engines:
        print(f"error: unknown engine(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(ENGINES)}",
              file=sys.stderr)
        return 2
    if bool(args.source_url) != bool(args.warehouse_url):
        print("error: give both --source-url and --warehouse-url, or neither (throwaway server)", file=sys.stderr)
        return 2
    skipped: dict[str, str] = {}
    if "spark" in engines:
        reason = _spark_unavailable()
        if reason:
            skipped["spark"] = reason
            engines.remove("spark")
    engines = [e for e in ENGINES if e in engines]  # reference first: the others are ratios to it

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="mcq-bench-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    server = None
    wrote_user_databases = False  # set once the given databases are written: only then are they cleaned
    began = time.perf_counter()
    try:
        if args.source_url:
            source_url, warehouse_url, admin_url = args.source_url, args.warehouse_url, args.source_url
            filled = _holds_rows(source_url, SOURCE_TABLES) + [
                f"analytics.{t}" for t in _holds_rows(warehouse_url, WAREHOUSE_TABLES[:4], "analytics")]
            if filled and not args.reset:
                print(f"error: {', '.join(filled)} hold rows; the benchmark truncates them: pass --reset to allow it",
                      file=sys.stderr)
                return 2
            wrote_user_databases = True
        else:
            from mcq_analytics.embedded_pg import EmbeddedPostgres

            say(f"starting a throwaway PostgreSQL in {work_dir}")
            server = EmbeddedPostgres(work_dir / "pgdata", ephemeral=not args.keep).start()
            source_url = server.create_database("mcq_bench_source")
            warehouse_url = server.create_database("mcq_bench_warehouse")
            admin_url = server.url("postgres")
        ctx = Context(scale=scale, engines=engines, work_dir=work_dir, source_url=source_url,
                      warehouse_url=warehouse_url, admin_url=admin_url, env_name=args.env,
                      repeat=args.repeat or scale.repeat,
                      spark_backfill_windows=scale.spark_backfill_windows if args.spark_backfill_windows is None
                      else args.spark_backfill_windows, say=say)
        report = {"scale": asdict(scale), "engines": engines, "skipped": skipped, "repeat": ctx.repeat,
                  "machine": machine_info(source_url), "started_at": datetime.now(UTC)}
        path = args.json or RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{scale.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            run_benchmark(ctx, report)
            text, targets = summarise(ctx, report)
        except Exception:
            report["error"] = traceback.format_exc()
            report["elapsed_seconds"] = time.perf_counter() - began
            path.write_text(json.dumps(_jsonable(report), indent=2) + "\n", encoding="utf-8")
            say(f"{report['error']}the benchmark failed; what it measured is in {path}")
            return 1
        report["targets"] = targets
        report["elapsed_seconds"] = time.perf_counter() - began
        print(text)
        path.write_text(json.dumps(_jsonable(report), indent=2) + "\n", encoding="utf-8")
        say(f"results written to {path} ({report['elapsed_seconds']:.0f} s in all)")
        failed = [f"{r.engine} {r.label}" for r in _all_runs(report) if not r.ok]
        if failed:
            say("FAILED runs: " + "; ".join(failed) + f" (logs in {work_dir}, kept)")
            args.keep = True
            return 1
        if args.check and not all(t["met"] for t in targets.values()):
            return 1
        return 0
    finally:
        if wrote_user_databases and not args.keep:
            _clean_user_databases(args.source_url, args.warehouse_url)
        if server is not None and not args.keep:
            server.stop()
        if not args.keep and args.work_dir is None:
            shutil.rmtree(work_dir, ignore_errors=True)
        elif args.keep and server is not None:
            say(f"kept: server on port {server.port} ({server.url('mcq_bench_source')}), logs in {work_dir}")


def _all_runs(report: dict[str, Any]) -> list[Run]:
    runs: list[Run] = []

    def walk(value: Any) -> None:
        if isinstance(value, Run):
            runs.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(report.get("phases", {}))
    return runs


def _clean_user_databases(source_url: str, warehouse_url: str) -> None:
    """Leave the user's databases as empty as the benchmark needed them: no generated rows, no scratch schemas."""
    try:
        with psycopg.connect(source_url, autocommit=True) as conn:
            for schema in (STAGE_SCHEMA, REFERENCE_SCHEMA):
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(map(sql.Identifier, SOURCE_TABLES))))
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute(sql.SQL("TRUNCATE {}").format(
                sql.SQL(", ").join(sql.Identifier("analytics", t) for t in WAREHOUSE_TABLES)))
    except psycopg.Error as exc:
        print(f"warning: could not clean up the given databases: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

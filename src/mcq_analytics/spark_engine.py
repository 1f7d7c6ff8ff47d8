"""The Spark engine, submitting side: ``spark-submit`` commands, Spark conf per environment, the JDBC jar,
the ``auto`` engine choice, and ``run_spark_window`` (one job per window, like ``run_pandas_window``).

The job itself is ``include/spark_jobs/build_fact.py`` (driver: scope, JDBC reads, staging, swap) with the
fact definitions in ``include/spark_jobs/spark_facts.py``; docs/spark.md explains the whole flow. This
module never imports pyspark, so the CLI, the DAGs and the Pandas engine do not pay for it; the helpers the
driver shares (JDBC URLs, scope predicates) live here so they are tested without starting Spark.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from mcq_analytics import metadata
from mcq_analytics.config import ConfigError, Settings
from mcq_analytics.paths import PROJECT_ROOT, SPARK_JOBS_DIR, read_sql
from mcq_analytics.pipeline import PIPELINES, PipelineResult, new_run_id
from mcq_analytics.redaction import redact, url_secrets
from mcq_analytics.windows import Window

log = logging.getLogger(__name__)

APPLICATION = SPARK_JOBS_DIR / "build_fact.py"
FACTS_MODULE = SPARK_JOBS_DIR / "spark_facts.py"
#: Used when no jar is configured or found: Spark downloads the driver from Maven Central (needs network).
JDBC_PACKAGE = "org.postgresql:postgresql:42.7.4"
#: Where the PostgreSQL JDBC driver is commonly installed (Debian/Ubuntu package, RPM, Spark images).
JDBC_JAR_CANDIDATES = (
    "/usr/share/java/postgresql.jar",
    "/usr/share/java/postgresql-jdbc4.jar",
    "/usr/share/java/postgresql-jdbc.jar",
    "/usr/local/share/java/postgresql.jar",
    "/opt/spark/jars/postgresql-*.jar",
    "/opt/bitnami/spark/jars/postgresql-*.jar",
    "/usr/lib/spark/jars/postgresql-*.jar",
)
JDBC_DRIVER_CLASS = "org.postgresql.Driver"
#: Process-environment variable with extra Spark conf, ``key=value`` pairs separated by ``;`` (wins last).
EXTRA_CONF_ENV = "MCQ_SPARK_CONF"
#: Process-environment variable: seconds after which a job is killed (unset: no limit).
TIMEOUT_ENV = "MCQ_SPARK_TIMEOUT_SECONDS"
#: Below this many affected answer rows a local job runs its JVM with the C1 JIT only: on 2 busy cores it
#: started in ~11 s instead of ~20 s and was no slower up to 1.2M answer rows (docs/spark.md).
QUICK_START_ROWS = 2_000_000
#: Job logs kept in ``<state dir>/spark`` (the newest; older ones are deleted after each run).
KEEP_LOGS = 50
AUTO_COUNT_SQL = "SELECT count(*) FROM answers WHERE session_id IN (\n{affected}\n)"

ProgressFn = Callable[[PipelineResult], None]


class SparkEngineError(RuntimeError):
    """The Spark job could not be prepared or started; the message is one line meant for the user."""


# -- JDBC -------------------------------------------------------------------------------------------
def find_jdbc_jar(configured: str | None = None, candidates: Iterable[str] = JDBC_JAR_CANDIDATES) -> str | None:
    """The PostgreSQL JDBC jar to ship with ``--jars``: ``MCQ_JDBC_JAR`` if set, else the first common
    install location that exists (also ``$SPARK_HOME/jars``), else ``None`` (use ``JDBC_PACKAGE``).

    A configured URI (``local://``, ``hdfs://``, ``s3a://`` … for images and clusters) is taken as is; a
    configured local path that does not exist is an error, never silently replaced.
    """
    if configured:
        if "://" in configured or Path(configured).is_file():
            return configured
        raise ConfigError(f"MCQ_JDBC_JAR={configured!r} does not exist")
    patterns = list(candidates)
    if os.environ.get("SPARK_HOME"):
        patterns.append(os.path.join(os.environ["SPARK_HOME"], "jars", "postgresql-*.jar"))
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return found[-1]
    return None


def jdbc_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL or DSN as a JDBC URL plus connection properties (user, password, TLS settings).

    The password goes into the properties (which Spark redacts from its UI and logs), never into the URL.
    JDBC cannot use Unix sockets: a socket-only URL is an error.
    """
    params = conninfo_to_dict(url)
    host = (params.get("host") or os.environ.get("PGHOST") or "localhost").split(",")[0]
    if host.startswith("/"):
        raise ConfigError("the Spark engine connects over JDBC and needs a TCP host, not a Unix socket")
    port = (str(params.get("port") or os.environ.get("PGPORT") or "5432")).split(",")[0]
    user = params.get("user") or os.environ.get("PGUSER") or os.environ.get("USER") or "postgres"
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or user
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    props = {"user": user, "driver": JDBC_DRIVER_CLASS}
    password = params.get("password") or os.environ.get("PGPASSWORD")
    if password:
        props["password"] = password
    renames = {"sslmode": "sslmode", "sslrootcert": "sslrootcert", "sslcert": "sslcert", "sslkey": "sslkey",
               "application_name": "ApplicationName", "connect_timeout": "connectTimeout",
               "target_session_attrs": "targetServerType"}
    for key, jdbc_key in renames.items():
        if params.get(key):
            props[jdbc_key] = str(params[key])
    return f"jdbc:postgresql://{host}:{port}/{dbname}", props


def scope_predicates(ids: Sequence[int], partitions: int, column: str = "session_id",
                     min_run: int = 16) -> list[str]:
    """One JDBC read partition per predicate, splitting the sorted scope ids into equal-count chunks.

    Each predicate restricts to exactly its chunk: runs of at least ``min_run`` consecutive ids become
    ``BETWEEN`` ranges (a full-history window is a handful of ranges), the rest one ``= ANY(array)``; both
    are index scans. Unlike ``partitionColumn``/``lowerBound``/``upperBound`` strides, partitions stay
    balanced when the scope is a dense block of new sessions plus a few old ids (late answers, regrades).
    An empty scope gives one predicate that matches nothing (an empty frame with the right schema).
    """
    ordered = sorted(set(int(i) for i in ids))
    if not ordered:
        return ["false"]
    partitions = max(1, min(partitions, len(ordered)))
    size = math.ceil(len(ordered) / partitions)
    predicates = []
    for start in range(0, len(ordered), size):
        chunk = ordered[start:start + size]
        ranges: list[str] = []
        singles: list[int] = []
        run_start = 0
        for i in range(1, len(chunk) + 1):
            if i == len(chunk) or chunk[i] != chunk[i - 1] + 1:
                run = chunk[run_start:i]
                if len(run) >= min_run:
                    ranges.append(f"{column} BETWEEN {run[0]} AND {run[-1]}")
                else:
                    singles.extend(run)
                run_start = i
        if singles:
            ranges.append(f"{column} = ANY('{{{','.join(map(str, singles))}}}'::bigint[])")
        predicates.append("(" + " OR ".join(ranges) + ")")
    return predicates


def read_partitions(scope_sessions: int, sessions_per_partition: int = 20_000, max_partitions: int = 32) -> int:
    """JDBC read partitions for a scope: about ``sessions_per_partition`` sessions (~200k answers) each."""
    return max(1, min(max_partitions, math.ceil(scope_sessions / max(1, sessions_per_partition))))


def shuffle_partitions(rows: int | None, rows_per_partition: int = 200_000, maximum: int = 1000) -> int:
    """``spark.sql.shuffle.partitions`` for about ``rows`` input rows (AQE coalesces further)."""
    if rows is None:
        return 8
    return max(2, min(maximum, math.ceil(rows / max(1, rows_per_partition))))


# -- Spark conf and the submit command ------------------------------------------------------------
def is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[") or master.startswith("local-cluster")


def parse_extra_conf(text: str | None) -> dict[str, str]:
    """``MCQ_SPARK_CONF``: ``key=value`` pairs separated by ``;`` or newlines."""
    conf: dict[str, str] = {}
    for item in re.split(r"[;\n]", text or ""):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"{EXTRA_CONF_ENV}: cannot read {item.strip()!r} (expected key=value)")
            conf[key.strip()] = value.strip()
    return conf


def spark_conf(master: str, expected_rows: int | None = None, extra: Mapping[str, str] | None = None,
               jdbc_jar: str | None = None) -> dict[str, str]:
    """The Spark conf of the jobs for ``master``; ``extra`` (``MCQ_SPARK_CONF``) overrides any key.

    Everywhere: UTC session time zone, AQE with partition coalescing and skew joins, Arrow for the driver's
    small frames, shuffle partitions sized for the window (the job re-sizes them from the rows it read; set
    ``spark.mcq.rowsPerShufflePartition=0`` to keep a fixed value). Where executors come and go (standalone
    ``spark://``, YARN, Kubernetes): dynamic allocation with shuffle tracking (no external shuffle service).
    Locally: no UI (faster start, no port clashes between concurrent jobs) and, for windows known to be
    small, JVM options for a quick start.
    """
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.adaptive.skewJoin.enabled": "true",
        "spark.sql.shuffle.partitions": str(shuffle_partitions(expected_rows)),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.mcq.rowsPerShufflePartition": "200000",
        "spark.mcq.sessionsPerReadPartition": "20000",
        "spark.mcq.maxReadPartitions": "32",
        "spark.mcq.jdbcFetchSize": "10000",
        "spark.mcq.jdbcBatchSize": "10000",
        "spark.mcq.maxWriteConnections": "8",
    }
    if jdbc_jar is None:
        conf["spark.jars.packages"] = JDBC_PACKAGE
    if is_local(master):
        conf["spark.ui.enabled"] = "false"
        if expected_rows is not None and expected_rows < QUICK_START_ROWS:
            conf["spark.driver.extraJavaOptions"] = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    else:
        conf.update({
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.shuffleTracking.enabled": "true",
            "spark.dynamicAllocation.minExecutors": "0",
            "spark.dynamicAllocation.maxExecutors": "8",
            "spark.dynamicAllocation.executorIdleTimeout": "30s",
        })
    conf.update(extra or {})
    return conf


def package_zip(directory: Path) -> Path:
    """A zip of the ``mcq_analytics`` package for ``--py-files``, named by its content (rebuilt on change)."""
    package = Path(__file__).resolve().parent
    files = sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"mcq_analytics-{digest.hexdigest()[:12]}.zip"
    if not target.exists():
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, Path("mcq_analytics") / path.relative_to(package))
        partial.replace(target)
    return target


def spark_submit_path() -> str:
    """``$SPARK_HOME/bin/spark-submit``, else the one next to this Python (the venv), else on ``PATH``,
    else the one inside the pyspark package."""
    candidates = []
    if os.environ.get("SPARK_HOME"):
        candidates.append(Path(os.environ["SPARK_HOME"]) / "bin" / "spark-submit")
    candidates.append(Path(sys.executable).parent / "spark-submit")
    on_path = shutil.which("spark-submit")
    if on_path:
        candidates.append(Path(on_path))
    try:
        import importlib.util

        spec = importlib.util.find_spec("pyspark")
        if spec and spec.origin:
            candidates.append(Path(spec.origin).parent / "bin" / "spark-submit")
    except ImportError:  # pragma: no cover - pyspark is a pinned dependency
        pass
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise SparkEngineError("spark-submit not found: install pyspark (requirements.txt) or set SPARK_HOME")


@dataclass
class SparkJob:
    """One ``spark-submit`` of ``build_fact.py``: everything a subprocess or ``SparkSubmitOperator`` needs."""

    master: str
    application_args: list[str]
    conf: dict[str, str]
    jars: list[str] = field(default_factory=list)
    py_files: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # secrets (URLs) travel here, never in argv
    application: str = str(APPLICATION)
    name: str = "mcq-analytics"

    def argv(self, spark_submit: str | None = None) -> list[str]:
        cmd = [spark_submit or spark_submit_path(), "--master", self.master, "--deploy-mode", "client",
               "--name", self.name]
        for key, value in self.conf.items():
            cmd += ["--conf", f"{key}={value}"]
        if self.jars:
            cmd += ["--jars", ",".join(self.jars)]
        if self.py_files:
            cmd += ["--py-files", ",".join(self.py_files)]
        return [*cmd, self.application, *self.application_args]

    def operator_kwargs(self) -> dict[str, object]:
        """Keyword arguments for Airflow's ``SparkSubmitOperator`` (its connection supplies the master)."""
        return {"application": self.application, "application_args": self.application_args, "conf": self.conf,
                "jars": ",".join(self.jars) or None, "py_files": ",".join(self.py_files) or None,
                "env_vars": self.env, "name": self.name, "deploy_mode": "client"}


def job_env(source_url: str, warehouse_url: str, python: str | None = None) -> dict[str, str]:
    """Environment of a job: the URLs (never on the command line), the project root for the SQL files, and
    the driver's Python (the one with psycopg and the package)."""
    python = python or sys.executable
    return {
        "MCQ_SOURCE_URL": source_url,
        "MCQ_WAREHOUSE_URL": warehouse_url,
        "MCQ_HOME": str(PROJECT_ROOT),
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON") or python,
        "PYSPARK_DRIVER_PYTHON": os.environ.get("PYSPARK_DRIVER_PYTHON") or python,
    }


def build_job(master: str, source_url: str, warehouse_url: str, window: Window, pipelines: Sequence[str],
              run_ids: Mapping[str, str], *, jdbc_jar: str | None = None, expected_rows: int | None = None,
              work_dir: Path | None = None, manage_metadata: bool = False, result_file: Path | None = None,
              triggered_by: str | None = None, extra_conf: Mapping[str, str] | None = None) -> SparkJob:
    """The ``spark-submit`` of one window for ``pipelines`` (one Spark application builds them all)."""
    jar = find_jdbc_jar(jdbc_jar)
    work_dir = work_dir or Path(tempfile.gettempdir()) / "mcq-spark"
    extra = dict(parse_extra_conf(os.environ.get(EXTRA_CONF_ENV)))
    extra.update(extra_conf or {})
    args = ["--window-start", window.start.isoformat(), "--window-end", window.end.isoformat()]
    for pipeline in pipelines:
        args += ["--pipeline", pipeline]
    for pipeline in pipelines:
        args += ["--run-id", f"{pipeline}={run_ids[pipeline]}"]
    if manage_metadata:
        args.append("--manage-metadata")
    if result_file:
        args += ["--result-file", str(result_file)]
    if triggered_by:
        args += ["--triggered-by", triggered_by]
    name = "mcq-" + ("all" if len(pipelines) > 1 else pipelines[0]) + f"-{window.start:%Y%m%dT%H%M}"
    return SparkJob(
        master=master,
        application_args=args,
        conf=spark_conf(master, expected_rows, extra, jdbc_jar=jar),
        jars=[jar] if jar else [],
        py_files=[str(package_zip(work_dir)), str(FACTS_MODULE)],
        env=job_env(source_url, warehouse_url),
        name=name,
    )


# -- the auto engine -------------------------------------------------------------------------------
def affected_answer_rows(source_url: str, window: Window) -> int:
    """Answer rows of the window's affected sessions: index range scans plus one index lookup per session."""
    query = AUTO_COUNT_SQL.format(affected=read_sql("extract/affected_sessions.sql").strip())
    with psycopg.connect(source_url) as conn:
        return int(conn.execute(query, {"window_start": window.start, "window_end": window.end}).fetchone()[0])


def choose_engine(settings: Settings, source_url: str, window: Window) -> tuple[str, int | None]:
    """``spark`` when the window's affected answer rows reach ``MCQ_AUTO_ENGINE_THRESHOLD_ROWS``, else
    ``pandas`` (whose start-up is ~0 s against Spark's ~13 s). If the count itself fails, ``pandas`` runs and
    records the failure in the usual way."""
    try:
        rows = affected_answer_rows(source_url, window)
    except psycopg.Error as exc:
        log.warning("auto engine: counting %s failed (%s); using pandas", window, exc)
        return "pandas", None
    engine = "spark" if rows >= settings.auto_engine_threshold else "pandas"
    log.info("auto engine: %s has %d affected answer rows (threshold %d): %s", window, rows,
             settings.auto_engine_threshold, engine)
    return engine, rows


# -- running a window --------------------------------------------------------------------------------
def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    interesting = [line for line in text if "Traceback" in line or "Error" in line or "error" in line]
    return "\n".join((interesting or text)[-lines:])


def _run_subprocess(argv: list[str], env: dict[str, str], log_path: Path, timeout: float | None) -> int:
    """Run spark-submit in its own process group (so a timeout or an interrupt kills driver and JVM)."""
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=str(log_path.parent))
        try:
            return proc.wait(timeout=timeout)
        except BaseException:  # timeout, KeyboardInterrupt, task kill: take the whole job down
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            raise


def prune_logs(work_dir: Path, keep: int = KEEP_LOGS) -> None:
    """Keep the newest ``keep`` job logs of ``work_dir`` (one per window run)."""
    logs = sorted(work_dir.glob("job-*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in logs[keep:]:
        with suppress(OSError):
            old.unlink()


def run_spark_window(settings: Settings, source_url: str, warehouse_url: str, window: Window,
                     pipelines: Sequence[str] = PIPELINES, triggered_by: str = "cli",
                     run_ids: dict[str, str] | None = None, progress: ProgressFn | None = None,
                     expected_rows: int | None = None) -> list[PipelineResult]:
    """Build ``pipelines`` for ``window`` with one ``spark-submit``; the same bookkeeping as the Pandas engine.

    Every pipeline is recorded ``running`` first; the job writes each pipeline's counts into its run-log
    row inside the swap transaction and reports per-pipeline results in a JSON file; a job that dies
    without reporting leaves every unreported pipeline ``failed`` with the tail of its log.
    """
    run_ids = run_ids or {p: new_run_id(p, window) for p in pipelines}
    for pipeline in pipelines:
        metadata.begin_run(warehouse_url, pipeline, window, "spark", run_ids[pipeline], triggered_by)
    if expected_rows is None and is_local(settings.spark_master):
        with suppress(psycopg.Error):  # only sizes the JVM; the job reports a source that is down
            expected_rows = affected_answer_rows(source_url, window)
    work_dir = settings.state_dir / "spark"
    reported: dict[str, dict] = {}
    error: str | None = None
    t0 = time.perf_counter()
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        tag = f"{window.start:%Y%m%dT%H%M}-{hashlib.sha1(run_ids[pipelines[0]].encode()).hexdigest()[:8]}"
        result_file = work_dir / f"result-{tag}.json"
        log_path = work_dir / f"job-{tag}.log"
        job = build_job(settings.spark_master, source_url, warehouse_url, window, pipelines, run_ids,
                        jdbc_jar=settings.jdbc_jar, expected_rows=expected_rows, work_dir=work_dir,
                        result_file=result_file, triggered_by=triggered_by)
        env = {**os.environ, **job.env}
        timeout = float(os.environ[TIMEOUT_ENV]) if os.environ.get(TIMEOUT_ENV) else None
        log.info("spark-submit %s %s (log %s)", ",".join(pipelines), window, log_path)
        try:
            code = _run_subprocess(job.argv(), env, log_path, timeout)
        except subprocess.TimeoutExpired:
            code = None
            error = f"spark job killed after {timeout:.0f}s ({TIMEOUT_ENV}); log: {log_path}"
        if result_file.exists():
            reported = {r["pipeline"]: r for r in json.loads(result_file.read_text(encoding="utf-8"))}
            result_file.unlink()
        if error is None and (code != 0 or len(reported) < len(pipelines)):
            how = f"exit code {code}" if code is None or code >= 0 else f"killed by signal {-code}"
            error = f"spark job failed ({how}); log: {log_path}\n{_tail(log_path)}"
    except Exception as exc:
        error = f"spark job could not run: {type(exc).__name__}: {exc}"
        log.error("%s", error)
    seconds = time.perf_counter() - t0
    with suppress(OSError):
        prune_logs(work_dir)
    results = []
    for pipeline in pipelines:
        got = reported.get(pipeline)
        result = PipelineResult(pipeline, window, run_ids[pipeline], "failed", "spark", seconds=seconds)
        if got:
            result.status = got["status"]
            result.error = got.get("error")
            result.rows_read = got.get("rows_read") or 0
            result.rows_written = got.get("rows_written") or 0
            result.rows_rejected = got.get("rows_rejected") or 0
        else:
            result.error = error or "spark job reported no result"
        if result.status != "success" and not result.error:
            result.error = "spark job failed"
        if result.error:  # the job's log tail could quote anything: no password leaves this function
            result.error = redact(result.error, url_secrets(source_url, warehouse_url))
        counts = got or {}
        result.outcome = metadata.finish_run(
            warehouse_url, pipeline, window, run_ids[pipeline],
            error=result.error if result.status != "success" else None,
            rows_read=counts.get("rows_read"), rows_written=counts.get("rows_written"),
            rows_rejected=counts.get("rows_rejected"), engine="spark",
        )
        if result.status != "success":
            log.error("%s %s failed: %s", pipeline, window, result.error)
        results.append(result)
        if progress:
            progress(result)
    return results

"""How a Spark job is assembled and checked before it is submitted — ONE way, for ``run_etl.py``
(``spark.run.run_spark_window``) and the Airflow operator (``submit_settings``) alike: the Spark conf per
environment, the PostgreSQL JDBC driver, the package zip for ``--py-files`` (code and SQL), the environment
that carries the database URLs (never the command line), and the checks that turn a missing driver, Java or
spark-submit, or an unreachable master, into one readable line before anything starts.

Never imports pyspark (docs/spark.md).
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mcq_analytics.config import ConfigError
from mcq_analytics.paths import BUNDLED_SQL, SPARK_JOBS_DIR, SQL_DIR
from mcq_analytics.windows import Window

#: The file spark-submit runs (a thin entry into ``mcq_analytics.spark.job``).
APPLICATION = SPARK_JOBS_DIR / "build_fact.py"
#: The package directory zipped for ``--py-files``.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
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
#: Settings (environment variables) of the JDBC driver: a jar (path or URI); the places searched for one
#: when it is unset (``os.pathsep``-separated globs, default ``JDBC_JAR_CANDIDATES`` and
#: ``$SPARK_HOME/jars``); Maven coordinates for Spark to download (needs network; used only when set).
JDBC_JAR_ENV = "MCQ_JDBC_JAR"
JDBC_SEARCH_ENV = "MCQ_JDBC_SEARCH_PATH"
JDBC_PACKAGE_ENV = "MCQ_JDBC_PACKAGE"
NO_JDBC_DRIVER = "no PostgreSQL JDBC driver: install libpostgresql-jdbc-java or set MCQ_JDBC_JAR"
#: Process-environment variable with extra Spark conf, ``key=value`` pairs separated by ``;`` (wins last).
EXTRA_CONF_ENV = "MCQ_SPARK_CONF"
#: Below this many affected answer rows a local job runs its JVM with the C1 JIT only: on 2 busy cores it
#: started in ~11 s instead of ~20 s and was no slower up to 1.2M answer rows (docs/spark.md).
QUICK_START_ROWS = 2_000_000
#: Seconds a TCP connect to a ``spark://`` master may take before it counts as unreachable.
MASTER_PROBE_SECONDS = 5.0
SPARK_MASTER_PORT = 7077


class SparkEngineError(RuntimeError):
    """The Spark job could not be prepared or started; the message is one line meant for the user."""


class SparkUnavailable(SparkEngineError):
    """Something the job needs is missing or unreachable (driver, Java, spark-submit, master): found before
    submitting, reported in one line instead of a JVM's stack trace minutes later."""


# -- the JDBC driver ---------------------------------------------------------------------------------
def jdbc_search_path() -> list[str]:
    """Where to look for the driver jar: ``MCQ_JDBC_SEARCH_PATH`` if set, else the common install locations
    and ``$SPARK_HOME/jars``."""
    if os.environ.get(JDBC_SEARCH_ENV) is not None:
        return [p for p in os.environ[JDBC_SEARCH_ENV].split(os.pathsep) if p]
    patterns = list(JDBC_JAR_CANDIDATES)
    if os.environ.get("SPARK_HOME"):
        patterns.append(os.path.join(os.environ["SPARK_HOME"], "jars", "postgresql-*.jar"))
    return patterns


def find_jdbc_jar(configured: str | None = None, candidates: Iterable[str] | None = None) -> str | None:
    """The PostgreSQL JDBC jar to ship with ``--jars``: ``MCQ_JDBC_JAR`` if set, else the first jar found in
    ``candidates`` (default ``jdbc_search_path()``), else ``None``.

    A configured URI (``local://``, ``hdfs://``, ``s3a://`` … for images and clusters) is taken as is; a
    configured local path that does not exist is an error, never silently replaced.
    """
    if configured:
        if "://" in configured or Path(configured).is_file():
            return configured
        raise ConfigError(f"{JDBC_JAR_ENV}={configured!r} does not exist")
    for pattern in jdbc_search_path() if candidates is None else candidates:
        found = sorted(glob.glob(pattern))
        if found:
            return found[-1]
    return None


@dataclass(frozen=True)
class JdbcDriver:
    """How the job gets the driver: a jar for ``--jars``, or (opted in) Maven coordinates to download."""

    jar: str | None = None
    package: str | None = None


def jdbc_driver(configured_jar: str | None = None, package: str | None = None) -> JdbcDriver:
    """The driver a job ships, found before submitting: a jar (``find_jdbc_jar``), else the Maven package
    the user opted into (``MCQ_JDBC_PACKAGE``), else ``SparkUnavailable(NO_JDBC_DRIVER)`` — never Spark's
    own download attempt, which on a machine without network fails minutes later in a Java stack trace."""
    jar = find_jdbc_jar(configured_jar)
    if jar:
        return JdbcDriver(jar=jar)
    package = package or os.environ.get(JDBC_PACKAGE_ENV)
    if package:
        return JdbcDriver(package=package)
    raise SparkUnavailable(NO_JDBC_DRIVER)


# -- the master, Java, spark-submit ------------------------------------------------------------------
def master_addresses(master: str) -> list[tuple[str, int]]:
    """The (host, port) of each master of a standalone ``spark://`` URL (several with ZooKeeper HA);
    empty for other masters (local needs no network; YARN and Kubernetes clients report their own)."""
    if not master.startswith("spark://"):
        return []
    addresses = []
    for part in master[len("spark://"):].split(","):
        split = urlsplit("//" + part.strip().rstrip("/"))
        try:
            port = split.port or SPARK_MASTER_PORT
        except ValueError as exc:
            raise ConfigError(f"cannot read the Spark master URL {master!r}: {exc}") from None
        if not split.hostname:
            raise ConfigError(f"cannot read the Spark master URL {master!r}: no host")
        addresses.append((split.hostname, port))
    return addresses


def _connect_failure(exc: OSError, host: str, timeout: float) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g}s"
    if isinstance(exc, socket.gaierror):
        return f"unknown host {host}"
    return (exc.strerror or str(exc)).lower()


def check_master(master: str, timeout: float = MASTER_PROBE_SECONDS) -> None:
    """A TCP connect to a ``spark://`` master (any of its HA masters will do), so an unreachable one is named
    in a second or ``timeout``, not after spark-submit's minute of retries."""
    failures = []
    for host, port in master_addresses(master):
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            return
        except OSError as exc:
            failures.append(_connect_failure(exc, host, timeout))
    if failures:
        raise SparkUnavailable(f"Spark master {master} is unreachable: {failures[0]}")


def check_java() -> None:
    """spark-submit needs a Java runtime (``JAVA_HOME`` or ``java`` on ``PATH``)."""
    if not os.environ.get("JAVA_HOME") and not shutil.which("java"):
        raise SparkUnavailable("no Java runtime: install a Java 17 runtime (e.g. openjdk-17-jre-headless) or "
                               "set JAVA_HOME")


# -- Spark conf ---------------------------------------------------------------------------------------
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
               jdbc_package: str | None = None) -> dict[str, str]:
    """The Spark conf of the jobs for ``master``; ``extra`` (``MCQ_SPARK_CONF``) overrides any key.

    Everywhere: UTC session time zone, AQE with partition coalescing and skew joins, Arrow for the driver's
    small frames, shuffle partitions sized for the window (the job re-sizes them from the rows it read; set
    ``spark.mcq.rowsPerShufflePartition=0`` to keep a fixed value). Where executors come and go (standalone
    ``spark://``, YARN, Kubernetes): dynamic allocation with shuffle tracking (no external shuffle service).
    Locally: no UI (faster start, no port clashes between concurrent jobs) and, for windows known to be
    small, JVM options for a quick start. ``jdbc_package``: Maven coordinates of the JDBC driver for Spark to
    download (only when the user opted in with ``MCQ_JDBC_PACKAGE``; normally the jar goes with ``--jars``).
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
    if jdbc_package:
        conf["spark.jars.packages"] = jdbc_package
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
    spec = importlib.util.find_spec("pyspark")
    if spec and spec.origin:
        candidates.append(Path(spec.origin).parent / "bin" / "spark-submit")
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise SparkUnavailable("spark-submit not found: install pyspark (requirements.txt) or set SPARK_HOME")


def preflight(master: str, jdbc_jar: str | None = None, *, probe_master: bool = True) -> JdbcDriver:
    """Everything a job needs before it is submitted — the JDBC driver, Java, spark-submit, a reachable
    master — or ``SparkUnavailable`` with one line naming what is missing. Returns the driver to ship."""
    driver = jdbc_driver(jdbc_jar)
    check_java()
    spark_submit_path()
    if probe_master:
        check_master(master)
    return driver


# -- the package, the environment, the whole submit ----------------------------------------------------
def package_zip(directory: Path) -> Path:
    """A zip of the ``mcq_analytics`` package for ``--py-files``, with ``include/sql`` as ``mcq_analytics/sql``
    (``paths.read_sql`` reads that copy inside a job), named by its content (rebuilt on change)."""
    entries = [(p, Path("mcq_analytics") / p.relative_to(PACKAGE_DIR))
               for p in sorted(PACKAGE_DIR.rglob("*.py")) if "__pycache__" not in p.parts]
    entries += [(p, Path("mcq_analytics") / BUNDLED_SQL / p.relative_to(SQL_DIR))
                for p in sorted(SQL_DIR.rglob("*.sql"))]
    digest = hashlib.sha256()
    for path, name in entries:
        digest.update(str(name).encode())
        digest.update(path.read_bytes())
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"mcq_analytics-{digest.hexdigest()[:12]}.zip"
    if not target.exists():
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for path, name in entries:
                zf.write(path, name)
        partial.replace(target)
    return target


def job_env(source_url: str, warehouse_url: str, python: str | None = None,
            base: Mapping[str, object] | None = None) -> dict[str, str]:
    """Environment of a job (over ``base``): the URLs (never on the command line, where process lists and
    logs show them) and the driver's Python (the one with psycopg and the dependencies)."""
    python = python or sys.executable
    env = {k: str(v) for k, v in (base or {}).items()}
    env.update({"MCQ_SOURCE_URL": source_url, "MCQ_WAREHOUSE_URL": warehouse_url})
    env.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON") or python)
    env.setdefault("PYSPARK_DRIVER_PYTHON", os.environ.get("PYSPARK_DRIVER_PYTHON") or python)
    return env


def default_work_dir() -> Path:
    return Path(tempfile.gettempdir()) / "mcq-spark"


def submit_settings(master: str, source_url: str, warehouse_url: str, *, conf: Mapping[str, object] | None = None,
                    jars: str | None = None, env: Mapping[str, object] | None = None,
                    expected_rows: int | None = None, work_dir: Path | None = None, python: str | None = None,
                    probe_master: bool = True) -> dict[str, object]:
    """Everything of a submit but the application and its arguments, checked (``preflight``), as the keyword
    arguments of Airflow's ``SparkSubmitOperator``: ``conf`` (``spark_conf`` with ``MCQ_SPARK_CONF`` over it,
    the caller's ``conf`` over both), ``jars`` (the caller's, else the JDBC driver found), ``py_files`` (the
    package zip), ``env_vars`` (``job_env`` over the caller's ``env``). Raises ``SparkUnavailable``."""
    driver = preflight(master, jars, probe_master=probe_master)
    extra = parse_extra_conf(os.environ.get(EXTRA_CONF_ENV))
    merged = {**spark_conf(master, expected_rows, extra, jdbc_package=driver.package),
              **{k: str(v) for k, v in (conf or {}).items()}}
    return {"conf": merged, "jars": driver.jar, "py_files": str(package_zip(work_dir or default_work_dir())),
            "env_vars": job_env(source_url, warehouse_url, python, env)}


@dataclass
class SparkJob:
    """One ``spark-submit`` of ``build_fact.py``: everything a subprocess needs."""

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


def job_arguments(window: Window, pipelines: Sequence[str], run_ids: Mapping[str, str], *,
                  manage_metadata: bool = False, result_file: Path | None = None,
                  triggered_by: str | None = None, lock_timeout_seconds: int | None = None) -> list[str]:
    """The application arguments of ``build_fact.py`` (``mcq_analytics.spark.job.parse_args``); a window with a
    look-back carries its scan start (``--scan-start``)."""
    args = ["--window-start", window.start.isoformat(), "--window-end", window.end.isoformat()]
    if window.scan_start != window.start:
        args += ["--scan-start", window.scan_start.isoformat()]
    if lock_timeout_seconds is not None:
        args += ["--lock-timeout", str(int(lock_timeout_seconds))]
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
    return args


def build_job(master: str, source_url: str, warehouse_url: str, window: Window, pipelines: Sequence[str],
              run_ids: Mapping[str, str], *, jdbc_jar: str | None = None, expected_rows: int | None = None,
              work_dir: Path | None = None, manage_metadata: bool = False, result_file: Path | None = None,
              triggered_by: str | None = None, extra_conf: Mapping[str, str] | None = None,
              probe_master: bool = True, lock_timeout_seconds: int | None = None) -> SparkJob:
    """The ``spark-submit`` of one window for ``pipelines`` (one Spark application builds them all), assembled
    by ``submit_settings`` like the operator's."""
    settings = submit_settings(master, source_url, warehouse_url, conf=extra_conf, jars=jdbc_jar,
                               expected_rows=expected_rows, work_dir=work_dir, probe_master=probe_master)
    name = "mcq-" + ("all" if len(pipelines) > 1 else pipelines[0]) + f"-{window.start:%Y%m%dT%H%M}"
    args = job_arguments(window, pipelines, run_ids, manage_metadata=manage_metadata, result_file=result_file,
                         triggered_by=triggered_by, lock_timeout_seconds=lock_timeout_seconds)
    return SparkJob(master=master, application_args=args, conf=settings["conf"],
                    jars=[settings["jars"]] if settings["jars"] else [], py_files=[settings["py_files"]],
                    env=settings["env_vars"], name=name)

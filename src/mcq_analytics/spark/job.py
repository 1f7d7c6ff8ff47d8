"""The Spark engine's job: build the fact tables of one window (docs/spark.md). ``spark-submit`` runs
``include/spark_jobs/build_fact.py``, which calls ``main``; the package comes with ``--py-files``:

    MCQ_SOURCE_URL=postgresql://… MCQ_WAREHOUSE_URL=postgresql://… \\
    spark-submit --jars /usr/share/java/postgresql.jar --py-files mcq_analytics-<hash>.zip \\
        include/spark_jobs/build_fact.py --pipeline all \\
        --window-start 2024-06-01T10:00Z --window-end 2024-06-01T11:00Z [--scan-start 2024-06-01T09:00Z] \\
        [--lock-timeout 600] [--run-id ID | --run-id PIPELINE=ID ...] [--manage-metadata] [--result-file PATH]

The driver (client deploy mode: it needs psycopg; its SQL comes inside the package zip):

1. opens one REPEATABLE READ transaction on the source and exports its snapshot; computes the scope there
   with ``include/sql/extract/affected_sessions.sql`` from ``--scan-start`` (the look-back), plus
   ``bucket_sessions.sql`` for the test-level facts, and reads the small ``tests``/``questions`` extracts
   with their own SQL;
2. reads sessions, answers and submissions of the scope over JDBC in parallel, one partition per balanced
   chunk of scope ids, every partition importing the exported snapshot (``sessionInitStatement``), so all
   reads see one consistent state of the source, like the Pandas engine's single transaction;
3. computes rejects and facts with ``mcq_analytics.spark.facts`` and writes them, and the keys the window
   replaces, to UNLOGGED staging tables ``mcq_staging.r<hash of run id>_{facts,keys,rejects}`` over JDBC;
4. per pipeline, ONE warehouse transaction: ``load.swap_in`` (advisory lock, delete keys, insert staged
   rows, quarantine rejects) and the run's counts into its ``etl_run_log`` row — all or nothing;
5. drops its staging tables (and any left over by killed jobs more than a day ago).

Metadata: under ``run_etl.py`` (``engines.run_window``) and the Airflow operator the caller records
``begin_run``/``finish_run`` (``run_spark_window`` also holds the run locks and records the source
fingerprints, ``pipeline.guarded_run``); run by hand, pass ``--manage-metadata`` and the job records them
itself (with ``ensure_watermarks``, but no run lock and no fingerprints: ``reconcile`` rechecks those hours).
Exit code 0 when every pipeline succeeded, 1 when one failed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import sys
import time
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from functools import reduce
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql
from pyspark.sql import functions as F

from mcq_analytics import metadata
from mcq_analytics.facts import fact
from mcq_analytics.load import (
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    KEY_COLUMNS,
    REJECT_COLUMNS,
    STAGE_COLUMNS,
    copy_frame,
    swap_in,
)
from mcq_analytics.paths import read_extract, read_sql
from mcq_analytics.pipeline import PIPELINES, new_run_id
from mcq_analytics.redaction import redact, url_secrets
from mcq_analytics.spark import facts as spark_facts
from mcq_analytics.spark.jdbc import jdbc_target, read_partitions, scope_predicates
from mcq_analytics.spark.submit import shuffle_partitions
from mcq_analytics.windows import Window, WindowError, parse_time

log = logging.getLogger("mcq_analytics.spark_job")

STAGING_SCHEMA = "mcq_staging"
STAGING_MAX_AGE_HOURS = 24
#: How the JDBC reads fill the extract queries' scope placeholder: with nothing, as each partition restricts
#: the rows to its own chunk of the scope (``jdbc.scope_predicates``).
JDBC_SCOPE = ""
SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")
SPARK_TYPES = {"bigint": "long", "integer": "int", "smallint": "short", "boolean": "boolean",
               "double precision": "double", "text": "string",
               # exact columns (item-analysis sums of squares/products): integers, never through a double
               "numeric": "decimal(38,0)"}


@dataclass
class Outcome:
    pipeline: str
    run_id: str
    status: str = "failed"
    rows_read: int = 0
    rows_written: int = 0
    rows_rejected: int = 0
    error: str | None = None
    seconds: float = 0.0


# -- arguments ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="build_fact.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", action="append", required=True,
                        help=f"a fact table ({', '.join(PIPELINES)}) or 'all'; repeatable")
    parser.add_argument("--window-start", required=True, help="window start, ISO 8601 (UTC if no zone)")
    parser.add_argument("--window-end", required=True, help="window end (exclusive)")
    parser.add_argument("--scan-start", help="where the change scan starts (the look-back; default: the window "
                                             "start); the bookkeeping window stays [start, end)")
    parser.add_argument("--lock-timeout", type=int, default=DEFAULT_LOCK_TIMEOUT_SECONDS,
                        help="seconds a swap waits for a lock before failing (MCQ_LOCK_TIMEOUT_SECONDS)")
    parser.add_argument("--run-id", action="append", default=[],
                        help="run id (one pipeline) or PIPELINE=RUN_ID (repeatable); default: generated")
    parser.add_argument("--manage-metadata", action="store_true",
                        help="record begin_run/finish_run in etl_metadata itself (when not run by run_etl.py "
                             "or the Airflow operator, which record them around the job)")
    parser.add_argument("--triggered-by", default="spark-submit", help="etl_run_log.triggered_by (with "
                                                                         "--manage-metadata)")
    parser.add_argument("--result-file", help="write per-pipeline results as JSON here")
    return parser.parse_args(argv)


def resolve_pipelines(values: list[str]) -> list[str]:
    wanted: set[str] = set()
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name == "all":
                wanted.update(PIPELINES)
            elif name in PIPELINES:
                wanted.add(name)
            else:
                raise ValueError(f"unknown pipeline {name!r} (choose from {', '.join(PIPELINES)} or all)")
    return [p for p in PIPELINES if p in wanted]


def resolve_run_ids(values: list[str], pipelines: list[str], window: Window) -> dict[str, str]:
    run_ids: dict[str, str] = {}
    bare = [v for v in values if "=" not in v]
    for value in values:
        if "=" in value:
            pipeline, _, run_id = value.partition("=")
            if pipeline in pipelines:
                run_ids[pipeline] = run_id
    for pipeline in pipelines:
        if pipeline not in run_ids and bare:
            run_ids[pipeline] = bare[0] if len(pipelines) == 1 else f"{pipeline}__{bare[0]}"
        run_ids.setdefault(pipeline, new_run_id(pipeline, window))
    return run_ids


# -- the source side -------------------------------------------------------------------------------
def jdbc_query(name: str) -> str:
    """An extract of ``include/sql/extract`` as the subquery of a JDBC read: its scope placeholder empty
    (the partitions' predicates restrict it) and its comment lines dropped (Spark logs the query text)."""
    text = read_extract(name, JDBC_SCOPE, required=True)
    return "\n".join(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("--"))


class SourceSnapshot:
    """One REPEATABLE READ transaction on the source, exported so the JDBC readers share its snapshot."""

    def __init__(self, url: str, label: str) -> None:
        self.conn = psycopg.connect(url, application_name=label[:63])
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        self.snapshot: str | None = None
        try:
            exported = self.conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            if SNAPSHOT_ID.match(exported):
                self.snapshot = exported
        except psycopg.Error as exc:  # e.g. behind a transaction-mode pooler: reads are not synchronised
            log.warning("cannot export a snapshot (%s): JDBC partitions read without a shared snapshot", exc)
            self.conn.rollback()

    def query(self, text: str, params: dict | None = None) -> list[tuple]:
        return self.conn.execute(text, params or {}).fetchall()

    def close(self) -> None:
        with suppress(psycopg.Error):
            self.conn.rollback()
        self.conn.close()


def compute_scope(snap: SourceSnapshot, window: Window, with_buckets: bool) -> tuple[list[int], list[int]]:
    """(affected session ids, scope session ids): the Pandas engine's ``etl_affected``/``etl_scope`` as CTEs
    (no temp tables: the source may be a read-only replica). The change scan starts at ``window.scan_start``
    (the look-back), like the Pandas extract's."""
    params = {"window_start": window.scan_start, "window_end": window.end}
    affected_sql = read_sql("extract/affected_sessions.sql").strip()
    affected = sorted(r[0] for r in snap.query(affected_sql, params))
    if not with_buckets:
        return affected, affected
    scope_sql = (f"WITH etl_affected AS (\n{affected_sql}\n)\nSELECT session_id FROM etl_affected\nUNION\n"
                 + read_sql("extract/bucket_sessions.sql").strip())
    return affected, sorted(r[0] for r in snap.query(scope_sql, params))


def driver_extract(snap: SourceSnapshot, name: str, scope: list[int]) -> list[tuple]:
    """A small extract (tests, questions) read by the driver in the snapshot, with its own SQL text."""
    text = ("WITH etl_scope AS (SELECT unnest(%(scope)s::bigint[]) AS session_id)\n"
            + read_sql(f"extract/{name}.sql").strip())
    return snap.query(text, {"scope": scope})


def driver_frame(spark, rows: list[tuple], schema: str, arrow_from: int = 20_000):
    """A DataFrame of driver-side rows: plain rows when few (Arrow's first use costs ~2 s), Arrow when many."""
    if len(rows) < arrow_from:
        return spark.createDataFrame(rows, schema)
    names = [part.split()[0] for part in schema.split(",")]
    return spark.createDataFrame(pd.DataFrame.from_records(rows, columns=names), schema)


def read_sources(spark, snap: SourceSnapshot, source_url: str, affected: list[int], scope: list[int]):
    conf = spark.conf
    fetch = conf.get("spark.mcq.jdbcFetchSize", "10000")
    per_partition = int(conf.get("spark.mcq.sessionsPerReadPartition", "20000"))
    max_partitions = int(conf.get("spark.mcq.maxReadPartitions", "32"))
    url, props = jdbc_target(source_url)
    props = {**props, "fetchsize": fetch, "ApplicationName": "mcq-spark-reader"}
    if snap.snapshot:
        props["sessionInitStatement"] = (
            f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snap.snapshot}'")

    def jdbc(name: str, partitions: int):
        predicates = scope_predicates(scope, partitions)
        return spark.read.jdbc(url, f"(\n{jdbc_query(name)}\n) src",
                               predicates=predicates, properties=props)

    partitions = read_partitions(len(scope), per_partition, max_partitions)
    small = read_partitions(len(scope), per_partition * 5, max_partitions)
    return spark_facts.SparkSources(
        affected=driver_frame(spark, [(i,) for i in affected], "session_id long"),
        sessions=jdbc("sessions", small),
        answers=jdbc("answers", partitions),
        submissions=jdbc("submissions", small),
        tests=driver_frame(spark, driver_extract(snap, "tests", scope),
                           "test_id long, pass_score_pct double, question_count long"),
        questions=driver_frame(spark, driver_extract(snap, "questions", scope),
                               "question_id long, test_id long, option_count long, correct_option long, points double"),
    )


# -- the warehouse side ----------------------------------------------------------------------------
def staging_name(run_id: str, kind: str) -> str:
    return "r" + hashlib.sha1(run_id.encode()).hexdigest()[:20] + "_" + kind


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(STAGING_SCHEMA, name)


def create_staging(warehouse_url: str, tables: dict[str, dict[str, str]], label: str) -> None:
    """Create empty UNLOGGED staging tables (name → column layout), commented with ``label`` and the time."""
    comment = f"mcq_analytics staging {label} created={int(time.time())}"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(STAGING_SCHEMA)))
        for name, layout in tables.items():
            cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
                                      for c, t in layout.items())
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(_ident(name)))
            conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(_ident(name), cols))
            conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(_ident(name), sql.Literal(comment)))


def drop_staging(warehouse_url: str, names: list[str]) -> None:
    with suppress(psycopg.Error), psycopg.connect(warehouse_url, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(_ident(name)))


def drop_stale_staging(warehouse_url: str, max_age_hours: float = STAGING_MAX_AGE_HOURS) -> None:
    """Drop staging tables a killed job left behind (older than ``max_age_hours``)."""
    cutoff = time.time() - max_age_hours * 3600
    with suppress(psycopg.Error), psycopg.connect(warehouse_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (STAGING_SCHEMA,)).fetchall()
        for name, comment in rows:
            found = re.search(r"created=(\d+)", comment or "")
            if found and int(found.group(1)) < cutoff:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(_ident(name)))


def conform(frame, layout: dict[str, str]):
    """The frame's columns in the staging layout's order and types."""
    return frame.select(*[F.col(c).cast(SPARK_TYPES[t]).alias(c) for c, t in layout.items()])


def write_stage(frame, warehouse_url: str, table: str, conf) -> None:
    """Append a frame to a staging table over JDBC: batched, rewritten into multi-row INSERTs."""
    url, props = jdbc_target(warehouse_url)
    props = {**props, "batchsize": conf.get("spark.mcq.jdbcBatchSize", "10000"), "reWriteBatchedInserts": "true",
             "numPartitions": conf.get("spark.mcq.maxWriteConnections", "8"), "ApplicationName": "mcq-spark-writer"}
    frame.write.jdbc(url, f"{STAGING_SCHEMA}.{table}", mode="append", properties=props)


@dataclass
class Staged:
    """What one pipeline swaps in: its staged facts, the shared rejects (filtered) and its keys."""

    facts: str
    rejects: str
    keys: pd.DataFrame


def swap(warehouse_url: str, pipeline: str, window: Window, outcome: Outcome, staged: Staged,
         lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS) -> None:
    """One transaction: the keys into a temp table, the locked swap of ``load.swap_in``, and the run's
    counts in its run-log row — all or nothing."""
    tables = fact(pipeline).sources
    with psycopg.connect(warehouse_url, application_name=f"mcq-spark-swap {outcome.run_id}"[:63]) as conn, \
            conn.cursor() as cur:
        layout = KEY_COLUMNS[pipeline]
        cols = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in layout.items())
        keys = sql.Identifier("etl_keys")
        cur.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(keys, cols))
        copy_frame(cur, keys, staged.keys, list(layout))
        cur.execute(sql.SQL("ANALYZE {}").format(keys))
        rejects = sql.Identifier("etl_stage_rejects")
        cur.execute(sql.SQL("CREATE TEMP VIEW {} AS SELECT source_table, source_key, reason FROM {}"
                            " WHERE source_table IN ({})").format(
            rejects, _ident(staged.rejects), sql.SQL(", ").join(map(sql.Literal, tables))))
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(rejects))
        rejected = cur.fetchone()[0]
        written = swap_in(cur, pipeline, window, outcome.run_id, _ident(staged.facts), keys, rejects,
                          lock_timeout_seconds)
        cur.execute(sql.SQL("DROP VIEW {}").format(rejects))
        cur.execute("UPDATE analytics.etl_run_log SET rows_read = %s, rows_written = %s, rows_rejected = %s"
                    " WHERE run_id = %s", (outcome.rows_read, written, rejected, outcome.run_id))
    outcome.rows_written, outcome.rows_rejected = written, rejected


# -- the job ------------------------------------------------------------------------------------------
def start_spark(name: str):
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName(name).getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("MCQ_SPARK_LOG_LEVEL", "WARN"))
    # Runtime SQL settings the results or the speed depend on, also when the submitter did not set them.
    if spark.conf.get("spark.sql.session.timeZone") != "UTC":
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    for key in ("spark.sql.adaptive.enabled", "spark.sql.adaptive.coalescePartitions.enabled",
                "spark.sql.adaptive.skewJoin.enabled", "spark.sql.execution.arrow.pyspark.enabled"):
        if spark.conf.get(key, None) is None:
            spark.conf.set(key, "true")
    return spark


def build_window(spark, source_url: str, warehouse_url: str, window: Window, outcomes: dict[str, Outcome],
                 staging: list[str], lock_timeout_seconds: int = DEFAULT_LOCK_TIMEOUT_SECONDS) -> None:
    """Read the scope, stage every pipeline's rows (a failing pipeline does not stop the others), swap.

    Spark actions: one materialises the cached reads, one collects the bucket keys, then one JDBC write of
    the rejects (shared by the pipelines) and one per fact table.
    """
    pipelines = list(outcomes)
    with_buckets = True  # one scope whichever facts a run builds: rows_read/rows_rejected mean one thing (§5)
    conf = spark.conf
    job_tag = ",".join(o.run_id for o in outcomes.values())
    staged: dict[str, Staged] = {}
    steps: dict[str, float] = {}
    clock = [time.perf_counter()]

    def step(name: str) -> None:
        now = time.perf_counter()
        steps[name] = now - clock[0]
        clock[0] = now

    snap = SourceSnapshot(source_url, f"mcq-spark-driver {window.start:%Y-%m-%dT%H:%M}")
    try:
        affected, scope = compute_scope(snap, window, with_buckets)
        step("scope")
        src = read_sources(spark, snap, source_url, affected, scope)
        sources = (src.sessions, src.answers, src.submissions)
        for frame in sources:
            frame.cache()
        # One action reads all three over JDBC into the cache: later steps never go back to the source.
        rows_read = reduce(lambda a, b: a.unionByName(b), [f.select(F.lit(1).alias("n")) for f in sources]).count()
        step("read")
        log.info("%s: scope %d sessions (%d affected), %d source rows read", window, len(scope), len(affected),
                 rows_read)
        per_shuffle = int(conf.get("spark.mcq.rowsPerShufflePartition", "200000"))
        if per_shuffle > 0:
            conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions(rows_read, per_shuffle)))
        facts = spark_facts.WindowFacts(src)
        sessions = pd.DataFrame({"session_id": pd.Series(affected, dtype="int64")})
        keys = {p: sessions for p in pipelines if fact(p).delete_keys == "sessions"}
        if with_buckets:
            buckets = [tuple(r) for r in spark_facts.delete_keys(src, "test_summary_fact").collect()]
            bucket_keys = pd.DataFrame.from_records(buckets, columns=["test_id", "hour_start_us"]).astype("int64")
            keys.update({p: bucket_keys for p in pipelines if fact(p).delete_keys == "buckets"})
        step("keys")
        rejects = facts.rejects(pipelines)
        rejects_table = staging_name(job_tag, "rejects")
        create_staging(warehouse_url, {rejects_table: REJECT_COLUMNS}, f"job={job_tag}")
        staging.append(rejects_table)
        write_stage(conform(rejects, REJECT_COLUMNS), warehouse_url, rejects_table, conf)
        step("rejects")
        for pipeline, outcome in outcomes.items():
            outcome.rows_read = rows_read
            t1 = time.perf_counter()
            try:
                facts_table = staging_name(outcome.run_id, "facts")
                create_staging(warehouse_url, {facts_table: STAGE_COLUMNS[pipeline]}, f"run_id={outcome.run_id}")
                staging.append(facts_table)
                write_stage(conform(facts.build(pipeline), STAGE_COLUMNS[pipeline]), warehouse_url, facts_table,
                            conf)
                staged[pipeline] = Staged(facts_table, rejects_table, keys[pipeline])
            except Exception as exc:
                outcome.error = f"staging failed: {describe(exc)}"
                log.exception("%s %s: staging failed", pipeline, window)
            outcome.seconds += time.perf_counter() - t1
            step(pipeline)
    finally:
        snap.close()  # every read is done (or failed): release the source snapshot before the swaps
    for pipeline, item in staged.items():
        outcome = outcomes[pipeline]
        t1 = time.perf_counter()
        try:
            swap(warehouse_url, pipeline, window, outcome, item, lock_timeout_seconds)
            outcome.status = "success"
        except Exception as exc:
            outcome.error = f"swap failed: {describe(exc)}"
            log.error("%s %s: swap failed: %s", pipeline, window, outcome.error)
        outcome.seconds += time.perf_counter() - t1
        step(f"swap {pipeline}")
    log.info("%s: step seconds %s", window, ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))


def describe(exc: BaseException) -> str:
    """An error in one line, ``Type: message``, with any password (of the URLs or secret-looking) replaced by
    ``***``. For an error of the JVM (``Py4JJavaError``, whose own message is only "An error occurred while
    calling …") the innermost Java cause, e.g. ``java.net.ConnectException: Connection refused``."""
    text = f"{type(exc).__name__}: {exc}"
    java = getattr(exc, "java_exception", None)
    if java is not None:
        with suppress(Exception):  # the JVM may be gone already: keep the Python text
            while java.getCause() is not None:
                java = java.getCause()
            text = str(java.toString())
    line = (text.strip().splitlines() or [""])[0][:1000]
    return redact(line, url_secrets(os.environ.get("MCQ_SOURCE_URL"), os.environ.get("MCQ_WAREHOUSE_URL")))


class JobArgumentError(ValueError):
    """Bad job arguments or environment: one line on stderr, exit 2."""


def _window_and_pipelines(args: argparse.Namespace) -> tuple[Window, list[str], str, str]:
    """The window (with the look-back ``--scan-start`` gives), the pipelines and the database URLs."""
    try:
        window = Window(parse_time(args.window_start), parse_time(args.window_end))
        if args.scan_start:
            scan_start = parse_time(args.scan_start)
            if scan_start > window.start:
                raise WindowError(f"--scan-start {scan_start.isoformat()} is after the window start")
            window = replace(window, lookback=window.start - scan_start)
        if args.lock_timeout < 1:
            raise ValueError("--lock-timeout must be at least 1 second")
        pipelines = resolve_pipelines(args.pipeline)
    except (WindowError, ValueError) as exc:
        raise JobArgumentError(str(exc)) from None
    source_url = os.environ.get("MCQ_SOURCE_URL")
    warehouse_url = os.environ.get("MCQ_WAREHOUSE_URL")
    if not source_url or not warehouse_url:
        raise JobArgumentError("set MCQ_SOURCE_URL and MCQ_WAREHOUSE_URL in the environment")
    return window, pipelines, source_url, warehouse_url


def _report(args: argparse.Namespace, warehouse_url: str, window: Window, outcomes: dict[str, Outcome]) -> None:
    """Hand the outcomes over: the result file, the metadata when the job runs by hand, the log."""
    for outcome in outcomes.values():
        if outcome.status != "success" and not outcome.error:
            outcome.error = "not built"
    if args.result_file:
        Path(args.result_file).write_text(json.dumps([asdict(o) for o in outcomes.values()]), encoding="utf-8")
    if args.manage_metadata:
        for o in outcomes.values():
            failed = o.status != "success"
            metadata.finish_run(warehouse_url, o.pipeline, window, o.run_id, error=o.error if failed else None,
                                rows_read=o.rows_read, rows_written=None if failed else o.rows_written,
                                rows_rejected=None if failed else o.rows_rejected, engine="spark")
    for o in outcomes.values():
        log.info("%s %s: %s (read %d, written %d, rejected %d, %.1fs)%s", o.pipeline, window, o.status,
                 o.rows_read, o.rows_written, o.rows_rejected, o.seconds, f": {o.error}" if o.error else "")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    args = parse_args(argv)
    try:
        window, pipelines, source_url, warehouse_url = _window_and_pipelines(args)
    except JobArgumentError as exc:
        print(f"build_fact.py: error: {exc}", file=sys.stderr)
        return 2
    run_ids = resolve_run_ids(args.run_id, pipelines, window)
    outcomes = {p: Outcome(p, run_ids[p]) for p in pipelines}
    if args.manage_metadata:  # run by hand: nobody else gave fresh pipelines their watermark
        metadata.ensure_watermarks(source_url, warehouse_url, pipelines, window)
        for p in pipelines:
            metadata.begin_run(warehouse_url, p, window, "spark", run_ids[p], args.triggered_by)
    staging: list[str] = []
    spark = None
    try:
        spark = start_spark(f"mcq-{'all' if len(pipelines) > 1 else pipelines[0]}-{window.start:%Y%m%dT%H%M}")
        drop_stale_staging(warehouse_url)
        build_window(spark, source_url, warehouse_url, window, outcomes, staging, args.lock_timeout)
    except Exception as exc:
        log.exception("%s: the job failed", window)
        for outcome in outcomes.values():
            if outcome.status != "success" and not outcome.error:
                outcome.error = f"{describe(exc)}"
    finally:
        drop_staging(warehouse_url, staging)
        _report(args, warehouse_url, window, outcomes)
        if spark is not None:
            spark.stop()
    return 0 if all(o.status == "success" for o in outcomes.values()) else 1

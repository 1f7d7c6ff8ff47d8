"""Operators of the MCQ analytics DAGs.

``FactBuildOperator`` builds one fact table for its DAG run's data interval on the Pandas engine, or on the
engine ``auto`` picks for that interval (the batch DAG); ``SparkFactSubmitOperator`` submits the Spark job
for one fact and keeps ``etl_metadata`` right even when the job dies (the Spark DAG; it lives in
``spark_operator`` and is imported from here only on first use, so the batch DAG's parse never loads the
Spark provider). Both resolve the databases from Airflow connections at run time, never at parse time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Any

from airflow.providers.common.sql.operators.sql import SQLCheckOperator
from airflow.sdk import BaseOperator, Context

from mcq_analytics import metadata
from mcq_analytics.airflow import lineage, support
from mcq_analytics.airflow.lineage import LineageReporting
from mcq_analytics.config import ENGINES, ConfigError, Settings
from mcq_analytics.connections import Databases
from mcq_analytics.facts import FACT_NAMES, fact
from mcq_analytics.windows import Window

if TYPE_CHECKING:  # pandas: only where a build runs, not at DAG parse time (every task process parses)
    from mcq_analytics.pipeline import PipelineResult


def __getattr__(name: str) -> Any:
    """``SparkFactSubmitOperator`` on first use (``spark_operator``: the Spark provider is a heavy import)."""
    if name == "SparkFactSubmitOperator":
        from mcq_analytics.airflow.spark_operator import SparkFactSubmitOperator

        return SparkFactSubmitOperator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def attempt_text(context: Context, final: bool) -> str:
    """``attempt 1 of 3; a failure is retried`` / ``…; last attempt: a failure fails the task and counts``."""
    ti = context["ti"]
    of = f"attempt {ti.try_number} of {ti.max_tries + 1}"
    return f"{of}; last attempt: a failure fails the task and counts towards the alert" if final \
        else f"{of}; a failure is retried"


def announce_build(op: BaseOperator, context: Context, warehouse_url: str, window: Window, run_id: str,
                   engine: str, counts: dict[str, int], seconds: float | None = None) -> None:
    """After a successful build: its log lines (``support.report_build``) and its asset events' ``extra``
    (``support.asset_extra``). Neither may fail the build: a problem reading the rejects is only logged."""
    pipeline = getattr(op, "pipeline", "")
    try:
        rejects = support.rejects_by_reason(warehouse_url, pipeline, window)
    except Exception as exc:  # the facts are written; a missing breakdown is not worth failing for
        op.log.warning("could not read the rejects by reason: %s", type(exc).__name__)
        rejects = {}
    support.report_build(op.log, pipeline, window, engine, counts, rejects, seconds)
    extra = support.asset_extra(window, run_id, engine, counts, rejects)
    for asset in op.outlets:
        context["outlet_events"][asset].extra = extra


class FactBuildFailed(RuntimeError):
    """The fact build failed; its error is already recorded in ``etl_metadata``/``etl_run_log``."""


class FactBuildOperator(LineageReporting, BaseOperator):
    """Build one fact table for ``[window_start, window_end)`` through ``engines.run_window`` (as the CLI).

    ``engine`` is ``pandas``, ``spark`` or ``auto``; by default the worker's settings decide at run time
    (``support.batch_engine``: ``auto`` when ``MCQ_ENGINE=auto``, else ``pandas``). ``auto`` counts the
    interval's affected answer rows and runs Spark from ``MCQ_AUTO_ENGINE_THRESHOLD_ROWS`` on, exactly as
    ``run_etl.py`` does, logging its choice; Spark then runs on the master of connection ``spark_conn_id``
    (else ``MCQ_SPARK_MASTER``). The run-log id is ``<pipeline>__<dag_id>__<run_id>__try<n>`` (also the rows'
    ``etl_run_id``) and the engine that ran is recorded with it; an attempt Airflow will retry is recorded
    as failed without counting towards ``consecutive_failures``. Returns the run id, engine and row counts
    (XCom); raises ``FactBuildFailed`` so the task fails when the build does. Reports OpenLineage
    (``lineage.LineageReporting``): the fact's source tables in, the fact and ``etl_rejects`` out with the counts.
    """

    template_fields: Sequence[str] = ("window_start", "window_end")
    ui_color = "#d6ecff"

    def __init__(self, *, pipeline: str, engine: str | None = None,
                 window_start: str = support.WINDOW_START_TEMPLATE, window_end: str = support.WINDOW_END_TEMPLATE,
                 source_conn_id: str = support.SOURCE_CONN_ID, warehouse_conn_id: str = support.WAREHOUSE_CONN_ID,
                 spark_conn_id: str = support.SPARK_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if engine is not None and engine not in ENGINES:
            raise ValueError(f"engine {engine!r} is not available (choose from {', '.join(ENGINES)})")
        self.pipeline = pipeline
        self.engine = engine
        self.window_start = window_start
        self.window_end = window_end
        self.source_conn_id = source_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.spark_conn_id = spark_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        window = support.window_from(self.window_start, self.window_end)
        run_id, triggered, final = support.attempt_from_context(context, self.pipeline)
        try:
            settings = support.settings_from_environment()
        except ConfigError as exc:
            raise FactBuildFailed(f"{self.pipeline} {window}: {exc}") from None
        source_url = support.connection_url(self.source_conn_id)
        warehouse_url = support.connection_url(self.warehouse_conn_id)
        self.record_lineage(source_url, warehouse_url)
        engine = self.engine or support.batch_engine(settings)
        try:
            engine, expected_rows = self._choose(engine, settings, source_url, window)
            if engine == "spark":
                master = support.spark_master(self.spark_conn_id, default=settings.spark_master)
                settings = dataclasses.replace(settings, spark_master=master)
            self.log.info("building %s for %s as %s on %s (%s)", fact(self.pipeline).table, window, run_id,
                          engine, attempt_text(context, final))
            result = support.run_fact_build(source_url, warehouse_url, window, self.pipeline, run_id, triggered,
                                            final, engine=engine, settings=settings, expected_rows=expected_rows)
        except BaseException as exc:  # AirflowTaskTimeout/AirflowTaskTerminated skip the engines' handlers
            metadata.finish_run(warehouse_url, self.pipeline, window, run_id, error=f"{type(exc).__name__}: {exc}",
                                engine=engine if engine in ("pandas", "spark") else None, final=final)
            raise
        if result.status != "success":
            raise FactBuildFailed(f"{self.pipeline} {window} failed on {result.engine}: {result.error}")
        counts = {"rows_read": result.rows_read, "rows_written": result.rows_written,
                  "rows_rejected": result.rows_rejected}
        self.record_lineage(source_url, warehouse_url, {self.pipeline: result.rows_written}, result.rows_rejected,
                            run=lineage.run_facts(self.pipeline, window, run_id, result.engine, counts))
        announce_build(self, context, warehouse_url, window, run_id, result.engine, counts, result.seconds)
        return {"run_id": run_id, "engine": result.engine, **counts}

    def lineage_pipelines(self) -> list[str]:
        return [self.pipeline]

    def _choose(self, engine: str, settings: Settings, source_url: str, window: Window) -> tuple[str, int | None]:
        """Resolve ``auto`` to the engine for this window (the same count and threshold as ``run_etl.py``)."""
        if engine != "auto":
            return engine, None
        from mcq_analytics.spark import run as spark_run  # no Spark machinery unless auto has to decide

        chosen, rows = spark_run.choose_engine(settings, source_url, window)
        threshold = settings.auto_engine_threshold
        if rows is None:
            self.log.warning("auto chose %s: counting the affected answers of %s failed", chosen, window)
        else:
            self.log.info("auto chose %s: %d affected answers %s threshold %d", chosen, rows,
                          "≥" if rows >= threshold else "<", threshold)
        return chosen, rows


class PlanRunOperator(BaseOperator):
    """Base of the tasks that run a plan of windows through the CLI's ``run_plan`` (reconcile, reload): the
    same connections, engine choice, stop-at-first-failure rule, alerts and per-result log line.

    :param pipelines: the facts to build (default: every registered fact)
    :param source_conn_id: the source database's connection
    :param warehouse_conn_id: the warehouse's connection
    :param spark_conn_id: the Spark master's connection, used when the engine is ``spark``
    """

    def __init__(self, *, pipelines: Sequence[str] | None = None, source_conn_id: str = support.SOURCE_CONN_ID,
                 warehouse_conn_id: str = support.WAREHOUSE_CONN_ID, spark_conn_id: str = support.SPARK_CONN_ID,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipelines = list(pipelines) if pipelines is not None else list(FACT_NAMES)
        self.source_conn_id = source_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.spark_conn_id = spark_conn_id

    def databases(self) -> Databases:
        return Databases(support.connection_url(self.source_conn_id), support.connection_url(self.warehouse_conn_id))

    def run_plan(self, plan: dict[Window, list[str]], engine: str, settings: Settings, dbs: Databases,
                 context: Context) -> list[PipelineResult]:
        """Run ``plan`` as the CLI does, recorded as triggered by this DAG run, each result logged."""
        from mcq_analytics import cli  # cli pulls in the whole command line: only at run time

        if engine == "spark":
            settings = dataclasses.replace(settings, spark_master=support.spark_master(
                self.spark_conn_id, default=settings.spark_master))
        return cli.run_plan(plan, engine, settings, dbs, quiet=True,
                            triggered_by=support.triggered_by(context["ti"].dag_id, context["dag_run"].run_id),
                            progress=self._log_result)

    def _log_result(self, result: PipelineResult) -> None:
        self.log.info("  %s  %s %s on %s: read %d, wrote %d, rejected %d rows in %.2fs%s", result.window,
                      result.pipeline, "ok" if result.status == "success" else "FAILED", result.engine,
                      result.rows_read, result.rows_written, result.rows_rejected, result.seconds,
                      f" — {result.error.splitlines()[0]}" if result.error else "")


class ReconcileOperator(LineageReporting, PlanRunOperator):
    """``run_etl.py reconcile`` as a task: plan with ``reconcile.plan`` over the last ``MCQ_RECONCILE_DAYS``
    days before the watermarks, then reprocess every changed hour through the CLI's ``run_plan`` (same
    engine choice, same stop-at-first-failure rule, same alerts). Logs the changed hours and each result;
    fails when any reprocessing run failed. Returns the hours and the results' totals (XCom). Its OpenLineage:
    the pipelines' source tables in, their facts and ``etl_rejects`` out with the rows the reprocessing wrote."""

    ui_color = "#fff3cd"


    def execute(self, context: Context) -> dict[str, Any]:
        from mcq_analytics import reconcile

        try:
            settings = support.settings_from_environment()
        except ConfigError as exc:
            raise FactBuildFailed(f"reconcile: {exc}") from None
        dbs = self.databases()
        self.record_lineage(dbs.source_url, dbs.warehouse_url)
        plan = reconcile.plan(dbs.source_url, dbs.warehouse_url, self.pipelines, settings.reconcile_days)
        if not plan:
            self.log.info("reconciled: no processed hour of the last %d day(s) changed in the source",
                          settings.reconcile_days)
            self.record_lineage(dbs.source_url, dbs.warehouse_url, {}, 0)
            return {"hours": [], "runs": 0, "failed": 0, "rows_written": 0, "rows_rejected": 0}
        self.log.info("reconcile: %d processed hour(s) changed in the source; reprocessing them", len(plan))
        for window, pipelines in plan.items():
            self.log.info("  changed: %s  %s", window, ", ".join(pipelines))
        results = self.run_plan(plan, settings.engine, settings, dbs, context)
        failed = [r for r in results if r.status != "success"]
        written = {name: sum(r.rows_written for r in results if r.pipeline == name) for name in self.pipelines}
        self.record_lineage(dbs.source_url, dbs.warehouse_url, written, sum(r.rows_rejected for r in results))
        self.log.info("reconcile: %d pipeline run(s): %d succeeded, %d failed; %d fact rows written, %d rejects",
                      len(results), len(results) - len(failed), len(failed), sum(r.rows_written for r in results),
                      sum(r.rows_rejected for r in results))
        if failed:
            raise FactBuildFailed("reconcile: " + "; ".join(
                f"{r.pipeline} {r.window}: {(r.error or '').splitlines()[0] if r.error else 'failed'}" for r in failed))
        return {"hours": [w.start.isoformat() for w in plan], "runs": len(results), "failed": 0,
                "rows_written": sum(r.rows_written for r in results),
                "rows_rejected": sum(r.rows_rejected for r in results)}

    def lineage_pipelines(self) -> list[str]:
        return list(self.pipelines)



class NamedSQLCheckOperator(SQLCheckOperator):
    """``SQLCheckOperator`` whose log names each check: one ``<column>: True/False`` line per boolean of the
    query's row (the provider logs only ``Record: (True, True, …)``), and a failure names the false ones.
    ``subject`` (e.g. the fact table) starts the failure message; the fact DAGs run all of a fact's checks
    as one such query (``dag_factory.checks_sql``)."""

    def __init__(self, *, subject: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.subject = subject

    def execute(self, context: Context) -> None:
        hook = self.get_db_hook()
        with closing(hook.get_conn()) as conn, closing(conn.cursor()) as cur:
            cur.execute(self.sql, self.parameters)
            names = [d[0] for d in cur.description or ()]
            record = cur.fetchone()
        self.check_results = self._build_check_results(record)  # as the provider's, for listeners
        if not record:
            self._raise_exception(f"the check query returned no row: {self.sql}")
        for name, value in zip(names, record, strict=True):
            self.log.info("%s: %s", name, bool(value))
        failed = [name for name, value in zip(names, record, strict=True) if not value]
        if failed:
            prefix = f"{self.subject}: " if self.subject else ""
            self._raise_exception(f"{prefix}{len(failed)} of {len(names)} checks failed: {', '.join(failed)}")
        self.log.info("all %d checks passed", len(names))

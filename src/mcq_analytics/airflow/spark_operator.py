"""``SparkFactSubmitOperator``: the Spark DAG's build task, in its own module so that parsing the batch DAG
(which every batch task process does) never imports the Spark provider, which pulls in the OpenLineage
listener: seconds of import per task process (issue 17, docs/performance.md "Airflow"). The Spark DAG
imports it through ``dag_factory``; ``mcq_analytics.airflow.operators.SparkFactSubmitOperator`` still
resolves to it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import Context

from mcq_analytics import metadata
from mcq_analytics.airflow import lineage, support
from mcq_analytics.airflow.lineage import LineageReporting
from mcq_analytics.airflow.operators import FactBuildFailed, announce_build
from mcq_analytics.config import ConfigError
from mcq_analytics.locks import PipelineBusy, pipeline_run_locks
from mcq_analytics.paths import SPARK_JOBS_DIR
from mcq_analytics.spark.submit import submit_settings
from mcq_analytics.windows import Window


class SparkFactSubmitOperator(LineageReporting, SparkSubmitOperator):
    """``spark-submit`` of ``include/spark_jobs/build_fact.py`` for one fact, wrapped in the run bookkeeping.

    Before submitting it records the run ``running`` (``metadata.begin_run``); afterwards ``finish_run``
    with counts ``None``, so the counts the job wrote into its ``etl_run_log`` row are kept — and a job that
    dies (non-zero exit, killed driver) still ends ``failed`` with the error. The job receives
    ``--pipeline --window-start --window-end --run-id`` and reads the databases from the environment
    variables ``MCQ_SOURCE_URL``/``MCQ_WAREHOUSE_URL``, filled from the Airflow connections at run time
    (never in the command line or the rendered template fields). Conf and the JDBC jar default to what
    ``run_etl.py --engine spark`` uses for the connection's master (``conf=``/``jars=`` override); the master
    is read through ``BaseHook.get_connection``, as the provider's hook resolves it. Reports OpenLineage as
    ``FactBuildOperator`` does, with the counts the job recorded.
    """

    template_fields: Sequence[str] = (*SparkSubmitOperator.template_fields, "window_start", "window_end")

    def __init__(self, *, pipeline: str, application: str = str(SPARK_JOBS_DIR / "build_fact.py"),
                 window_start: str = support.WINDOW_START_TEMPLATE, window_end: str = support.WINDOW_END_TEMPLATE,
                 application_args: list[Any] | None = None, source_conn_id: str = support.SOURCE_CONN_ID,
                 warehouse_conn_id: str = support.WAREHOUSE_CONN_ID, conn_id: str = support.SPARK_CONN_ID,
                 name: str | None = None, **kwargs: Any) -> None:
        if application_args is None:
            application_args = ["--pipeline", pipeline, "--window-start", window_start,
                                "--window-end", window_end, "--run-id", support.run_id_template(pipeline)]
        super().__init__(application=application, application_args=application_args, conn_id=conn_id,
                         name=name or f"mcq-{pipeline}", **kwargs)
        self.pipeline = pipeline
        self.window_start = window_start
        self.window_end = window_end
        self.source_conn_id = source_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.spark_conn_id = conn_id
        self._open_run: tuple[str, Window, str, bool] | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        window = support.window_from(self.window_start, self.window_end)
        run_id, triggered, final = support.attempt_from_context(context, self.pipeline)
        warehouse_url = support.connection_url(self.warehouse_conn_id)
        source_url = support.connection_url(self.source_conn_id)
        self.record_lineage(source_url, warehouse_url)
        try:
            settings = support.settings_from_environment()
        except ConfigError as exc:
            raise FactBuildFailed(f"{self.pipeline}: {exc}") from None
        # The same guarantees as run_etl.py (docs/operations.md): the change scan looks back, swaps wait a
        # bounded time, one run of the pipeline at a time, and what the run saw is fingerprinted for reconcile.
        window = dataclasses.replace(window, lookback=settings.lookback)
        self.application_args = [*self.application_args, "--scan-start", window.scan_start.isoformat(),
                                 "--lock-timeout", str(settings.lock_timeout_seconds)]
        metadata.ensure_watermarks(source_url, warehouse_url, [self.pipeline], window)
        with ExitStack() as held:
            try:
                held.enter_context(pipeline_run_locks(warehouse_url, [self.pipeline], settings.lock_timeout_seconds))
            except PipelineBusy as exc:
                metadata.record_refused_run(warehouse_url, self.pipeline, window, run_id, "spark", triggered,
                                            str(exc))
                raise FactBuildFailed(f"{self.pipeline} {window}: {exc}") from None
            metadata.begin_run(warehouse_url, self.pipeline, window, "spark", run_id, triggered)
            metadata.abandon_orphaned_runs(warehouse_url, self.pipeline, run_id)
            self._open_run = (warehouse_url, window, run_id, final)
            try:
                from mcq_analytics.pipeline import SourceHours

                seen = SourceHours.take(source_url, window)
                # The one job assembly run_etl.py uses too (conf, JDBC driver, package zip, environment),
                # checked before submitting; set before super().execute() builds the provider's hook.
                job = submit_settings(support.spark_master(self.spark_conn_id), source_url, warehouse_url,
                                      conf=self.conf, jars=self.jars, env=self.env_vars, python=sys.executable)
                env = dict(job["env_vars"])
                if shutil.which("spark-submit") is None:  # a worker started without the venv's bin on PATH
                    env.setdefault("PATH", os.pathsep.join([str(Path(sys.executable).parent),
                                                            os.environ.get("PATH", "")]))
                self.conf, self.jars, self.py_files, self.env_vars = job["conf"], job["jars"], job["py_files"], env
                super().execute(context)
                seen.record(warehouse_url, self.pipeline)
            except BaseException as exc:
                self._finish(error=f"spark job failed: {type(exc).__name__}: {exc}")
                raise
            self._finish(error=None)
        counts = support.run_log_counts(warehouse_url, run_id)
        self.record_lineage(source_url, warehouse_url, {self.pipeline: counts["rows_written"]}, counts["rows_rejected"],
                            run=lineage.run_facts(self.pipeline, window, run_id, "spark", counts))
        announce_build(self, context, warehouse_url, window, run_id, "spark", counts)
        return {"run_id": run_id, "engine": "spark", **counts}

    def lineage_pipelines(self) -> list[str]:
        return [self.pipeline]

    def on_kill(self) -> None:
        self._finish(error="spark job killed (task terminated)")
        super().on_kill()

    def _finish(self, error: str | None) -> None:
        if self._open_run is None:
            return
        warehouse_url, window, run_id, final = self._open_run
        self._open_run = None
        metadata.finish_run(warehouse_url, self.pipeline, window, run_id, error=error, engine="spark", final=final)

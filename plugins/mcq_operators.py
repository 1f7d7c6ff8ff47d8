"""Operators of the MCQ analytics DAGs (``plugins/`` is on ``sys.path`` in every Airflow component).

``FactBuildOperator`` builds one fact table for its DAG run's data interval on the Pandas engine;
``SparkFactSubmitOperator`` submits the Spark job for one fact and keeps ``etl_metadata`` right even when
the job dies. Both resolve the databases from Airflow connections at run time, never at parse time.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import BaseOperator, Context

from mcq_analytics import airflow_support as support
from mcq_analytics import metadata
from mcq_analytics.paths import SPARK_JOBS_DIR
from mcq_analytics.windows import Window


class FactBuildFailed(RuntimeError):
    """The fact build failed; its error is already recorded in ``etl_metadata``/``etl_run_log``."""


class FactBuildOperator(BaseOperator):
    """Build one fact table for ``[window_start, window_end)`` with ``run_pandas_window``'s bookkeeping.

    The run-log id is ``<pipeline>__<dag_id>__<run_id>__try<n>`` (also the rows' ``etl_run_id``); an attempt
    Airflow will retry is recorded as failed without counting towards ``consecutive_failures``. Returns the
    run id and row counts (XCom); raises ``FactBuildFailed`` so the task fails when the build does.
    """

    template_fields: Sequence[str] = ("window_start", "window_end")
    ui_color = "#d6ecff"

    def __init__(self, *, pipeline: str, window_start: str = support.WINDOW_START_TEMPLATE,
                 window_end: str = support.WINDOW_END_TEMPLATE, source_conn_id: str = support.SOURCE_CONN_ID,
                 warehouse_conn_id: str = support.WAREHOUSE_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.window_start = window_start
        self.window_end = window_end
        self.source_conn_id = source_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        window = support.window_from(self.window_start, self.window_end)
        run_id, triggered, final = support.attempt_from_context(context, self.pipeline)
        source_url = support.connection_url(self.source_conn_id)
        warehouse_url = support.connection_url(self.warehouse_conn_id)
        self.log.info("building %s for %s as %s (final attempt: %s)", self.pipeline, window, run_id, final)
        try:
            result = support.run_fact_build(source_url, warehouse_url, window, self.pipeline, run_id, triggered,
                                            final)
        except BaseException as exc:  # AirflowTaskTimeout/AirflowTaskTerminated skip run_pandas_window's handler
            metadata.finish_run(warehouse_url, self.pipeline, window, run_id, error=f"{type(exc).__name__}: {exc}",
                                engine="pandas", final=final)
            raise
        if result.status != "success":
            raise FactBuildFailed(f"{self.pipeline} {window} failed: {result.error}")
        self.log.info("%s: read %d, wrote %d, rejected %d rows in %.2fs", self.pipeline, result.rows_read,
                      result.rows_written, result.rows_rejected, result.seconds)
        return {"run_id": run_id, "rows_read": result.rows_read, "rows_written": result.rows_written,
                "rows_rejected": result.rows_rejected}


class SparkFactSubmitOperator(SparkSubmitOperator):
    """``spark-submit`` of ``include/spark_jobs/build_fact.py`` for one fact, wrapped in the run bookkeeping.

    Before submitting it records the run ``running`` (``metadata.begin_run``); afterwards ``finish_run``
    with counts ``None``, so the counts the job wrote into its ``etl_run_log`` row are kept — and a job that
    dies (non-zero exit, killed driver) still ends ``failed`` with the error. The job receives
    ``--pipeline --window-start --window-end --run-id`` and reads the databases from the environment
    variables ``MCQ_SOURCE_URL``/``MCQ_WAREHOUSE_URL``, filled from the Airflow connections at run time
    (never in the command line or the rendered template fields). Conf and the JDBC jar default to what
    ``run_etl.py --engine spark`` uses for the connection's master (``conf=``/``jars=`` override).
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
        self._open_run: tuple[str, Window, str, bool] | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        window = support.window_from(self.window_start, self.window_end)
        run_id, triggered, final = support.attempt_from_context(context, self.pipeline)
        warehouse_url = support.connection_url(self.warehouse_conn_id)
        source_url = support.connection_url(self.source_conn_id)
        env = support.spark_env(source_url, warehouse_url, self.env_vars, python=sys.executable)
        if shutil.which("spark-submit") is None:  # a worker started without the venv's bin on PATH
            env.setdefault("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
        self.env_vars = env
        if self.py_files is None:
            self.py_files = support.spark_py_files(self.application)
        master = self._get_hook()._connection.get("master") or ""  # as the provider resolves spark_default
        self.conf, self.jars = support.spark_submit_defaults(master, self.conf, self.jars)
        self._hook = None  # the hook copies conf/jars/env_vars/py_files when built: build it after setting them
        metadata.begin_run(warehouse_url, self.pipeline, window, "spark", run_id, triggered)
        self._open_run = (warehouse_url, window, run_id, final)
        try:
            super().execute(context)
        except BaseException as exc:
            self._finish(error=f"spark job failed: {type(exc).__name__}: {exc}")
            raise
        self._finish(error=None)
        return {"run_id": run_id}

    def on_kill(self) -> None:
        self._finish(error="spark job killed (task terminated)")
        super().on_kill()

    def _finish(self, error: str | None) -> None:
        if self._open_run is None:
            return
        warehouse_url, window, run_id, final = self._open_run
        self._open_run = None
        metadata.finish_run(warehouse_url, self.pipeline, window, run_id, error=error, engine="spark", final=final)

"""``mcq_analytics_spark``: the three fact tables, hourly, on the Spark engine (docs/airflow.md).

One task group per fact: ``build`` (``SparkFactSubmitOperator``: ``spark-submit
include/spark_jobs/build_fact.py --pipeline <fact> --window-start … --window-end … --run-id …`` on
connection ``spark_default``; the database URLs reach the job as the environment variables
``MCQ_SOURCE_URL``/``MCQ_WAREHOUSE_URL``; Spark conf and the JDBC jar as ``run_etl.py --engine spark``
chooses them, at run time) then the same data-quality checks as the batch DAG.
Parsing this file touches no database.
"""

from __future__ import annotations

from airflow.sdk import DAG, TaskGroup
from mcq_fact_dag import FACTS, dag_kwargs, fact_asset, group_doc, quality_checks
from mcq_operators import SparkFactSubmitOperator

from mcq_analytics import airflow_support as support
from mcq_analytics.airflow_support import SPARK_DAG_ID
from mcq_analytics.paths import SPARK_JOBS_DIR

with DAG(**dag_kwargs(SPARK_DAG_ID, "Spark engine", tags=["spark"])) as dag:
    for fact in FACTS:
        with TaskGroup(group_id=fact, tooltip=f"analytics.{fact}", doc_md=group_doc(fact)):
            build = SparkFactSubmitOperator(
                task_id="build",
                pipeline=fact,
                application=str(SPARK_JOBS_DIR / "build_fact.py"),
                application_args=[
                    "--pipeline", fact,
                    "--window-start", "{{ data_interval_start.isoformat() }}",
                    "--window-end", "{{ data_interval_end.isoformat() }}",
                    "--run-id", support.run_id_template(fact),
                ],
                conn_id=support.SPARK_CONN_ID,
                name=f"mcq-{fact}",
                outlets=[fact_asset(fact)],
                doc_md=f"Submits the Spark job that builds `analytics.{fact}` for the data interval.",
            )
            build >> quality_checks(fact)

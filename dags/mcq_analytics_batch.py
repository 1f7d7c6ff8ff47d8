"""``mcq_analytics_batch``: the three fact tables, hourly, on the Pandas engine (docs/airflow.md).

One task group per fact: ``build`` (``FactBuildOperator``) then three data-quality checks. Parsing this
file touches no database: connections are resolved when a task runs.
"""

from __future__ import annotations

from airflow.sdk import DAG, TaskGroup
from mcq_fact_dag import FACTS, dag_kwargs, fact_asset, group_doc, quality_checks
from mcq_operators import FactBuildOperator

from mcq_analytics.airflow_support import BATCH_DAG_ID

with DAG(**dag_kwargs(BATCH_DAG_ID, "Pandas engine", tags=["pandas"])) as dag:
    for fact in FACTS:
        with TaskGroup(group_id=fact, tooltip=f"analytics.{fact}", doc_md=group_doc(fact)):
            build = FactBuildOperator(
                task_id="build",
                pipeline=fact,
                outlets=[fact_asset(fact)],
                doc_md=f"Builds `analytics.{fact}` for the data interval with the Pandas engine.",
            )
            build >> quality_checks(fact)

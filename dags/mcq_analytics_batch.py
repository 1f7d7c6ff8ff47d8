"""``mcq_analytics_batch``: the fact tables, hourly, on the Pandas engine — or, with ``MCQ_ENGINE=auto``, on
Pandas or Spark per data interval (docs/airflow.md). Built by ``mcq_analytics.airflow.dag_factory``."""

from mcq_analytics.airflow.dag_factory import fact_dag

dag = fact_dag("pandas")

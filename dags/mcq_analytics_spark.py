"""``mcq_analytics_spark``: the fact tables, hourly, on the Spark engine (docs/airflow.md). Built by
``mcq_analytics.airflow.dag_factory``."""

from mcq_analytics.airflow.dag_factory import fact_dag

dag = fact_dag("spark")

"""``mcq_analytics_reconcile``: daily, reprocesses processed hours whose source rows changed since (late
commits beyond the look-back; docs/operations.md). Built by ``mcq_analytics.airflow.dag_factory``."""

from mcq_analytics.airflow.dag_factory import reconcile_dag

dag = reconcile_dag()

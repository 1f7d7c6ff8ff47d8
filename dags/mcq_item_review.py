"""``mcq_item_review``: on each item-statistics update, flags questions and options into ``analytics.item_review``
and announces new flags and resolutions once. Built by ``mcq_analytics.airflow.dag_factory``."""

from mcq_analytics.airflow.dag_factory import item_review_dag

dag = item_review_dag()

"""Airflow integration of mcq_analytics: operators, the DAG factory, callbacks and connection helpers."""

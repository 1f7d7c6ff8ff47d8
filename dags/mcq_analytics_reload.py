"""``mcq_analytics_reload``: manual only, rebuilds a range (params start, end, engine, window_hours) in
work-sized windows, like ``run_etl.py --start … --end …``. Built by ``mcq_analytics.airflow.dag_factory``."""

from mcq_analytics.airflow.dag_factory import reload_dag

dag = reload_dag()

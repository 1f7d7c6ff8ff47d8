"""Declares the pipeline-health plugin to Airflow (its code lives in the installed package:
``mcq_analytics.airflow.health_plugin``, docs/operations.md "Pipeline health in the Airflow UI")."""

from mcq_analytics.airflow.health_plugin import PipelineHealthPlugin

__all__ = ["PipelineHealthPlugin"]

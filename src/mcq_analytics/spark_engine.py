"""Temporary re-exports for ``airflow_support.py`` and ``bench.py``, which other branches are moving at the
same time; the Spark engine is ``mcq_analytics.spark``. Delete this file once they import from there."""

from __future__ import annotations

from collections.abc import Mapping

from mcq_analytics.spark import submit
from mcq_analytics.spark.submit import (  # noqa: F401  (re-exported)
    EXTRA_CONF_ENV,
    find_jdbc_jar,
    package_zip,
    parse_extra_conf,
    spark_submit_path,
)


def spark_conf(master: str, expected_rows: int | None = None, extra: Mapping[str, str] | None = None,
               jdbc_jar: str | None = None) -> dict[str, str]:
    """``submit.spark_conf`` under its former signature (the jar never changed the conf but for a package)."""
    return submit.spark_conf(master, expected_rows, extra)


def job_env(source_url: str, warehouse_url: str, python: str | None = None) -> dict[str, str]:
    return submit.job_env(source_url, warehouse_url, python)

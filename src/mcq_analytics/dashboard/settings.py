"""Which warehouse the dashboard reads, from the same ``--env`` files as ``run_etl.py``.

``MCQ_DASHBOARD_URL`` (a read-only role, docs/dashboard.md) wins; otherwise the environment's warehouse —
on the embedded default (dev) the embedded PostgreSQL is started as for ``run_etl.py``. The dashboard never
needs the source database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mcq_analytics.config import env_file_for, load_settings, parse_env_file
from mcq_analytics.connections import resolve_databases

DEFAULT_AIRFLOW_URL = "http://localhost:8080"


@dataclass(frozen=True)
class DashboardSettings:
    env: str
    warehouse_url: str
    airflow_base_url: str
    engine: str


def load_dashboard_settings(env: str, environ: dict[str, str] | None = None) -> DashboardSettings:
    """Resolve the warehouse URL for ``env``; raises ``ConfigError`` (one line) when it cannot."""
    environ = dict(os.environ if environ is None else environ)
    values = parse_env_file(env_file_for(env))
    values.update({k: v for k, v in environ.items() if k.startswith("MCQ_")})
    airflow = values.get("MCQ_AIRFLOW_BASE_URL") or DEFAULT_AIRFLOW_URL
    engine = values.get("MCQ_ENGINE") or "pandas"
    url = values.get("MCQ_DASHBOARD_URL")
    if not url:
        url = resolve_databases(load_settings(env, environ)).warehouse_url
    return DashboardSettings(env=env, warehouse_url=url, airflow_base_url=airflow.rstrip("/"), engine=engine)

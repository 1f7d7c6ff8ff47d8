"""Where the project's non-Python assets live, found the same way from DAGs, CLI, Spark jobs and tests."""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root (the package is installed editable from ``src/``); ``MCQ_HOME`` overrides it.
PROJECT_ROOT = Path(os.environ.get("MCQ_HOME") or Path(__file__).resolve().parents[2])
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
SPARK_JOBS_DIR = INCLUDE_DIR / "spark_jobs"
#: Git-ignored folder for local state: the embedded PostgreSQL's data, logs, benchmark output.
STATE_DIR = Path(os.environ.get("MCQ_STATE_DIR") or PROJECT_ROOT / ".mcq")


def read_sql(relative_path: str) -> str:
    """Return the text of ``include/sql/<relative_path>``."""
    return (SQL_DIR / relative_path).read_text(encoding="utf-8")

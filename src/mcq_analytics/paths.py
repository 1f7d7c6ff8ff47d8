"""Where the project's non-Python assets live, found the same way from DAGs, CLI, Spark jobs and tests.

The SQL is read from the checkout's ``include/sql`` — except inside a Spark job, where the package runs from
the zip ``spark.submit.package_zip`` ships with ``--py-files``: that zip carries a copy of ``include/sql`` as
``mcq_analytics/sql``, so the job reads exactly the SQL that was submitted with its code, whatever machine
its driver runs on and whatever the current directory or environment.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

#: Repository root (the package is installed editable from ``src/``).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
SPARK_JOBS_DIR = INCLUDE_DIR / "spark_jobs"
#: The folder of the SQL copy inside the Spark job's package zip (absent from a checkout).
BUNDLED_SQL = "sql"
#: Git-ignored folder for local state: the embedded PostgreSQL's data, logs, benchmark output.
STATE_DIR = Path(os.environ.get("MCQ_STATE_DIR") or PROJECT_ROOT / ".mcq")


def _sql_root() -> Traversable:
    bundled = resources.files(__package__).joinpath(BUNDLED_SQL)
    return bundled if bundled.is_dir() else SQL_DIR


def read_sql(relative_path: str) -> str:
    """Return the text of ``include/sql/<relative_path>`` (in a Spark job: of the copy it was shipped with)."""
    return _sql_root().joinpath(*relative_path.split("/")).read_text(encoding="utf-8")


#: The placeholder of ``include/sql/extract/{sessions,answers,submissions}.sql`` that restricts their rows to
#: the window's scope; each engine fills it (``extract.SCOPE_JOIN``, ``spark.job.JDBC_SCOPE``).
SCOPE_PLACEHOLDER = "{scope}"


def read_extract(name: str, scope: str, required: bool = False) -> str:
    """``include/sql/extract/<name>.sql`` with its scope placeholder replaced by the SQL text ``scope``.

    ``required``: the query must restrict itself by the placeholder (the Spark engine's JDBC reads, which
    would otherwise read whole tables)."""
    text = read_sql(f"extract/{name}.sql")
    if required and text.count(SCOPE_PLACEHOLDER) != 1:
        raise RuntimeError(f"include/sql/extract/{name}.sql must contain {SCOPE_PLACEHOLDER} exactly once")
    return text.replace(SCOPE_PLACEHOLDER, scope)

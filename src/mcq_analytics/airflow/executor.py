"""``PreloadedLocalExecutor``: Airflow's LocalExecutor whose task processes start with this package imported.

The LocalExecutor forks its worker processes from the scheduler, and each worker forks one process per task.
A build task then spends most of its CPU importing pandas and pyarrow, and every task re-imports the DAG
factory to parse its DAG file (docs/performance.md, the profile of an hourly run). Importing those modules
once in the scheduler, before the workers are forked, lets every task inherit them. The operators and the
facts are unchanged.

Use it with ``AIRFLOW__CORE__EXECUTOR=mcq_analytics.airflow.executor.PreloadedLocalExecutor``, as
``make airflow``, the Docker Compose stack and the benchmark do. The scheduler holds the package in memory,
so **restart the scheduler after upgrading the package**; tasks otherwise keep running the version loaded
at its start. With the ``spawn`` start method nothing is inherited and it behaves as the LocalExecutor.
"""

from __future__ import annotations

import importlib

from airflow.executors.local_executor import LocalExecutor

#: What a task imports at run time: the DAG factory (every task parses its DAG file), the Pandas
#: engine (build tasks) and the alert callbacks (build tasks' success and failure callbacks).
PRELOADED_MODULES: tuple[str, ...] = (
    "mcq_analytics.airflow.dag_factory",
    "mcq_analytics.airflow.callbacks",
    "mcq_analytics.pipeline",
)


class PreloadedLocalExecutor(LocalExecutor):
    """LocalExecutor importing :data:`PRELOADED_MODULES` in the scheduler before it forks its workers."""

    def start(self) -> None:
        """Import the task-time modules (fork start method only), then start the LocalExecutor."""
        if self.is_mp_using_fork:
            for name in PRELOADED_MODULES:
                importlib.import_module(name)
            self.log.info("task processes inherit %s", ", ".join(PRELOADED_MODULES))
        super().start()

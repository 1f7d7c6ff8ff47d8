"""One entry point per window for every engine, so the CLI and the DAGs choose an engine the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mcq_analytics.config import Settings
from mcq_analytics.pipeline import PIPELINES, PipelineResult, run_pandas_window
from mcq_analytics.windows import Window

ProgressFn = Callable[[PipelineResult], None]


def run_window(engine: str, settings: Settings, source_url: str, warehouse_url: str, window: Window,
               pipelines: Sequence[str] = PIPELINES, triggered_by: str = "cli",
               progress: ProgressFn | None = None) -> list[PipelineResult]:
    """Build ``pipelines`` for ``window`` on ``engine`` (pandas; spark and auto arrive with the Spark engine)."""
    if engine == "pandas":
        return run_pandas_window(source_url, warehouse_url, window, pipelines, triggered_by, progress=progress)
    raise ValueError(f"engine {engine!r} is not available")

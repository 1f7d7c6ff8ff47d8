"""One entry point per window for every engine, so the CLI and the DAGs choose an engine the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from mcq_analytics.config import ENGINES, Settings
from mcq_analytics.extract import RangeSnapshot
from mcq_analytics.pipeline import PIPELINES, PipelineResult, run_pandas_window
from mcq_analytics.windows import Window

ProgressFn = Callable[[PipelineResult], None]


def run_window(engine: str, settings: Settings, source_url: str, warehouse_url: str, window: Window,
               pipelines: Sequence[str] = PIPELINES, triggered_by: str = "cli",
               progress: ProgressFn | None = None, *, run_ids: dict[str, str] | None = None,
               final: bool = True, expected_rows: int | None = None,
               snapshot: RangeSnapshot | None = None) -> list[PipelineResult]:
    """Build ``pipelines`` for ``window`` on ``engine``.

    ``pandas`` runs in this process; ``spark`` runs one ``spark-submit`` (``mcq_analytics.spark.run``) for all
    ``pipelines`` (docs/spark.md); ``auto`` counts the window's affected answer rows and takes
    ``spark`` from ``settings.auto_engine_threshold`` rows on, else ``pandas``. Either way each pipeline's
    run is recorded in ``etl_metadata``/``etl_run_log`` with the engine that actually ran it.

    ``run_ids`` names each pipeline's run (default: a fresh id); ``final=False`` marks an attempt a scheduler
    will retry (its failure is logged, not counted); ``expected_rows`` (the affected answer rows, if already
    counted) sizes the Spark job. ``snapshot`` is a range run's shared source snapshot (Pandas windows read in
    it; a Spark window makes the next window start a fresh one).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r} is not available (choose from {', '.join(ENGINES)})")
    pipelines = list(pipelines)
    window = replace(window, lookback=settings.lookback)  # the change scan reaches back (docs/operations.md)
    if engine != "pandas":
        from mcq_analytics.spark import run as spark_run  # no Spark machinery for Pandas-only runs

        if engine == "auto":
            engine, expected_rows = spark_run.choose_engine(settings, source_url, window)
        if engine == "spark":
            if snapshot is not None:
                snapshot.close()  # Spark reads the source itself: the next Pandas window needs a fresh snapshot
            return spark_run.run_spark_window(settings, source_url, warehouse_url, window, pipelines,
                                              triggered_by, run_ids=run_ids, progress=progress,
                                                 expected_rows=expected_rows, final=final)
    return run_pandas_window(source_url, warehouse_url, window, pipelines, triggered_by, run_ids=run_ids,
                             progress=progress, final=final, lock_timeout_seconds=settings.lock_timeout_seconds,
                             snapshot=snapshot)

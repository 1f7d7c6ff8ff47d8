"""The reload DAG's task: a long range built in work-sized windows (``planning.plan_range``) through the CLI's
``run_plan``, so a team reloads months of history from the Airflow UI at the cost of a ``run_etl.py --start
--end``, not of one hourly DAG run per hour (issue 17)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from mcq_analytics.airflow import support
from mcq_analytics.airflow.operators import PlanRunOperator
from mcq_analytics.config import ENGINES, ConfigError
from mcq_analytics.planning import PlanError, plan_range, validate_range
from mcq_analytics.windows import WindowError, last_full_hour, parse_time


class ReloadFailed(RuntimeError):
    """A window of the reload failed; its error is recorded in ``etl_metadata``/``etl_run_log``."""


class ReloadOperator(PlanRunOperator):
    """Rebuild ``[start, end)`` (the run's params) in work-sized windows: ``MCQ_WINDOW_BUDGET`` affected
    answers each, or ``window_hours`` clock hours; engine from the params, else ``MCQ_ENGINE`` (``auto`` picks
    per window). Logs the plan and each result; bad params fail at once in one line (no retry); a failed
    window fails the task after the other pipelines' windows ran (the CLI's stop-at-first-failure rule)."""

    ui_color = "#e2e3f3"

    def execute(self, context: Context) -> dict[str, Any]:
        params = context.get("params") or {}
        try:
            settings = support.settings_from_environment()
            if not (params.get("start") and params.get("end")):
                raise PlanError("set the params start and end ('YYYY:MM:DD HH' or ISO 8601, UTC if no zone)")
            start, end = parse_time(str(params["start"])), parse_time(str(params["end"]))
            window_hours = params.get("window_hours")
            engine = params.get("engine") or settings.engine
            if engine not in ENGINES:
                raise PlanError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
            validate_range(start, end, last_full_hour(settle=settings.settle), budget=settings.window_budget,
                           window_hours=window_hours)
        except (ConfigError, WindowError, PlanError) as exc:
            raise AirflowFailException(f"reload: {exc}") from None
        dbs = self.databases()
        windows = plan_range(dbs.source_url, start, end, budget=settings.window_budget, window_hours=window_hours,
                             shared_snapshot=settings.shares_range_snapshot)
        self.log.info("reload %s to %s: %d window(s) (%s) on %s", f"{start:%Y-%m-%d %H:%M}", f"{end:%Y-%m-%d %H:%M}",
                      len(windows), f"up to {window_hours} hour(s) each" if window_hours else
                      f"up to {settings.window_budget:,} affected answers each", engine)
        for window in windows:
            self.log.info("  planned: %s", window)
        results = self.run_plan({w: list(self.pipelines) for w in windows}, engine, settings, dbs, context)
        failed = [r for r in results if r.status != "success"]
        written, rejected = sum(r.rows_written for r in results), sum(r.rows_rejected for r in results)
        self.log.info("reload: %d window(s), %d pipeline run(s): %d succeeded, %d failed; %d fact rows written, "
                      "%d rejects", len(windows), len(results), len(results) - len(failed), len(failed), written,
                      rejected)
        if failed:
            raise ReloadFailed("reload: " + "; ".join(
                f"{r.pipeline} {r.window}: {(r.error or 'failed').splitlines()[0]}" for r in failed))
        return {"windows": [[w.start.isoformat(), w.end.isoformat()] for w in windows], "runs": len(results),
                "rows_written": written, "rows_rejected": rejected}


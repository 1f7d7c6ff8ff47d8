"""The one factory of the fact DAGs: ``fact_dag("pandas")`` is ``mcq_analytics_batch``, ``fact_dag("spark")``
``mcq_analytics_spark``; both DAG files in ``dags/`` only call it.

Each DAG has one task group per fact of ``mcq_analytics.facts.REGISTRY``: its build task, then one ``checks``
task running all its data-quality checks (columns, ranges and table rules from the registry, the rule file's
derived-column rules) in one query. The alert callbacks
sit on the build tasks only (a check's outcome never changes a pipeline's failure streak). Building a DAG
touches no database and reads no connection (it runs at every DAG parse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, BaseOperator, CronDataIntervalTimetable, Param, TaskGroup

from mcq_analytics import facts as registry
from mcq_analytics.airflow import support
from mcq_analytics.airflow.callbacks import on_task_failure, on_task_success
from mcq_analytics.airflow.operators import (
    FactBuildOperator,
    NamedSQLCheckOperator,
    ReconcileOperator,
)
from mcq_analytics.airflow.reload import ReloadOperator
from mcq_analytics.config import ENGINES
from mcq_analytics.paths import SQL_DIR

#: Hourly windows [HH:00, HH+1:00) UTC. Not "@hourly": in Airflow 3 that gives a zero-length data interval.
SCHEDULE = CronDataIntervalTimetable("0 * * * *", timezone="UTC")
START_DATE = datetime(2024, 1, 1, tzinfo=UTC)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "mcq-analytics",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,  # 2 min, then 4 min
    "max_retry_delay": timedelta(minutes=20),
    "execution_timeout": timedelta(minutes=45),
}
#: The build tasks' alert callbacks: task-level (a DAG-level on_failure_callback is not reliable in
#: Airflow 3, see docs/airflow.md), and only on builds: the failure streak counts builds, so a check's
#: callback would open a warehouse connection and take a row lock only to decide nothing.
BUILD_CALLBACKS: dict[str, Any] = {"on_failure_callback": on_task_failure, "on_success_callback": on_task_success}
#: Quality checks are deterministic: one retry covers a dropped connection without delaying the alert.
CHECK_ARGS: dict[str, Any] = {"retries": 1, "retry_delay": timedelta(seconds=30),
                              "retry_exponential_backoff": 0, "execution_timeout": timedelta(minutes=10)}

CHECKS_DOC = """
**Tasks.** `build` writes the fact for the run's data interval in one locked, atomic transaction and records
`etl_metadata`/`etl_run_log`; then `checks` runs every data-quality check of the fact on connection
`mcq_warehouse` in one query, scoped to the rows **this DAG run wrote** — `etl_run_id` starts with
`<fact>__<dag_id>__<run_id>__`, i.e. exactly the sessions or (test, hour) buckets the window recomputed: no
NULL keys, values in range, unique keys and nested counts (from the registry), and the contract's
derived-column rules (`include/sql/checks/<fact>.sql`). Its log lists each check with `True`/`False`; a
failure names the failed checks.
"""


def fact_asset(fact: str) -> Asset:
    """The asset a fact's build task updates (both engines' DAGs update the same one)."""
    declared = registry.fact(fact)
    return Asset(name=declared.asset_name, uri=declared.asset_uri, group="mcq_analytics")


def dag_doc(engine_text: str) -> str:
    """The DAG's Markdown documentation (shown in the UI)."""
    groups = ", ".join(f"`{name}`" for name in registry.FACT_NAMES)
    return f"""\
## MCQ analytics facts — {engine_text}
Builds the fact tables of `analytics` (docs/data_contract.md) for each hourly data interval
`[data_interval_start, data_interval_end)` in UTC, from the source database (connection `mcq_source`) into
the warehouse (connection `mcq_warehouse`).

**Groups are independent.** Each fact is computed from the *source* tables, not from another fact (the
test-level facts use final answers recomputed from the answers themselves), so the groups ({groups}) run
in parallel and a failure of one never blocks or changes the others. Each group ends with its quality
checks.

**Safe to repeat.** Every fact write takes the fact's advisory lock and replaces the window's keys
atomically: re-running an interval changes nothing, overlapping runs (this DAG and the other engine's,
or a backfill) serialise. `max_active_runs=1` keeps scheduled runs in order; `catchup=False`: history is
filled with `airflow backfill create` (docs/airflow.md). `MCQ_ENGINE` chooses which of
`mcq_analytics_batch` / `mcq_analytics_spark` is active; the other is created paused.
"""


def dag_kwargs(dag_id: str, engine_text: str, tags: list[str]) -> dict[str, Any]:
    """Keyword arguments of ``DAG(...)`` common to both fact DAGs."""
    return {
        "dag_id": dag_id,
        "schedule": SCHEDULE,
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "dagrun_timeout": timedelta(hours=3),
        "default_args": DEFAULT_ARGS,
        "tags": ["mcq-analytics", *tags],
        "doc_md": dag_doc(engine_text),
        "description": f"Hourly: the {len(registry.FACT_NAMES)} fact tables for each data interval, "
                       f"{engine_text}; quality checks per fact",
        "template_searchpath": [str(SQL_DIR)],
        "is_paused_upon_creation": support.paused_upon_creation(dag_id),
    }


def group_doc(fact: str) -> str:
    """A fact's task-group documentation: the registry's text plus what the group's tasks do."""
    return registry.fact(fact).doc + CHECKS_DOC


def scope_clause(fact: str) -> str:
    """SQL (Jinja) restricting a check to the rows written by this DAG run's builds of ``fact``."""
    return f"starts_with(etl_run_id, {support.run_prefix_template(fact)})"


def check_expressions(fact: str) -> dict[str, str]:
    """The registry's checks of ``fact`` as named SQL aggregates over the run's rows (true = pass), in the
    order the log lists them: no NULL in keys and required columns, the columns' ranges (an empty scope
    passes, as ``SQLColumnCheckOperator(accept_none=True)`` did), then the table rules (a NULL fails, as
    ``SQLTableCheckOperator`` did)."""
    declared = registry.fact(fact)
    checks: dict[str, str] = {}
    for col in dict.fromkeys((*declared.keys, *declared.not_null)):
        checks[f"{col} is not null"] = f"count(*) FILTER (WHERE {col} IS NULL) = 0"
    for col, (low, high) in declared.ranges.items():
        checks[f"{col} >= {low:g}"] = f"coalesce(min({col}) >= {low:g}, true)"
        if high is not None:
            checks[f"{col} <= {high:g}"] = f"coalesce(max({col}) <= {high:g}, true)"
    for name, stmt in declared.table_rules.items():
        checks[f"table {name}"] = f"coalesce({stmt}, false)"
    return checks


def checks_sql(fact: str) -> str:
    """One query, one row of named booleans: the registry's checks (``check_expressions``) beside the rule
    file's (``include/sql/checks/<fact>.sql``, included by Jinja), both over the rows this DAG run wrote."""
    declared = registry.fact(fact)
    columns = ",\n".join(f'    {expr} AS "{name}"' for name, expr in check_expressions(fact).items())
    return (f"SELECT * FROM (\nSELECT\n{columns}\nFROM {declared.table}\nWHERE {scope_clause(fact)}\n"
            f") AS registry_checks CROSS JOIN (\n{{% include 'checks/{fact}.sql' %}}\n) AS rule_checks")


def quality_checks(fact: str, conn_id: str = support.WAREHOUSE_CONN_ID) -> BaseOperator:
    """The ``checks`` task of a fact's group (create it inside the group's context): every check of the fact
    in one query and one task process — before, three tasks of three processes each scanned the run's rows
    (issue 17: most of an hourly run was check tasks starting up). The log names each check with its result
    and a failure names the failed ones."""
    listed = "\n".join(f"- `{name}`" for name in check_expressions(fact))
    return NamedSQLCheckOperator(
        task_id="checks", conn_id=conn_id, sql=checks_sql(fact), params={"fact": fact},
        subject=registry.fact(fact).table, **CHECK_ARGS,
        doc_md=f"All data-quality checks of `analytics.{fact}` over the rows this DAG run wrote, one query:\n"
               f"{listed}\n- and the contract's derived-column rules of `include/sql/checks/{fact}.sql`.",
    )


# -- the factory ---------------------------------------------------------------------------------------
BuildFactory = Callable[[str], BaseOperator]


def _pandas_build(fact: str) -> BaseOperator:
    return FactBuildOperator(
        task_id="build", pipeline=fact, outlets=[fact_asset(fact)], **BUILD_CALLBACKS,
        doc_md=f"Builds `analytics.{fact}` for the data interval with the Pandas engine, or with the engine "
               "`MCQ_ENGINE=auto` picks for the interval (the task log says which, and `etl_metadata.engine` "
               "records it).",
    )


def _spark_build(fact: str) -> BaseOperator:
    from mcq_analytics.airflow.spark_operator import SparkFactSubmitOperator  # only the Spark DAG loads Spark

    return SparkFactSubmitOperator(
        task_id="build", pipeline=fact, outlets=[fact_asset(fact)], **BUILD_CALLBACKS,
        doc_md=f"Submits the Spark job that builds `analytics.{fact}` for the data interval.",
    )


@dataclass(frozen=True)
class FactDagSpec:
    """What differs between the two fact DAGs."""

    dag_id: str
    title: str
    tags: tuple[str, ...]
    build: BuildFactory


DAG_SPECS: dict[str, FactDagSpec] = {
    "pandas": FactDagSpec(support.BATCH_DAG_ID, "Pandas engine (or auto: Pandas or Spark per interval)",
                          ("pandas",), _pandas_build),
    "spark": FactDagSpec(support.SPARK_DAG_ID, "Spark engine", ("spark",), _spark_build),
}


def fact_dag(engine: str) -> DAG:
    """The fact DAG of ``engine`` (``pandas``: the batch DAG, whose builds also serve ``MCQ_ENGINE=auto``;
    ``spark``): one task group per registered fact, its build task then its ``checks`` task."""
    try:
        spec = DAG_SPECS[engine]
    except KeyError:
        raise ValueError(f"no fact DAG for engine {engine!r} (choose from {', '.join(DAG_SPECS)})") from None
    with DAG(**dag_kwargs(spec.dag_id, spec.title, tags=list(spec.tags))) as dag:
        for declared in registry.REGISTRY:
            fact = declared.name
            with TaskGroup(group_id=fact, tooltip=declared.table, doc_md=group_doc(fact)):
                spec.build(fact) >> quality_checks(fact)
    return dag


# -- the reconcile DAG ---------------------------------------------------------------------------------
RECONCILE_DAG_ID = "mcq_analytics_reconcile"
#: Daily at 03:30 UTC, after the night's hourly runs; its data interval is not used (the range is
#: ``MCQ_RECONCILE_DAYS`` days before the watermarks).
RECONCILE_SCHEDULE = CronDataIntervalTimetable("30 3 * * *", timezone="UTC")

RECONCILE_DOC = """\
## MCQ analytics — reconcile
Once a day, does what `python run_etl.py reconcile` does: recomputes the source fingerprint of every processed
hour of the last `MCQ_RECONCILE_DAYS` days (before each pipeline's watermark) and reprocesses, with the engine
of `MCQ_ENGINE`, every hour whose rows changed after it was processed (rows committed later than the
look-back covers: a replica far behind, a very long transaction, an update in place). Connections
`mcq_source` and `mcq_warehouse`. The task log lists the changed hours and each reprocessing result; the
task fails if any reprocessing run failed. Safe to run at any time, also while the hourly DAG runs (the fact
writes are locked and idempotent). docs/operations.md, "Late rows".
"""


def reconcile_dag() -> DAG:
    """``mcq_analytics_reconcile``: one ``reconcile`` task, daily (issue 11: late rows beyond the look-back)."""
    with DAG(dag_id=RECONCILE_DAG_ID, schedule=RECONCILE_SCHEDULE, start_date=START_DATE, catchup=False,
             max_active_runs=1, dagrun_timeout=timedelta(hours=6),
             default_args={**DEFAULT_ARGS, "execution_timeout": timedelta(hours=5)},
             tags=["mcq-analytics", "reconcile"], doc_md=RECONCILE_DOC,
             description="Daily: reprocess processed hours of the last MCQ_RECONCILE_DAYS days whose source "
                         "rows changed (late commits beyond the look-back)") as dag:
        ReconcileOperator(task_id="reconcile",
                          doc_md="Plans with `reconcile.plan` and reprocesses the changed hours "
                                 "(`run_etl.py reconcile`; its alerts are sent by the runs themselves).")
    return dag


# -- the reload DAG ------------------------------------------------------------------------------------
RELOAD_DAG_ID = "mcq_analytics_reload"

RELOAD_DOC = """\
## MCQ analytics — reload a range
Manual only. Rebuilds every fact over `[start, end)` (UTC; `end` no later than the last settled hour) the way
`run_etl.py --start … --end …` does: consecutive active hours merged into windows of up to `MCQ_WINDOW_BUDGET`
affected answers (or `window_hours` clock hours; 1 = hour by hour), each quiet stretch one window, every window
recorded in `etl_metadata`/`etl_run_log` and the watermarks moving in order. `engine` overrides `MCQ_ENGINE`
(`auto` picks Pandas or Spark per window). For installs, contract changes and incidents: one run instead of
one hourly DAG run per hour. docs/operations.md, "Reloading a range".
"""


def reload_dag() -> DAG:
    """``mcq_analytics_reload``: one ``reload`` task, triggered by hand with the range as params (issue 17)."""
    with DAG(dag_id=RELOAD_DAG_ID, schedule=None, start_date=START_DATE, catchup=False, max_active_runs=1,
             dagrun_timeout=timedelta(hours=24),
             default_args={**DEFAULT_ARGS, "retries": 0, "execution_timeout": timedelta(hours=23)},
             tags=["mcq-analytics", "reload"], doc_md=RELOAD_DOC,
             params={"start": Param(None, type=["null", "string"],
                                    description="Range start, 'YYYY:MM:DD HH' or ISO 8601 (UTC if no zone)"),
                     "end": Param(None, type=["null", "string"],
                                  description="Range end (exclusive), no later than the last settled hour"),
                     "engine": Param(None, type=["null", "string"], enum=[None, *ENGINES],
                                     description="pandas, spark or auto (empty: MCQ_ENGINE)"),
                     "window_hours": Param(None, type=["null", "integer"], minimum=1,
                                           description="Windows of up to N clock hours (empty: by MCQ_WINDOW_BUDGET "
                                                       "affected answers; 1: hour by hour)")},
             description="Manual: rebuild a range of hours in work-sized windows (params start, end, engine, "
                         "window_hours)") as dag:
        ReloadOperator(task_id="reload",
                       doc_md="Plans with `planning.plan_range` and runs the windows through the CLI's `run_plan` "
                              "(its alerts are sent by the runs themselves).")
    return dag


# -- the item review DAG -------------------------------------------------------------------------------
ITEM_REVIEW_DAG_ID = "mcq_item_review"
#: The asset whose updates trigger the review: every build of the item-statistics fact (either engine).
ITEM_REVIEW_FACT = "item_statistics_fact"

ITEM_REVIEW_DOC = """\
## MCQ analytics — item review
Runs each time `item_statistics_fact` is updated (Airflow asset scheduling, not a clock). Over the trailing
range `[end − days, end)` — `days` from the run's param, else `MCQ_ITEM_REVIEW_DAYS` (30); `end` the latest
`data_interval_end` of the triggering builds, or now for a manual run — it refreshes `analytics.item_review`
from `analytics.item_analysis` / `analytics.option_analysis`: new flags are inserted and announced once on
Slack and e-mail (the alert channels), flags that no longer hold are resolved and their resolution announced
once; a re-run sends nothing. docs/item_analysis.md, "The review DAG".
"""


def triggered_end(context: Any) -> datetime | None:
    """The review range's end: the latest ``data_interval_end`` of the triggering asset events (their extra,
    else their source run), else the run's own data interval end; None (= now) for a manual run."""
    ends: list[datetime] = []
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            value = (event.extra or {}).get("data_interval_end")
            if value is None and getattr(event, "source_dag_run", None) is not None:
                value = event.source_dag_run.data_interval_end
            if value is not None:
                ends.append(datetime.fromisoformat(value) if isinstance(value, str) else value)
    if ends:
        return max(ends)
    dag_run = context.get("dag_run")
    return getattr(dag_run, "data_interval_end", None) if dag_run is not None else None


def run_item_review(**context: Any) -> dict[str, Any]:
    """The review task: ``mcq_analytics.item_review.review`` on the ``mcq_warehouse`` connection's database."""
    from mcq_analytics import item_review

    settings = support.settings_from_environment()
    params = context.get("params") or {}
    days = item_review.review_days(params.get("days"), settings)
    warehouse_url = support.connection_url(support.WAREHOUSE_CONN_ID)
    result = item_review.review(warehouse_url, settings, end=triggered_end(context), days=days,
                                min_attempts=int(params.get("min_attempts") or 30))
    return {"range_start": result.range_start.isoformat(), "range_end": result.range_end.isoformat(),
            "open_flags": result.open_flags, "announced": result.announced, "resolved": result.resolved}


def item_review_dag() -> DAG:
    """``mcq_item_review``: one ``review`` task, scheduled on the item-statistics asset (issue 14 item 5)."""
    from airflow.providers.standard.operators.python import PythonOperator  # only this DAG: keeps task parses light

    with DAG(dag_id=ITEM_REVIEW_DAG_ID, schedule=[fact_asset(ITEM_REVIEW_FACT)], start_date=START_DATE,
             catchup=False, max_active_runs=1, dagrun_timeout=timedelta(hours=1),
             default_args={**DEFAULT_ARGS, "execution_timeout": timedelta(minutes=30)},
             tags=["mcq-analytics", "item-analysis"], doc_md=ITEM_REVIEW_DOC,
             params={"days": Param(None, type=["null", "integer"], minimum=1,
                                   description="Trailing range in days (empty: MCQ_ITEM_REVIEW_DAYS, 30)"),
                     "min_attempts": Param(30, type="integer", minimum=1,
                                           description="No flag below this many attempts")},
             description="On each item_statistics_fact update: flag questions and options over the trailing "
                         "MCQ_ITEM_REVIEW_DAYS days into analytics.item_review; announce new flags and "
                         "resolutions once") as dag:
        PythonOperator(task_id="review", python_callable=run_item_review,
                       doc_md="`mcq_analytics.item_review.review` over the trailing range; returns the counts.")
    return dag

"""DAG integrity: every file in dags/ imports cleanly without touching a database, both DAGs are hourly with
one-hour data intervals, one independent task group per registered fact with its build task, checks and
outlets, the defaults the project relies on, and the Airflow glue in ``mcq_analytics.airflow.support``.

Parsing happens in this process (DagBag needs no database); the no-database proof runs in a child process
whose every database and connection points at a closed port."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest
from airflow_harness import DAGS_DIR, FACTS, PLUGINS_DIR, REPO, clean_environ, free_port

from mcq_analytics.airflow import support

DAG_IDS = ("mcq_analytics_batch", "mcq_analytics_spark")
RECONCILE_DAG_ID = "mcq_analytics_reconcile"
ITEM_REVIEW_DAG_ID = "mcq_item_review"
RELOAD_DAG_ID = "mcq_analytics_reload"


@pytest.fixture(scope="session")
def airflow_in_process(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Let this process import Airflow with a throwaway AIRFLOW_HOME."""
    import os

    if "airflow" not in sys.modules:
        os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home_parse")))
        os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


def load_dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


@pytest.fixture(scope="module")
def dagbag(airflow_in_process):
    return load_dagbag()


@pytest.fixture(scope="module")
def dags(dagbag):
    return {dag_id: dagbag.dags[dag_id] for dag_id in DAG_IDS}


def serialized(dag):
    """The DAG as the scheduler sees it (serialised and back): its timetable is the core one."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))


def render(task, content, run_id="scheduled__2024-06-01T10:00:00+00:00", try_number=1):
    context = {"dag": task.dag, "run_id": run_id, "ti": SimpleNamespace(try_number=try_number),
               "params": dict(task.params),
               "data_interval_start": datetime(2024, 6, 1, 10, tzinfo=UTC),
               "data_interval_end": datetime(2024, 6, 1, 11, tzinfo=UTC)}
    return task.render_template(content, context)


# -- import ----------------------------------------------------------------------------------------
GUARD = textwrap.dedent("""
    import json, socket, sys, warnings
    attempts = []
    def refuse(what):
        def blocked(*args, **kwargs):
            attempts.append(what)
            raise RuntimeError(f"{what} at DAG parse time")
        return blocked
    import psycopg, psycopg2
    psycopg.connect = refuse("psycopg.connect")
    psycopg2.connect = refuse("psycopg2.connect")
    socket.socket.connect = refuse("socket.connect")
    socket.create_connection = refuse("socket.create_connection")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from airflow.dag_processing.dagbag import DagBag
        batch = DagBag(dag_folder=sys.argv[1] + "/mcq_analytics_batch.py")  # what each batch task process parses
        batch_loaded = [m for m in ("pandas", "pyarrow", "pyspark", "airflow.providers.apache.spark.operators",
                                    "airflow.providers.openlineage.plugins.listener") if m in sys.modules]
        bag = DagBag(dag_folder=sys.argv[1])
    ours = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught
            if sys.argv[2] in str(w.filename) or "Deprecat" in w.category.__name__]
    print("PARSE " + json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                                 "dags": sorted(bag.dags), "attempts": attempts, "warnings": ours,
                                 "heavy": [m for m in ("pandas", "pyarrow", "pyspark") if m in sys.modules],
                                 "batch": sorted(batch.dags), "batch_loaded": batch_loaded}))
""")


def test_dag_files_import_cleanly_without_any_database(tmp_path):
    """Every dags/ file parses with the metadata DB and all connections unreachable and every database or
    socket connection attempt refused: nothing touches a database (or the network) at import time, no
    deprecated import path is used, and neither pandas, pyarrow nor pyspark is imported."""
    closed = f"127.0.0.1:{free_port()}"
    env = clean_environ()
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://nobody:secret@{closed}/none",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_MCQ_SOURCE": f"postgresql://nobody:secret@{closed}/none",
        "AIRFLOW_CONN_MCQ_WAREHOUSE": f"postgresql://nobody:secret@{closed}/none",
        "MCQ_SOURCE_URL": f"postgresql://nobody:secret@{closed}/none",
        "MCQ_WAREHOUSE_URL": f"postgresql://nobody:secret@{closed}/none",
    })
    proc = subprocess.run([sys.executable, "-c", GUARD, str(DAGS_DIR), str(REPO)], env=env, capture_output=True,
                          text=True, timeout=180, cwd=str(tmp_path))
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PARSE ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    result = json.loads(lines[-1].removeprefix("PARSE "))
    assert result["errors"] == {}
    assert result["attempts"] == []
    assert result["dags"] == sorted([*DAG_IDS, RECONCILE_DAG_ID, ITEM_REVIEW_DAG_ID, RELOAD_DAG_ID])
    assert result["warnings"] == []
    # Parsing stays light (every task process parses its DAG file): the engines' libraries load at run time,
    # and the batch DAG's file loads neither the Spark provider nor, through it, the OpenLineage listener.
    assert result["heavy"] == []
    assert (result["batch"], result["batch_loaded"]) == (["mcq_analytics_batch"], [])
    assert sorted(p.name for p in DAGS_DIR.glob("*.py")) == ["mcq_analytics_batch.py", "mcq_analytics_reconcile.py",
                                                             "mcq_analytics_reload.py", "mcq_analytics_spark.py",
                                                             "mcq_item_review.py"]


def test_dagbag_has_both_dags_and_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(DAG_IDS) <= set(dagbag.dags)


def test_reconcile_dag_is_daily_with_one_reconcile_task(dagbag):
    """Issue 11: the daily DAG of ``run_etl.py reconcile`` — one task, one run at a time, no catch-up."""
    import pendulum
    from airflow.sdk import CronDataIntervalTimetable

    from mcq_analytics.airflow.operators import ReconcileOperator

    dag = dagbag.dags[RECONCILE_DAG_ID]
    assert [t.task_id for t in dag.tasks] == ["reconcile"]
    assert isinstance(dag.tasks[0], ReconcileOperator)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert (dag.catchup, dag.max_active_runs) == (False, 1)
    assert "MCQ_RECONCILE_DAYS" in dag.description
    interval = serialized(dag).timetable.infer_manual_data_interval(
        run_after=pendulum.datetime(2024, 6, 2, 12, tz="UTC"))
    assert (interval.start, interval.end) == (pendulum.datetime(2024, 6, 1, 3, 30, tz="UTC"),
                                              pendulum.datetime(2024, 6, 2, 3, 30, tz="UTC"))


def test_reload_dag_is_manual_with_the_range_as_params(dagbag):
    """Issue 17: ``mcq_analytics_reload`` has no schedule, one ``reload`` task, one run at a time, no retries
    (a reload is long and its windows are recorded: rerun it instead), and the range, engine and window hours
    as params."""
    from airflow.sdk.definitions.timetables.simple import NullTimetable

    from mcq_analytics.airflow.reload import ReloadOperator

    dag = dagbag.dags[RELOAD_DAG_ID]
    assert [t.task_id for t in dag.tasks] == ["reload"]
    assert isinstance(dag.tasks[0], ReloadOperator)
    assert isinstance(dag.timetable, NullTimetable)
    assert serialized(dag).timetable.summary == "None"
    assert (dag.catchup, dag.max_active_runs, dag.tasks[0].retries) == (False, 1, 0)
    assert {name: dag.params[name] for name in ("start", "end", "engine", "window_hours")} == \
        {"start": None, "end": None, "engine": None, "window_hours": None}
    assert dag.params.get_param("engine").schema["enum"] == [None, "pandas", "spark", "auto"]
    assert dag.params.get_param("window_hours").schema["minimum"] == 1


def test_item_review_dag_is_scheduled_on_the_item_statistics_asset(dagbag):
    """Issue 14 item 5: ``mcq_item_review`` runs on updates of the item-statistics asset (not a clock), which
    is the very asset both fact DAGs' ``item_statistics_fact.build`` tasks update."""
    from airflow.sdk import Asset
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    from mcq_analytics.facts import fact

    dag = dagbag.dags[ITEM_REVIEW_DAG_ID]
    declared = fact("item_statistics_fact")
    asset = Asset(name=declared.asset_name, uri=declared.asset_uri, group="mcq_analytics")
    assert isinstance(dag.timetable, AssetTriggeredTimetable)
    assert list(dag.timetable.asset_condition.objects) == [asset]  # schedule=[asset]: AssetAll of the one asset
    assert serialized(dag).timetable.summary == "Asset"
    for dag_id in DAG_IDS:
        assert dagbag.dags[dag_id].get_task("item_statistics_fact.build").outlets == [asset]
    assert [t.task_id for t in dag.tasks] == ["review"]
    assert (dag.catchup, dag.max_active_runs) == (False, 1)
    assert (dag.params["days"], dag.params["min_attempts"]) == (None, 30)


# -- schedule ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_is_hourly_with_one_hour_data_intervals(dags, dag_id):
    import pendulum
    from airflow.sdk import CronDataIntervalTimetable
    from airflow.timetables.base import TimeRestriction

    dag = dags[dag_id]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    timetable = serialized(dag).timetable
    restriction = TimeRestriction(earliest=pendulum.datetime(2024, 6, 1, 10), latest=None, catchup=True)
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    for _ in range(30):  # over a day boundary too
        start, end = info.data_interval.start, info.data_interval.end
        assert end - start == timedelta(hours=1)
        assert (start.minute, start.second, start.microsecond) == (0, 0, 0)
        assert info.run_after == end
        info = timetable.next_dagrun_info(last_automated_data_interval=info.data_interval, restriction=restriction)
        assert info.data_interval.start == end  # consecutive, no gap
    manual = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2024, 6, 1, 11, 30))
    assert (manual.start, manual.end) == (pendulum.datetime(2024, 6, 1, 10), pendulum.datetime(2024, 6, 1, 11))


def test_hourly_preset_would_give_zero_length_intervals(airflow_in_process):
    """Why the DAGs do not use "@hourly": in Airflow 3 it is a trigger timetable with empty intervals."""
    import pendulum
    from airflow.sdk import DAG
    from airflow.timetables.base import TimeRestriction

    dag = DAG("hourly_preset", schedule="@hourly", start_date=datetime(2024, 1, 1, tzinfo=UTC))
    restriction = TimeRestriction(earliest=pendulum.datetime(2024, 6, 1, 10), latest=None, catchup=True)
    info = serialized(dag).timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert info.data_interval.start == info.data_interval.end


# -- structure -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_independent_task_groups_each_build_then_one_checks_task(dags, dag_id):
    from airflow.sdk import TaskGroup

    dag = dags[dag_id]
    groups = dag.task_group.children
    assert list(groups) == list(FACTS)
    for fact, group in groups.items():
        assert isinstance(group, TaskGroup)
        assert f"analytics.{fact}" in group.doc_md
        assert list(group.children) == [f"{fact}.build", f"{fact}.checks"]
        build = dag.get_task(f"{fact}.build")
        assert build.upstream_task_ids == set()  # groups are independent (documented in doc_md)
        assert build.downstream_task_ids == {f"{fact}.checks"}
        assert dag.get_task(f"{fact}.checks").downstream_task_ids == set()
    assert len(dag.tasks) == 2 * len(FACTS)


def check_names(dag, fact: str, warehouse_url: str) -> list[str]:
    """The names of the checks the fact's ``checks`` query returns (run on an empty warehouse)."""
    task = dag.get_task(f"{fact}.checks")
    with psycopg.connect(warehouse_url) as conn:
        cur = conn.execute(render(task, task.sql, RUN))
        return [d.name for d in cur.description]


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_checks_use_the_common_sql_check_operator_on_the_warehouse(dags, dag_id):
    """One ``SQLCheckOperator`` per fact, on ``mcq_warehouse``: the registry's column, range and table checks
    beside the rule file it includes (``include/sql/checks/<fact>.sql``)."""
    from airflow.providers.common.sql.operators.sql import SQLCheckOperator

    from mcq_analytics.airflow.dag_factory import check_expressions
    from mcq_analytics.airflow.operators import NamedSQLCheckOperator
    from mcq_analytics.facts import fact as declared

    dag = dags[dag_id]
    for fact in FACTS:
        task = dag.get_task(f"{fact}.checks")
        assert isinstance(task, SQLCheckOperator) and isinstance(task, NamedSQLCheckOperator)
        assert task.conn_id == "mcq_warehouse"
        assert task.subject == f"analytics.{fact}"
        assert f"{{% include 'checks/{fact}.sql' %}}" in task.sql
        rendered = render(task, task.sql)
        rule_file = (REPO / "include" / "sql" / "checks" / f"{fact}.sql").read_text()
        assert render(task, rule_file).strip() in rendered
        assert f"FROM analytics.{fact}" in rendered
        names = check_expressions(fact)
        f = declared(fact)
        assert {f"{col} is not null" for col in (*f.keys, *f.not_null)} <= set(names)
        assert {f"table {rule}" for rule in f.table_rules} <= set(names)
        assert "table keys_unique" in names
        for col, (low, high) in f.ranges.items():
            assert f"{col} >= {low:g}" in names
            if high is not None:
                assert f"{col} <= {high:g}" in names
        assert len([n for n in names if " <= " in n]) == sum(high is not None for _, high in f.ranges.values())
        for name in names:  # each is in the task's documentation (the UI's task page)
            assert f"`{name}`" in task.doc_md
    assert "table stages_non_increasing" in check_expressions("test_funnel_fact")
    assert {"pass_rate >= 0", "pass_rate <= 1"} <= set(check_expressions("test_summary_fact"))


def test_build_operators_and_their_outlets(dags):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.sdk import Asset

    from mcq_analytics.airflow.operators import FactBuildOperator, SparkFactSubmitOperator

    for fact in FACTS:
        pandas_build = dags["mcq_analytics_batch"].get_task(f"{fact}.build")
        spark_build = dags["mcq_analytics_spark"].get_task(f"{fact}.build")
        assert type(pandas_build) is FactBuildOperator
        assert FactBuildOperator.template_fields == ("window_start", "window_end")
        assert isinstance(spark_build, SparkFactSubmitOperator) and isinstance(spark_build, SparkSubmitOperator)
        for build in (pandas_build, spark_build):
            assert build.pipeline == fact
            assert build.warehouse_conn_id == "mcq_warehouse" and build.source_conn_id == "mcq_source"
            assert build.outlets == [Asset(name=f"mcq_warehouse.analytics.{fact}",
                                           uri=f"mcq://mcq_warehouse/analytics/{fact}", group="mcq_analytics")]
        assert pandas_build.engine is None  # MCQ_ENGINE decides on the worker, at run time
        assert pandas_build.spark_conn_id == spark_build.spark_conn_id == "spark_default"
        assert spark_build.application == str(REPO / "include" / "spark_jobs" / "build_fact.py")
        assert spark_build.env_vars is None  # filled from the connections at run time only


def test_spark_job_arguments_render_the_window_and_run_id_and_no_secrets(dags):
    for fact in FACTS:
        task = dags["mcq_analytics_spark"].get_task(f"{fact}.build")
        args = render(task, task.application_args, try_number=2)
        run_id = support.run_id_for(fact, "mcq_analytics_spark", "scheduled__2024-06-01T10:00:00+00:00", 2)
        assert args == ["--pipeline", fact, "--window-start", "2024-06-01T10:00:00+00:00",
                        "--window-end", "2024-06-01T11:00:00+00:00", "--run-id", run_id]
        assert not any("postgres" in str(a) or "@" in str(a) for a in args)
        assert render(task, task.window_start) == "2024-06-01T10:00:00+00:00"


def test_batch_build_renders_its_window(dags):
    task = dags["mcq_analytics_batch"].get_task("test_summary_fact.build")
    window = support.window_from(render(task, task.window_start), render(task, task.window_end))
    assert (window.start, window.end) == (datetime(2024, 6, 1, 10, tzinfo=UTC), datetime(2024, 6, 1, 11, tzinfo=UTC))


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_defaults(dags, dag_id):
    from mcq_analytics.airflow.callbacks import on_task_failure, on_task_success

    dag = dags[dag_id]
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert "mcq-analytics" in dag.tags
    assert "Groups are independent" in dag.doc_md
    assert str(REPO / "include" / "sql") in dag.template_searchpath
    for task in dag.tasks:
        assert task.owner == "mcq-analytics"
        assert task.execution_timeout is not None
        if task.task_id.endswith(".build"):  # the alert callbacks sit on the build tasks ...
            assert task.on_failure_callback == [on_task_failure]
            assert task.on_success_callback == [on_task_success]
        else:  # ... and only there: the checks' outcome never moves a pipeline's failure streak
            assert task.on_failure_callback in (None, [])
            assert task.on_success_callback in (None, [])
            assert task.retries == 1
    for fact in FACTS:
        build = dag.get_task(f"{fact}.build")
        assert build.retries == 2 and build.retry_exponential_backoff == 2.0
        assert build.max_retry_delay == timedelta(minutes=20)
        assert build.execution_timeout == timedelta(minutes=45)


@pytest.mark.parametrize(("engine", "paused"), [
    (None, {"mcq_analytics_batch": None, "mcq_analytics_spark": True}),
    ("pandas", {"mcq_analytics_batch": None, "mcq_analytics_spark": True}),
    ("auto", {"mcq_analytics_batch": None, "mcq_analytics_spark": True}),
    ("spark", {"mcq_analytics_batch": True, "mcq_analytics_spark": None}),
])
def test_mcq_engine_creates_the_other_engines_dag_paused(airflow_in_process, monkeypatch, engine, paused):
    if engine is None:
        monkeypatch.delenv("MCQ_ENGINE", raising=False)
    else:
        monkeypatch.setenv("MCQ_ENGINE", engine)
    bag = load_dagbag()
    assert {dag_id: bag.dags[dag_id].is_paused_upon_creation for dag_id in DAG_IDS} == paused


# -- quality-check SQL against a real warehouse -------------------------------------------------------
RUN = "scheduled__2024-06-01T10:00:00+00:00"
GOOD = {
    "question_interaction_fact": (
        "(1, 11, 1, 1, '2024-06-01 10:05+00', '2024-06-01 10:07+00', '2024-06-01 10:00+00', 2, 1, 2, true, 1, 10, %s)"
    ),
    "test_summary_fact": (
        "(1, '2024-06-01 10:00+00', 4, 3, 2, 75, 75, 50, 100, 1, 0.5, 60, 2.5, %s)"
    ),
    "test_funnel_fact": (
        "(1, '2024-06-01 10:00+00', 4, 3, 2, 1, 1, 0.75, 0.5, 0.25, 0.25, 'engaged', %s)"
    ),
    # two attempts, X = 200 and 100 hundredths; the first got question 11 (1 point) right
    "item_statistics_fact": "(1, '2024-06-01 10:00+00', 11, 2, 2, 1, 100, 100, 10000, 300, 50000, 20000, %s)",
    "option_choice_fact": "(1, '2024-06-01 10:00+00', 11, 0, false, 2, 2, 300, 50000, %s)",
}
BAD = {  # each breaks one rule of the rule file, plus a column, range or table check of the registry
    "question_interaction_fact": (
        "(2, 11, 1, 1, '2024-06-01 10:05+00', '2024-06-01 10:07+00', '2024-06-01 10:00+00', 2, 0, 2, false, 1, -1, %s)"
    ),
    "test_summary_fact": (
        "(2, '2024-06-01 10:30+00', 4, 3, 2, 75, 75, 50, 100, 3, 1.5, 60, 2.5, %s)"
    ),
    "test_funnel_fact": (
        "(2, '2024-06-01 10:00+00', 4, 5, 2, 1, 1, 1.25, 0.5, 0.25, 0.25, 'submitted', %s)"
    ),
    "item_statistics_fact": "(2, '2024-06-01 10:00+00', 11, 2, 2, 1, 100, -100, 10000, 300, 50000, 20000, %s)",
    "option_choice_fact": "(2, '2024-06-01 10:00+00', 11, 0, false, 2, 1, -5, 50000, %s)",
}


def run_checks(dag, fact: str, warehouse_url: str) -> dict[str, bool]:
    """Render the group's ``checks`` query for ``RUN`` and evaluate its row as the operator does."""
    task = dag.get_task(f"{fact}.checks")
    with psycopg.connect(warehouse_url) as conn:
        cur = conn.execute(render(task, task.sql, RUN))
        row = cur.fetchone()
        return {d.name: bool(v) for d, v in zip(cur.description, row, strict=True)}


@pytest.mark.parametrize("fact", FACTS)
def test_quality_checks_pass_on_good_rows_and_catch_bad_ones(dags, dbs, fact):
    from mcq_analytics.airflow.dag_factory import check_expressions

    dag = dags["mcq_analytics_batch"]
    registry_checks = set(check_expressions(fact))
    run_id = support.run_id_for(fact, dag.dag_id, RUN, 1)
    other_run = support.run_id_for(fact, dag.dag_id, "scheduled__2024-06-01T09:00:00+00:00", 1)
    empty = run_checks(dag, fact, dbs.warehouse_url)
    assert all(empty.values()), empty  # empty scope passes
    names = check_names(dag, fact, dbs.warehouse_url)
    assert len(names) == len(set(names)) == len(empty)  # every check has its own name
    assert registry_checks < set(names)  # ... and the rule file's checks come with them
    with psycopg.connect(dbs.warehouse_url) as conn:
        conn.execute(f"INSERT INTO analytics.{fact} VALUES {GOOD[fact]}".replace(", %s)", ", %s, now())"),
                     (run_id,))
        # a bad row written by another DAG run is out of this run's scope
        conn.execute(f"INSERT INTO analytics.{fact} VALUES {BAD[fact]}".replace(", %s)", ", %s, now())"),
                     (other_run,))
    outcome = run_checks(dag, fact, dbs.warehouse_url)
    assert all(outcome.values()), outcome
    with psycopg.connect(dbs.warehouse_url) as conn:
        conn.execute(f"UPDATE analytics.{fact} SET etl_run_id = %s", (run_id,))
    outcome = run_checks(dag, fact, dbs.warehouse_url)
    failed = sorted(name for name, ok in outcome.items() if not ok)
    assert any(name not in registry_checks for name in failed), outcome  # a rule of the rule file
    assert any(name in registry_checks for name in failed), outcome  # a column, range or table check


def test_check_scope_matches_the_run_id_convention(dags):
    dag = dags["mcq_analytics_batch"]
    for fact in FACTS:
        task = dag.get_task(f"{fact}.checks")
        sql = render(task, task.sql, "manual__it's")
        # both halves of the query: the registry's checks and the included rule file
        assert sql.count(f"starts_with(etl_run_id, '{fact}__mcq_analytics_batch__manual__it''s__')") >= 2, sql
        assert support.run_id_for(fact, dag.dag_id, "manual__x", 3).startswith(
            support.run_prefix(fact, dag.dag_id, "manual__x"))


# -- mcq_analytics.airflow.support ----------------------------------------------------------------
@pytest.mark.parametrize(("uri", "extras", "expected"), [
    ("postgres://u:p%40ss@db:5433/mcq", None, "postgresql://u:p%40ss@db:5433/mcq"),
    ("postgresql+psycopg://u:pw@db/mcq", None, "postgresql://u:pw@db/mcq"),
    ("postgresql+psycopg2://u@db:5432/mcq", {"sslmode": "require", "foo": "x"},
     "postgresql://u@db:5432/mcq?sslmode=require"),
    ("postgresql://u@db/mcq?sslmode=disable", {"sslmode": "require"}, "postgresql://u@db/mcq?sslmode=disable"),
])
def test_libpq_url_normalises_schemes_and_adds_libpq_extras(uri, extras, expected):
    assert support.libpq_url(uri, extras) == expected


def test_libpq_url_rejects_other_schemes():
    with pytest.raises(ValueError):
        support.libpq_url("mysql://u@db/x")


def test_connection_url_resolves_airflow_connections_through_the_postgres_hook(airflow_in_process, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MCQ_T1", "postgres://etl:p%40ss%2Fw@db.internal:5433/analytics")
    monkeypatch.setenv("AIRFLOW_CONN_MCQ_T2", json.dumps({
        "conn_type": "postgres", "host": "replica", "login": "reader", "password": "pw", "schema": "mcq",
        "port": 5432, "extra": {"sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"}}))
    url = support.connection_url("mcq_t1")
    assert url.startswith("postgresql://etl:")
    assert psycopg.conninfo.conninfo_to_dict(url) == {"user": "etl", "password": "p@ss/w", "host": "db.internal",
                                                      "port": "5433", "dbname": "analytics"}
    assert psycopg.conninfo.conninfo_to_dict(support.connection_url("mcq_t2")) == {
        "user": "reader", "password": "pw", "host": "replica", "port": "5432", "dbname": "mcq",
        "sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"}


def test_run_ids_attempts_and_active_dag():
    assert support.run_id_for("test_funnel_fact", "d", "r", 2) == "test_funnel_fact__d__r__try2"
    assert support.triggered_by("d", "backfill__x") == "airflow:d/backfill__x"
    # Airflow retries while try_number <= max_tries (max_tries = retries)
    assert [support.is_final_attempt(n, 2) for n in (1, 2, 3)] == [False, False, True]
    assert support.is_final_attempt(1, 0)
    assert support.active_dag_id({"MCQ_ENGINE": "spark"}) == "mcq_analytics_spark"
    assert support.active_dag_id({}) == "mcq_analytics_batch"
    assert support.paused_upon_creation("mcq_analytics_spark", {"MCQ_ENGINE": "auto"}) is True
    assert support.paused_upon_creation("mcq_analytics_spark", {"MCQ_ENGINE": "spark"}) is None


@pytest.mark.parametrize(("conn", "master"), [
    ('{"conn_type": "spark", "host": "local[2]"}', "local[2]"),
    ("spark://spark-master:7077?deploy-mode=client", "spark://spark-master:7077"),
    ('{"conn_type": "spark", "host": "spark://m1:7077,m2:7077"}', "spark://m1:7077,m2:7077"),
    ('{"conn_type": "spark", "host": "k8s://https://k8s.example", "port": 6443}', "k8s://https://k8s.example:6443"),
    ('{"conn_type": "spark", "host": "yarn"}', "yarn"),
    (None, "yarn"),  # undefined: the provider's default
])
def test_spark_master_reads_the_connection_through_public_api(airflow_in_process, monkeypatch, conn, master):
    """``spark_master`` (``BaseHook.get_connection``) gives the master the provider's hook would use."""
    if conn is None:
        monkeypatch.delenv("AIRFLOW_CONN_MCQ_SPARK_T", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW_CONN_MCQ_SPARK_T", conn)
    assert support.spark_master("mcq_spark_t") == master
    assert support.spark_master("mcq_spark_t", default="local[*]") == ("local[*]" if conn is None else master)


def test_operators_use_no_private_provider_api():
    source = "".join((REPO / "src" / "mcq_analytics" / "airflow" / name).read_text()
                     for name in ("operators.py", "spark_operator.py"))
    for private in ("._hook", "._connection", "._conn_id", "_get_hook"):
        assert private not in source, private


@pytest.mark.parametrize(("engine", "batch"), [("pandas", "pandas"), ("auto", "auto"), ("spark", "pandas"),
                                               (None, "pandas")])
def test_settings_of_a_worker_and_the_batch_dags_engine(engine, batch):
    environ = {"MCQ_ENV": "dev", "MCQ_AUTO_ENGINE_THRESHOLD_ROWS": "1234"}
    if engine:
        environ["MCQ_ENGINE"] = engine
    settings = support.settings_from_environment(environ)
    assert (settings.env, settings.engine, settings.auto_engine_threshold) == ("dev", engine or "pandas", 1234)
    assert support.batch_engine(settings) == batch


def test_fact_build_operator_rejects_an_unknown_engine(airflow_in_process):
    from mcq_analytics.airflow.operators import FactBuildOperator

    with pytest.raises(ValueError, match="engine 'dask' is not available"):
        FactBuildOperator(task_id="build", pipeline="test_summary_fact", engine="dask")


def test_the_factory_builds_each_dag_and_rejects_unknown_engines(airflow_in_process):
    from mcq_analytics.airflow.dag_factory import DAG_SPECS, fact_dag

    assert {engine: spec.dag_id for engine, spec in DAG_SPECS.items()} == {"pandas": "mcq_analytics_batch",
                                                                          "spark": "mcq_analytics_spark"}
    assert fact_dag("spark").dag_id == "mcq_analytics_spark"
    with pytest.raises(ValueError, match="no fact DAG for engine 'auto'"):
        fact_dag("auto")


def test_dag_files_only_call_the_factory():
    """The DAG files are a few lines: everything else is in the installed package (no import-path edits)."""
    for path, engine in ((DAGS_DIR / "mcq_analytics_batch.py", "pandas"), (DAGS_DIR / "mcq_analytics_spark.py",
                                                                         "spark")):
        code = path.read_text().split('"""', 2)[2].strip().splitlines()
        assert code == ["from mcq_analytics.airflow.dag_factory import fact_dag", "", f'dag = fact_dag("{engine}")']


def test_the_airflow_subpackage_does_not_shadow_airflow(airflow_in_process):
    """``mcq_analytics.airflow`` imports the real Airflow with absolute imports."""
    import airflow

    from mcq_analytics.airflow import dag_factory, operators

    assert airflow.__file__.endswith("site-packages/airflow/__init__.py")
    assert operators.BaseOperator.__module__.startswith("airflow.sdk")
    assert dag_factory.DAG.__module__.startswith("airflow.sdk")

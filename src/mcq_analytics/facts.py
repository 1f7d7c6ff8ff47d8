"""The fact registry: every fact table declared once.

A declaration names the fact's grain (key columns), its columns with their warehouse types, the source
tables it reads (and so quarantines), the kind of keys a window replaces (affected sessions or cohort
buckets), and what the quality checks assert. Everything that used to repeat this derives from here: the
staging layout both engines write, the load's key tables, the Airflow task groups and their checks and
docs, the reference's table keys, the demo and report listings, the benchmark and the tests.

The DDL stays SQL (``include/sql/analytics_schema.sql``); ``tests/test_registry.py`` compares this registry
with the live schema column by column, so the two cannot drift. Adding a fact = one entry here, its DDL,
and one definition per engine (Pandas ``transform.FACT_BUILDERS``, Spark ``spark.facts.FACT_BUILDERS``,
reference ``include/sql/reference/<fact>.sql``); ``tests/test_registry.py`` shows which are missing.

This module imports nothing beyond the standard library: the Spark job, the DAG files and the CLI all
read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: A window replaces either the facts of its affected sessions, or whole (test_id, hour_start) buckets.
DeleteKeys = Literal["sessions", "buckets"]

#: Warehouse column types as ``information_schema.columns`` spells them (``data_type``), and how each
#: is staged: timestamps travel as epoch microseconds, NUMERIC as float8 (two-decimal points, exact in
#: float8 and what both engines' COPY/JDBC paths write) — unless the column is declared exact (below).
_STAGE_TYPES = {
    "bigint": "bigint",
    "integer": "integer",
    "smallint": "smallint",
    "boolean": "boolean",
    "double precision": "double precision",
    "numeric": "double precision",
    "text": "text",
    "timestamp with time zone": "bigint",
}
#: Staging of columns declared exact (a trailing ``!`` in ``_cols``): the item-analysis sums of squares and
#: products are unbounded integers (hundredths squared) whose every digit matters, so they stage as NUMERIC
#: (decimal digits in the CSV/JDBC rows), never through float8 (exact only up to 2**53).
_EXACT_STAGE_TYPES = {"numeric": "numeric", "bigint": "bigint"}
AUDIT_COLUMNS = ("etl_run_id", "etl_loaded_at")


@dataclass(frozen=True)
class Column:
    """One column of a fact table. ``sql_type`` is the ``information_schema`` ``data_type``."""

    name: str
    sql_type: str
    nullable: bool = False
    exact: bool = False

    @property
    def stage_name(self) -> str:
        """The staging column: timestamps as epoch microseconds (``first_answered_at`` → ``first_answered_us``,
        ``hour_start`` → ``hour_start_us``)."""
        if self.sql_type != "timestamp with time zone":
            return self.name
        return (self.name[: -len("_at")] if self.name.endswith("_at") else self.name) + "_us"

    @property
    def stage_type(self) -> str:
        return (_EXACT_STAGE_TYPES if self.exact else _STAGE_TYPES)[self.sql_type]


def _cols(spec: str) -> tuple[Column, ...]:
    """``"name type[?|!], …"`` → columns; a trailing ``?`` marks a nullable column, ``!`` an exact one
    (staged without float rounding, see ``_EXACT_STAGE_TYPES``)."""
    out = []
    for item in spec.split(","):
        name, sql_type = item.strip().split(" ", 1)
        nullable, exact = sql_type.endswith("?"), sql_type.endswith("!")
        out.append(Column(name, sql_type.rstrip("?!").strip(), nullable, exact))
    return tuple(out)


@dataclass(frozen=True)
class Fact:
    """One fact table of the ``analytics`` schema.

    :param name: table name in ``analytics`` (also the pipeline's name and its ``etl_metadata`` key).
    :param grain: one line saying what a row is.
    :param keys: the primary key columns.
    :param columns: every column except the audit columns, in table order.
    :param sources: source tables it reads; their rejects are quarantined under this pipeline.
    :param delete_keys: what a window replaces — its affected ``sessions`` or their cohort ``buckets``.
    :param not_null: nullable-by-type columns the checks still require to be filled (besides the keys).
    :param ranges: ``column: (low, high)`` bounds checked on every row a run writes (``None``: open).
    :param table_rules: named aggregate SQL conditions over the rows a run wrote (true = pass).
    :param doc: Markdown shown on the fact's Airflow task group.
    :param report_title: the heading of its summary in the demo and ``run_etl.py status``.
    """

    name: str
    grain: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    sources: tuple[str, ...]
    delete_keys: DeleteKeys
    doc: str
    report_title: str
    not_null: tuple[str, ...] = ()
    ranges: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    table_rules: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return f"analytics.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def stage_columns(self) -> dict[str, str]:
        """Staging layout both engines write: ``{stage column: SQL type}``."""
        return {c.stage_name: c.stage_type for c in self.columns}

    @property
    def key_columns(self) -> dict[str, str]:
        """Layout of the table of keys a window replaces."""
        if self.delete_keys == "sessions":
            return {"session_id": "bigint"}
        return {"test_id": "bigint", "hour_start_us": "bigint"}

    @property
    def asset_name(self) -> str:
        return f"mcq_warehouse.analytics.{self.name}"

    @property
    def asset_uri(self) -> str:
        return f"mcq://mcq_warehouse/analytics/{self.name}"


def _unique(*keys: str) -> str:
    return f"COUNT(*) = COUNT(DISTINCT ({', '.join(keys)}))"


REGISTRY: tuple[Fact, ...] = (
    Fact(
        name="question_interaction_fact",
        grain="one row per (session, question)",
        keys=("session_id", "question_id"),
        columns=_cols(
            "session_id bigint, question_id bigint, test_id bigint, student_id bigint,"
            " first_answered_at timestamp with time zone, last_answered_at timestamp with time zone,"
            " hour_start timestamp with time zone, answer_events integer, answer_changes integer,"
            " final_option smallint?, is_correct boolean, points_awarded numeric, time_spent_ms bigint"
        ),
        sources=("sessions", "answers"),
        delete_keys="sessions",
        not_null=("test_id", "student_id", "hour_start"),
        ranges={"points_awarded": (0, None), "time_spent_ms": (0, None), "answer_changes": (0, None)},
        table_rules={"keys_unique": _unique("session_id", "question_id")},
        report_title="question_interaction_fact — one row per (session, question)",
        doc="""\
### `analytics.question_interaction_fact`
One row per (session_id, question_id) with at least one valid answer: first/last answer time, the UTC hour
of the last answer (`hour_start`), answer events and changes, the final option, correctness, points and time
spent. A window recomputes every **affected session** completely (docs/data_contract.md §3–4).
""",
    ),
    Fact(
        name="test_summary_fact",
        grain="one row per (test, cohort hour)",
        keys=("test_id", "hour_start"),
        columns=_cols(
            "test_id bigint, hour_start timestamp with time zone, sessions_started integer, students integer,"
            " submissions integer, avg_score_pct double precision?, median_score_pct double precision?,"
            " min_score_pct double precision?, max_score_pct double precision?, passed integer,"
            " pass_rate double precision?, avg_duration_seconds double precision?,"
            " avg_questions_answered double precision?"
        ),
        sources=("sessions", "answers", "submissions"),
        delete_keys="buckets",
        ranges={"pass_rate": (0, 1), "avg_score_pct": (0, 100), "median_score_pct": (0, 100),
                "min_score_pct": (0, 100), "max_score_pct": (0, 100),
                "avg_duration_seconds": (0, None), "avg_questions_answered": (0, None)},
        table_rules={
            "keys_unique": _unique("test_id", "hour_start"),
            "counts_nested": "COUNT(*) FILTER (WHERE NOT (sessions_started >= students AND sessions_started >= "
                             "submissions AND submissions >= passed AND passed >= 0)) = 0",
        },
        report_title="test_summary_fact — per test and cohort hour, summed over tests",
        doc="""\
### `analytics.test_summary_fact`
One row per (test_id, hour_start) — the cohort of sessions that *started* in that UTC hour: sessions,
students, submissions, score statistics (avg/median/min/max %), passes and pass rate, average duration and
questions answered. A window recomputes every (test, hour) bucket an affected session falls in.
""",
    ),
    Fact(
        name="test_funnel_fact",
        grain="one row per (test, cohort hour)",
        keys=("test_id", "hour_start"),
        columns=_cols(
            "test_id bigint, hour_start timestamp with time zone, started integer, engaged integer,"
            " submitted integer, passed integer, completed integer, engaged_rate double precision?,"
            " submitted_rate double precision?, passed_rate double precision?, completed_rate double precision?,"
            " drop_off_stage text?"
        ),
        sources=("sessions", "answers", "submissions"),
        delete_keys="buckets",
        ranges={"engaged_rate": (0, 1), "submitted_rate": (0, 1), "passed_rate": (0, 1),
                "completed_rate": (0, 1)},
        table_rules={
            "keys_unique": _unique("test_id", "hour_start"),
            "stages_non_increasing": "COUNT(*) FILTER (WHERE NOT (started >= engaged AND engaged >= submitted "
                                     "AND submitted >= passed AND passed >= 0)) = 0",
        },
        report_title="test_funnel_fact — per test and cohort hour, summed",
        doc="""\
### `analytics.test_funnel_fact`
The same (test_id, hour_start) cohort as a funnel: started ≥ engaged ≥ submitted ≥ passed, the side count
`completed`, each as a rate of `started`, and the stage with the largest drop-off.
""",
    ),
    Fact(
        name="item_statistics_fact",
        grain="one row per (test, cohort hour, question)",
        keys=("test_id", "hour_start", "question_id"),
        columns=_cols(
            "test_id bigint, hour_start timestamp with time zone, question_id bigint, attempts integer,"
            " answered integer, correct integer, max_points_cents integer, sum_score bigint,"
            " sum_score_sq numeric!, sum_total bigint, sum_total_sq numeric!, sum_score_total numeric!"
        ),
        sources=("sessions", "answers", "submissions"),
        delete_keys="buckets",
        ranges={"attempts": (0, None), "answered": (0, None), "correct": (0, None),
                "max_points_cents": (0, None), "sum_score": (0, None), "sum_score_sq": (0, None),
                "sum_total": (0, None), "sum_total_sq": (0, None), "sum_score_total": (0, None)},
        table_rules={
            "keys_unique": _unique("test_id", "hour_start", "question_id"),
            "counts_nested": "COUNT(*) FILTER (WHERE NOT (attempts >= answered AND answered >= correct "
                             "AND correct >= 0)) = 0",
            "sums_non_negative": "COUNT(*) FILTER (WHERE NOT (sum_score >= 0 AND sum_score_sq >= 0 AND sum_total >= 0"
                                 " AND sum_total_sq >= 0 AND sum_score_total >= 0)) = 0",
        },
        report_title="item_statistics_fact — per question over all history (item analysis, docs/item_analysis.md)",
        doc="""\
### `analytics.item_statistics_fact`
One row per (test_id, hour_start, question_id): exact sufficient statistics of the bucket's **scored
attempts** (valid sessions with a valid submission, scored on every current question of the test) — attempts,
answered, correct, the question's maximum in hundredths of a point, and the integer sums Σx, Σx², ΣX, ΣX²,
ΣxX of item scores x and attempt totals X. `analytics.item_analysis(from, to)` answers any range from them
(docs/data_contract.md §6). A window recomputes every (test, hour) bucket an affected session falls in.
""",
    ),
    Fact(
        name="option_choice_fact",
        grain="one row per (test, cohort hour, question, option)",
        keys=("test_id", "hour_start", "question_id", "option"),
        columns=_cols(
            "test_id bigint, hour_start timestamp with time zone, question_id bigint, option smallint,"
            " is_key boolean, attempts integer, chosen integer, sum_total bigint, sum_total_sq numeric!"
        ),
        sources=("sessions", "answers", "submissions"),
        delete_keys="buckets",
        ranges={"option": (0, None), "attempts": (0, None), "chosen": (0, None), "sum_total": (0, None),
                "sum_total_sq": (0, None)},
        table_rules={
            "keys_unique": _unique("test_id", "hour_start", "question_id", "option"),
            "chosen_within_attempts": "COUNT(*) FILTER (WHERE NOT (chosen >= 0 AND chosen <= attempts)) = 0",
            "sums_non_negative": "COUNT(*) FILTER (WHERE NOT (sum_total >= 0 AND sum_total_sq >= 0)) = 0",
            # For each row, the options of its question in its bucket (all written by the same swap, which
            # replaces whole buckets) partition the bucket's scored attempts. An aggregate, so an empty scope passes.
            "chosen_sums_to_attempts": "COUNT(*) FILTER (WHERE attempts IS DISTINCT FROM"
                                       " (SELECT sum(o.chosen) FROM analytics.option_choice_fact o"
                                       " WHERE o.test_id = option_choice_fact.test_id"
                                       " AND o.hour_start = option_choice_fact.hour_start"
                                       " AND o.question_id = option_choice_fact.question_id)) = 0",
        },
        report_title="option_choice_fact — options over all history (distractor analysis)",
        doc="""\
### `analytics.option_choice_fact`
One row per (test_id, hour_start, question_id, option): every option 1..option_count of the question and `0`
(no final answer) with whether it is the current key, the bucket's scored attempts, how many chose it and the
exact sums ΣX, ΣX² of their attempt totals; per bucket and question Σchosen = attempts.
`analytics.option_analysis(from, to)` answers any range (docs/data_contract.md §6).
""",
    ),
)

#: The fact names, in build and display order (one pipeline per fact table).
FACT_NAMES: tuple[str, ...] = tuple(f.name for f in REGISTRY)
_BY_NAME = {f.name: f for f in REGISTRY}
#: Warehouse tables of the run bookkeeping and the quarantine (not facts).
BOOKKEEPING_TABLES = ("etl_rejects", "etl_metadata", "etl_run_log")


def fact(name: str) -> Fact:
    """The declaration of fact ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown fact {name!r} (known: {', '.join(FACT_NAMES)})") from None

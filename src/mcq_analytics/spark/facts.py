"""The Spark engine's definition of the facts and the quarantine (docs/data_contract.md sections 2 and 4).

The DataFrame twin of ``mcq_analytics.transform``, function for function: pure transformations of
source frames, no I/O, no Python UDFs (executors need only the JVM). Timestamps stay epoch microseconds
as ``long`` and UTC hours are exact integer floors, as in the Pandas engine; ratios are computed with the
same double operations in the same order, medians with Spark's exact ``percentile`` (linear
interpolation, like ``percentile_cont(0.5)``), never ``percentile_approx``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from mcq_analytics.contract import EVENT_TIME_END_US, EVENT_TIME_MIN_US, FUNNEL_STAGES, HOUR_US
from mcq_analytics.facts import fact


@dataclass
class SparkSources:
    """The source rows of a window's scope, with the columns of ``include/sql/extract/*.sql``."""

    affected: DataFrame  # session_id: the affected session ids (may include missing sessions)
    sessions: DataFrame  # session_id, test_id, student_id, started_us
    answers: DataFrame  # answer_id, session_id, question_id, selected_option, answered_us, time_spent_ms
    submissions: DataFrame  # submission_id, session_id, submitted_us, score, max_score
    tests: DataFrame  # test_id, pass_score_pct, question_count
    questions: DataFrame  # question_id, test_id, option_count, correct_option, points


@dataclass
class SparkValidated:
    sessions: DataFrame  # valid sessions + pass_score_pct, question_count
    answers: DataFrame  # valid answers + test_id, student_id, correct_option, points
    submissions: DataFrame  # valid submissions
    rejects: DataFrame  # source_table, source_key, reason


def hour_floor(us: Column) -> Column:
    """The UTC hour of an epoch-microsecond timestamp, exactly (``pmod`` floors negative values too)."""
    return us - F.pmod(us, F.lit(HOUR_US))


def _first_reason(rules: list[tuple[str, Column]]) -> Column:
    """The first rule that matches, in order, else NULL; a rule evaluating to NULL does not match."""
    expr = None
    for reason, matches in rules:
        expr = F.when(matches, F.lit(reason)) if expr is None else expr.when(matches, F.lit(reason))
    return expr


def _rejects(frame: DataFrame, table: str, key: str) -> DataFrame:
    return frame.where(F.col("_reason").isNotNull()).select(
        F.lit(table).alias("source_table"), F.col(key).cast("string").alias("source_key"),
        F.col("_reason").alias("reason"))


def _bad_time(us: Column) -> Column:
    """Event times outside the contract's fixed range (the extract sends infinity and the like as 0)."""
    return (us < F.lit(EVENT_TIME_MIN_US)) | (us >= F.lit(EVENT_TIME_END_US))


def _bad_number(value: Column) -> Column:
    """NaN or ±infinity, tested explicitly: Spark orders NaN above every number, numpy compares it false."""
    return F.isnan(value) | (F.abs(value) == F.lit(float("inf")))


def validate(src: SparkSources) -> SparkValidated:
    """Apply the rules of contract section 2 in their order; each row gets at most its first reason."""
    sessions = src.sessions.join(src.tests.withColumn("_test", F.lit(True)), "test_id", "left")
    sessions = sessions.withColumn("_reason", _first_reason([
        ("orphan_test", F.col("_test").isNull()),
        ("invalid_timestamp", _bad_time(F.col("started_us"))),
    ]))
    session_rejects = _rejects(sessions, "sessions", "session_id")
    valid_sessions = sessions.where(F.col("_reason").isNull()).drop("_test", "_reason")

    questions = src.questions.select(
        "question_id", F.col("test_id").alias("question_test_id"), "option_count", "correct_option", "points",
        F.lit(True).alias("_question"))
    answers = (src.answers
               .join(valid_sessions.select("session_id", "test_id", "student_id", F.lit(True).alias("_session")),
                     "session_id", "left")
               .join(questions, "question_id", "left"))
    option = F.col("selected_option")
    answers = answers.withColumn("_reason", _first_reason([
        ("orphan_session", F.col("_session").isNull()),
        ("invalid_timestamp", _bad_time(F.col("answered_us"))),
        ("orphan_question", F.col("_question").isNull()),
        ("question_not_in_test", F.col("question_test_id") != F.col("test_id")),
        ("invalid_question", _bad_number(F.col("points")) | (F.col("points") < 0) | (F.col("correct_option") < 1)
         | (F.col("correct_option") > F.col("option_count"))),
        ("option_out_of_range", option.isNotNull() & ((option < 1) | (option > F.col("option_count")))),
    ]))
    answer_rejects = _rejects(answers, "answers", "answer_id")
    valid_answers = answers.where(F.col("_reason").isNull()).drop(
        "_session", "_question", "question_test_id", "option_count", "_reason")

    submissions = src.submissions.join(
        valid_sessions.select("session_id", F.lit(True).alias("_session")), "session_id", "left")
    submissions = submissions.withColumn("_reason", _first_reason([
        ("orphan_session", F.col("_session").isNull()),
        ("invalid_timestamp", _bad_time(F.col("submitted_us"))),
        ("invalid_score", _bad_number(F.col("score")) | _bad_number(F.col("max_score")) | (F.col("max_score") <= 0)
         | (F.col("score") < 0) | (F.col("score") > F.col("max_score"))),
    ]))
    submission_rejects = _rejects(submissions, "submissions", "submission_id")
    valid_submissions = submissions.where(F.col("_reason").isNull()).drop("_session", "_reason")

    rejects = session_rejects.unionByName(answer_rejects).unionByName(submission_rejects)
    return SparkValidated(valid_sessions, valid_answers, valid_submissions, rejects)


def final_answers(answers: DataFrame) -> DataFrame:
    """One row per (session, question): the latest valid answer by (answered_at, answer_id) and aggregates.

    The latest row is the maximum of a struct led by (answered_us, answer_id): answer_id is unique, so the
    order is total and the fields after it (which may be NULL) never decide it.
    """
    latest = F.max(F.struct("answered_us", "answer_id", "selected_option", "test_id", "student_id",
                            "correct_option", "points")).alias("_last")
    spent = F.coalesce(F.greatest(F.col("time_spent_ms").cast("long"), F.lit(0).cast("long")), F.lit(0).cast("long"))
    grouped = answers.groupBy("session_id", "question_id").agg(
        F.min("answered_us").alias("first_answered_us"),
        F.count(F.lit(1)).alias("answer_events"),
        F.sum(spent).alias("time_spent_ms"),
        latest,
    )
    return grouped.select(
        "session_id", "question_id", "first_answered_us", "answer_events", "time_spent_ms",
        F.col("_last.answered_us").alias("last_answered_us"),
        F.col("_last.selected_option").alias("final_option"),
        F.col("_last.test_id").alias("test_id"),
        F.col("_last.student_id").alias("student_id"),
        F.col("_last.correct_option").alias("correct_option"),
        F.col("_last.points").alias("points"),
    )


def question_interactions(finals: DataFrame, affected: DataFrame) -> DataFrame:
    """The question facts of the affected sessions, from the final answers of the scope (``final_answers``)."""
    finals = finals.join(affected, "session_id", "left_semi")
    is_correct = F.coalesce(F.col("final_option") == F.col("correct_option"), F.lit(False))
    return finals.select(
        "session_id", "question_id", "test_id", "student_id", "first_answered_us", "last_answered_us",
        hour_floor(F.col("last_answered_us")).alias("hour_start_us"),
        "answer_events",
        (F.col("answer_events") - 1).alias("answer_changes"),
        "final_option",
        is_correct.alias("is_correct"),
        F.when(is_correct, F.col("points").cast("double")).otherwise(F.lit(0.0)).alias("points_awarded"),
        "time_spent_ms",
    )


def session_outcomes(valid: SparkValidated, finals: DataFrame) -> DataFrame:
    """One row per valid session: its cohort bucket, latest valid submission and answering progress
    (``finals``: ``final_answers(valid.answers)``)."""
    latest = valid.submissions.groupBy("session_id").agg(
        F.max(F.struct("submitted_us", "submission_id", "score", "max_score")).alias("_last"))
    # Scores are NUMERIC with two decimals: exact integer cents, as transform.session_outcomes, so a score
    # exactly at the pass mark passes and score_pct = (score_c * 100) / max_c is one correctly rounded division.
    score_c, max_c = cents(F.col("_last.score")), cents(F.col("_last.max_score"))
    latest = latest.select(
        "session_id", F.col("_last.submitted_us").alias("submitted_us"),
        F.when(max_c > 0,  # always true for valid rows; keeps ANSI division safe
               (score_c * F.lit(100.0)) / max_c).alias("score_pct"),
        score_c.cast("long").alias("score_c"), max_c.cast("long").alias("max_c"))
    answered = (finals.where(F.col("final_option").isNotNull())
                .groupBy("session_id").agg(F.count(F.lit(1)).alias("_answered")))
    engaged = valid.answers.select("session_id").distinct().withColumn("is_engaged", F.lit(True))
    sessions = (valid.sessions
                .withColumn("hour_start_us", hour_floor(F.col("started_us")))
                .join(latest, "session_id", "left")
                .join(answered, "session_id", "left")
                .join(engaged, "session_id", "left"))
    has_submission = F.col("submitted_us").isNotNull()
    duration = F.col("submitted_us") - F.col("started_us")
    return sessions.select(
        "session_id", "test_id", "student_id", "hour_start_us", "pass_score_pct", "question_count",
        "submitted_us", "score_pct",
        F.coalesce(F.col("_answered"), F.lit(0).cast("long")).alias("questions_answered"),
        has_submission.alias("has_submission"),
        F.coalesce(F.col("is_engaged"), F.lit(False)).alias("is_engaged"),
        # score / max × 100 ≥ pass_pct  ⇔  score_c × 10000 ≥ pass_c × max_c, in exact integers
        (has_submission & F.coalesce(
            F.col("score_c") * F.lit(10_000) >= cents(F.col("pass_score_pct")).cast("long") * F.col("max_c"),
            F.lit(False))).alias("is_passed"),
        F.when(duration >= 0, duration.cast("double") / F.lit(1e6)).alias("duration_s"),
    )


def cents(value: Column) -> Column:
    """Two-decimal NUMERIC values (arriving as double) as exact integer hundredths (``transform.cents``:
    round half to even, a double)."""
    return F.rint(value * F.lit(100.0))


def _rate(numerator: str, denominator: str) -> Column:
    """``numerator / denominator`` in double, NULL when the denominator is 0."""
    return F.when(F.col(denominator) != 0, F.col(numerator).cast("double") / F.col(denominator).cast("double"))


def _count_if(condition: Column) -> Column:
    return F.sum(F.when(condition, F.lit(1)).otherwise(F.lit(0)))


def summaries_by_cohort(outcomes: DataFrame) -> DataFrame:
    score = F.when(F.col("has_submission"), F.col("score_pct"))
    out = outcomes.groupBy("test_id", "hour_start_us").agg(
        F.count(F.lit(1)).alias("sessions_started"),
        F.countDistinct("student_id").alias("students"),
        _count_if(F.col("has_submission")).alias("submissions"),
        F.avg(score).alias("avg_score_pct"),
        F.percentile(score, F.lit(0.5)).alias("median_score_pct"),
        F.min(score).alias("min_score_pct"),
        F.max(score).alias("max_score_pct"),
        _count_if(F.col("is_passed")).alias("passed"),
        F.avg("duration_s").alias("avg_duration_seconds"),
        F.avg(F.col("questions_answered").cast("double")).alias("avg_questions_answered"),
    )
    return out.select(
        "test_id", "hour_start_us", "sessions_started", "students", "submissions", "avg_score_pct",
        "median_score_pct", "min_score_pct", "max_score_pct", "passed", _rate("passed", "submissions").alias(
            "pass_rate"), "avg_duration_seconds", "avg_questions_answered")


def funnels_by_cohort(outcomes: DataFrame) -> DataFrame:
    engaged = F.col("is_engaged")
    submitted = engaged & F.col("has_submission")
    passed = submitted & F.col("is_passed")
    completed = engaged & (F.col("questions_answered") == F.col("question_count"))
    out = outcomes.groupBy("test_id", "hour_start_us").agg(
        F.count(F.lit(1)).alias("started"),
        _count_if(engaged).alias("engaged"),
        _count_if(submitted).alias("submitted"),
        _count_if(passed).alias("passed"),
        _count_if(completed).alias("completed"),
    )
    losses = [F.col("started") - F.col("engaged"), F.col("engaged") - F.col("submitted"),
              F.col("submitted") - F.col("passed")]
    biggest = F.greatest(*losses)
    drop_off = F.when(biggest <= 0, F.lit(None).cast("string"))
    for stage, loss in zip(FUNNEL_STAGES, losses, strict=True):  # the first maximum: ties go to the earliest
        drop_off = drop_off.when(loss == biggest, F.lit(stage))
    return out.select(
        "test_id", "hour_start_us", "started", "engaged", "submitted", "passed", "completed",
        *[_rate(stage, "started").alias(f"{stage}_rate") for stage in ("engaged", "submitted", "passed", "completed")],
        drop_off.alias("drop_off_stage"),
    )


#: Exact integer type of the item-analysis sums: a long (x, X) cast to decimal(19,0) multiplies into
#: decimal(38,0) without loss, and sums of those stay decimal(38,0) (transform's int64/Python integers).
_EXACT = "decimal(38,0)"
ITEM_KEYS = ("test_id", "hour_start_us", "question_id")


def item_scores(outcomes: DataFrame, finals: DataFrame, questions: DataFrame) -> DataFrame:
    """One row per (scored attempt, current question of its test) — contract section 6, as
    ``transform.item_scores``: a scored attempt is a valid session with a valid submission, scored on every
    question of its test, answered or not. ``x`` = the question's points in integer hundredths when the final
    answer is correct under the current key, else 0; ``m`` = the points in hundredths; ``total`` = X, the
    attempt's Σx; ``option`` = the final option, 0 when there is none (never answered, or cleared)."""
    scored = outcomes.where(F.col("has_submission")).select("session_id", "test_id", "hour_start_us")
    # An unusable question (invalid_question, contract section 2) is not scored: its points have no value.
    unusable = (_bad_number(F.col("points")) | (F.col("points") < 0) | (F.col("correct_option") < 1)
                | (F.col("correct_option") > F.col("option_count")))
    questions = questions.where(~F.coalesce(unusable, F.lit(True)))
    grid = scored.join(questions.select("question_id", "test_id", "option_count", "correct_option", "points"),
                       "test_id", "inner")
    grid = grid.join(finals.select("session_id", "question_id", "final_option"),
                     ["session_id", "question_id"], "left")
    answered = F.col("final_option").isNotNull()
    is_correct = answered & (F.col("final_option") == F.col("correct_option"))
    m = cents(F.col("points")).cast("long")
    grid = grid.select(
        "session_id", *ITEM_KEYS, "option_count", "correct_option",
        answered.alias("answered"), is_correct.alias("is_correct"), m.alias("m"),
        F.when(is_correct, m).otherwise(F.lit(0).cast("long")).alias("x"),
        F.coalesce(F.col("final_option").cast("long"), F.lit(0).cast("long")).alias("option"))
    totals = grid.groupBy("session_id").agg(F.sum("x").alias("total"))
    return grid.join(totals, "session_id", "inner")


def _product(a: str, b: str) -> Column:
    """``a × b`` of two longs, exactly (decimal(19,0) × decimal(19,0) fits decimal(38,0))."""
    return F.col(a).cast("decimal(19,0)") * F.col(b).cast("decimal(19,0)")


def item_statistics(scores: DataFrame) -> DataFrame:
    """item_statistics_fact: per (test, cohort hour, question), the exact integer sums of contract section 6
    (``transform.item_statistics``)."""
    return scores.groupBy(*ITEM_KEYS).agg(
        F.count(F.lit(1)).alias("attempts"),
        _count_if(F.col("answered")).alias("answered"),
        _count_if(F.col("is_correct")).alias("correct"),
        F.max("m").alias("max_points_cents"),
        F.sum("x").alias("sum_score"),
        F.sum(_product("x", "x")).cast(_EXACT).alias("sum_score_sq"),
        F.sum("total").alias("sum_total"),
        F.sum(_product("total", "total")).cast(_EXACT).alias("sum_total_sq"),
        F.sum(_product("x", "total")).cast(_EXACT).alias("sum_score_total"),
    )


def option_choices(scores: DataFrame) -> DataFrame:
    """option_choice_fact: per (test, cohort hour, question) every option 0..option_count — 0 = no final
    answer — with its choosers' count and exact ΣX, ΣX²; options nobody chose have zeros
    (``transform.option_choices``)."""
    questions = scores.groupBy(*ITEM_KEYS).agg(
        F.count(F.lit(1)).alias("attempts"), F.max("option_count").alias("option_count"),
        F.max("correct_option").alias("correct_option"))
    options = questions.select(
        *ITEM_KEYS, "attempts", "correct_option",
        F.explode(F.sequence(F.lit(0).cast("long"), F.col("option_count").cast("long"))).alias("option"))
    chosen = scores.groupBy(*ITEM_KEYS, "option").agg(
        F.count(F.lit(1)).alias("chosen"),
        F.sum("total").alias("sum_total"),
        F.sum(_product("total", "total")).cast(_EXACT).alias("sum_total_sq"))
    out = options.join(chosen, [*ITEM_KEYS, "option"], "left")
    return out.select(
        *ITEM_KEYS, "option",
        (F.col("option") == F.col("correct_option")).alias("is_key"),
        "attempts",
        F.coalesce(F.col("chosen"), F.lit(0).cast("long")).alias("chosen"),
        F.coalesce(F.col("sum_total"), F.lit(0).cast("long")).alias("sum_total"),
        F.coalesce(F.col("sum_total_sq"), F.lit(0).cast(_EXACT)).alias("sum_total_sq"),
    )


class WindowFacts:
    """The facts of one scope, sharing what the pipelines have in common (``transform.WindowFacts``):
    validation, the final answers and the session outcomes are defined once and cached on first use."""

    def __init__(self, src: SparkSources) -> None:
        self.src = src
        self._valid: SparkValidated | None = None
        self._finals: DataFrame | None = None
        self._outcomes: DataFrame | None = None
        self._item_scores: DataFrame | None = None

    @property
    def valid(self) -> SparkValidated:
        if self._valid is None:
            self._valid = validate(self.src)
            self._valid.answers.cache()
        return self._valid

    @property
    def finals(self) -> DataFrame:
        if self._finals is None:
            self._finals = final_answers(self.valid.answers).cache()
        return self._finals

    @property
    def outcomes(self) -> DataFrame:
        if self._outcomes is None:
            self._outcomes = session_outcomes(self.valid, self.finals).cache()
        return self._outcomes

    @property
    def item_scores(self) -> DataFrame:
        """The scored attempts × questions both item facts aggregate (``transform.WindowFacts.item_scores``)."""
        if self._item_scores is None:
            self._item_scores = item_scores(self.outcomes, self.finals, self.src.questions).cache()
        return self._item_scores

    def rejects(self, pipelines: list[str] | tuple[str, ...]) -> DataFrame:
        """The rejects of the source tables ``pipelines`` read (each pipeline quarantines its own tables)."""
        tables = sorted({t for p in pipelines for t in fact(p).sources})
        return self.valid.rejects.where(F.col("source_table").isin(*tables)).distinct()

    def build(self, pipeline: str) -> DataFrame:
        """The fact rows of one pipeline."""
        if pipeline not in FACT_BUILDERS:
            raise ValueError(f"unknown pipeline {pipeline!r}")
        return FACT_BUILDERS[pipeline](self)


#: The Spark engine's definition of each registered fact (``facts.REGISTRY``), from a window's shared work.
FACT_BUILDERS: dict[str, Callable[[WindowFacts], DataFrame]] = {
    "question_interaction_fact": lambda w: question_interactions(w.finals, w.src.affected),
    "test_summary_fact": lambda w: summaries_by_cohort(w.outcomes),
    "test_funnel_fact": lambda w: funnels_by_cohort(w.outcomes),
    "item_statistics_fact": lambda w: item_statistics(w.item_scores),
    "option_choice_fact": lambda w: option_choices(w.item_scores),
}


def delete_keys(src: SparkSources, pipeline: str) -> DataFrame:
    """The keys a window replaces: its affected sessions, or every bucket of the sessions in scope
    (``pipeline.delete_keys`` of the Pandas engine)."""
    if fact(pipeline).delete_keys == "sessions":
        return src.affected.select("session_id")
    return src.sessions.select("test_id", hour_floor(F.col("started_us")).alias("hour_start_us")).distinct()

"""Poison values (docs/data_contract.md section 2): infinite, ancient and future event times, NaN/negative/
infinite points, keys outside the question, NaN scores and identical duplicate events, each in one
hand-built source row. The window succeeds on every implementation — the Pandas engine, the in-database
reference and the Spark engine — the row is quarantined with its reason, and the facts are the expected
rows written out below, the same for all three."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import at, fetch_fact, fetch_rejects, insert
from test_contract import assert_rows_equal

from mcq_analytics.config import load_settings
from mcq_analytics.engines import run_window
from mcq_analytics.facts import fact
from mcq_analytics.pipeline import PIPELINES, run_pandas_window
from mcq_analytics.planning import first_activity_hour
from mcq_analytics.reference import fetch_reference, run_reference
from mcq_analytics.windows import Window

NAN = float("nan")
ANCIENT = datetime(1999, 12, 31, 23, 59, tzinfo=UTC)  # one minute before the range
FUTURE = datetime(2100, 1, 1, tzinfo=UTC)  # the range's end is exclusive


def seed_poison(url: str) -> None:
    """Test 1 (pass mark 50 %), one valid session and a poison value in each other row (ids read easily)."""
    insert(url, "tests", [{"test_id": 1, "teacher_id": 1, "title": "Algebra", "pass_score_pct": 50,
                           "updated_at": at(1)}])
    questions = [  # (question, option_count, correct_option, points)
        (11, 4, 2, 1), (12, 4, 1, NAN), (13, 4, 5, 1), (14, 4, 1, -1), (15, 4, 1, 2), (16, 3, 0, 1),
    ]
    insert(url, "questions", [{"question_id": q, "test_id": 1, "position": q - 10, "option_count": n,
                               "correct_option": c, "points": p, "updated_at": at(1)} for q, n, c, p in questions])
    sessions = [  # (session, started_at): 1 valid, the others outside the event-time range
        (1, at(5)), (2, "infinity"), (3, ANCIENT), (4, FUTURE), (5, "-infinity"),
    ]
    insert(url, "sessions", [{"session_id": s, "test_id": 1, "student_id": s, "started_at": t,
                              "updated_at": at(10 + s)} for s, t in sessions])
    answers = [  # (answer, session, question, option, answered_at, time_spent_ms)
        (101, 1, 11, 2, at(6), 100),
        (102, 1, 11, 1, "infinity", 100),  # invalid_timestamp: would be the final answer (wrong)
        (103, 1, 11, 3, "-infinity", 100),  # invalid_timestamp
        (104, 1, 12, 1, at(7), 100),  # invalid_question: points NaN
        (105, 1, 13, 1, at(7), 100),  # invalid_question: correct_option 5 > option_count 4
        (106, 1, 14, 1, at(7), 100),  # invalid_question: negative points
        (107, 1, 13, 9, at(8), 100),  # invalid_question before option_out_of_range
        (108, 1, 15, 1, at(9), 10),  # identical duplicate events (108, 109): both count
        (109, 1, 15, 1, at(9), 20),
        (110, 1, 16, 1, at(9), 100),  # invalid_question: correct_option 0
        (111, 1, 11, 2, ANCIENT, 100),  # invalid_timestamp
        (112, 1, 11, 2, FUTURE, 100),  # invalid_timestamp
        (201, 2, 11, 2, at(11), 100),  # orphan_session: its session's started_at is infinite
        (301, 3, 11, 2, "infinity", 100),  # orphan_session comes before invalid_timestamp
    ]
    insert(url, "answers", [{"answer_id": a, "session_id": s, "question_id": q, "selected_option": o,
                             "answered_at": t, "time_spent_ms": ms, "updated_at": at(20)}
                            for a, s, q, o, t, ms in answers])
    submissions = [  # (submission, session, submitted_at, score, max_score)
        (11, 1, at(20), 3, 4),  # the only valid one: 75 %
        (12, 1, "infinity", 4, 4),  # invalid_timestamp
        (13, 1, at(22), NAN, 4),  # invalid_score (Pandas used to count it: pass rate 0)
        (14, 1, at(23), 1, NAN),  # invalid_score
        (15, 1, FUTURE, 4, 4),  # invalid_timestamp
        (21, 2, at(21), 4, 4),  # orphan_session
    ]
    insert(url, "submissions", [{"submission_id": b, "session_id": s, "submitted_at": t, "score": sc,
                                 "max_score": mx, "updated_at": at(30)} for b, s, t, sc, mx in submissions])


EXPECTED_QIF = [
    # session, question, test, student, first, last, hour, events, changes, final, correct, points, spent
    (1, 11, 1, 1, at(6), at(6), at(0), 1, 0, 2, True, 1.0, 100),
    (1, 15, 1, 1, at(9), at(9), at(0), 2, 1, 1, True, 2.0, 30),  # the duplicates: 2 events, 109 is final
]
EXPECTED_SUMMARY = [
    # test, hour, sessions, students, submissions, avg, median, min, max, passed, pass_rate, duration, avg_q
    (1, at(0), 1, 1, 1, 75.0, 75.0, 75.0, 75.0, 1, 1.0, 900.0, 2.0),
]
EXPECTED_FUNNEL = [
    # test, hour, started, engaged, submitted, passed, completed (2 of 6 questions), rates..., drop_off
    (1, at(0), 1, 1, 1, 1, 0, 1.0, 1.0, 1.0, 0.0, None),
]
SESSION_AND_ANSWER_REJECTS = [
    ("answers", "102", "invalid_timestamp"), ("answers", "103", "invalid_timestamp"),
    ("answers", "104", "invalid_question"), ("answers", "105", "invalid_question"),
    ("answers", "106", "invalid_question"), ("answers", "107", "invalid_question"),
    ("answers", "110", "invalid_question"), ("answers", "111", "invalid_timestamp"),
    ("answers", "112", "invalid_timestamp"), ("answers", "201", "orphan_session"),
    ("answers", "301", "orphan_session"),
    ("sessions", "2", "invalid_timestamp"), ("sessions", "3", "invalid_timestamp"),
    ("sessions", "4", "invalid_timestamp"), ("sessions", "5", "invalid_timestamp"),
]
SUBMISSION_REJECTS = [
    ("submissions", "12", "invalid_timestamp"), ("submissions", "13", "invalid_score"),
    ("submissions", "14", "invalid_score"), ("submissions", "15", "invalid_timestamp"),
    ("submissions", "21", "orphan_session"),
]
HOUR_0 = Window(at(0), at(60))


def expected_rejects(pipelines: Sequence[str] = PIPELINES) -> list[tuple]:
    """Each pipeline quarantines the rows of the source tables it reads (contract section 2)."""
    rows = SESSION_AND_ANSWER_REJECTS + SUBMISSION_REJECTS
    return sorted((p, *r) for p in pipelines for r in rows if r[0] in fact(p).sources)


def assert_expected_facts(facts: dict[str, list[tuple]]) -> None:
    assert_rows_equal(facts["question_interaction_fact"], EXPECTED_QIF)
    assert_rows_equal(facts["test_summary_fact"], EXPECTED_SUMMARY)
    assert_rows_equal(facts["test_funnel_fact"], EXPECTED_FUNNEL)


def warehouse_facts(url: str) -> dict[str, list[tuple]]:
    return {f: fetch_fact(url, f) for f in ("question_interaction_fact", "test_summary_fact", "test_funnel_fact")}


@pytest.fixture
def poisoned(dbs):
    seed_poison(dbs.source_url)
    return dbs


def test_the_extract_and_the_planning_read_infinite_times(poisoned):
    # '-infinity' and 1999 are outside the range: the first activity is the tests' update at 10:01.
    assert first_activity_hour(poisoned.source_url) == at(0)


def test_pandas_quarantines_every_poison_value_and_the_window_succeeds(poisoned):
    for _ in range(2):  # a repeated window neither fails nor duplicates a reject
        results = run_pandas_window(poisoned.source_url, poisoned.warehouse_url, HOUR_0)
        assert [r.status for r in results] == ["success"] * len(PIPELINES), [r.error for r in results]
    assert_expected_facts(warehouse_facts(poisoned.warehouse_url))
    assert fetch_rejects(poisoned.warehouse_url) == expected_rejects()


def test_the_reference_quarantines_every_poison_value(poisoned):
    for window in ((None, None), (HOUR_0.start, HOUR_0.end)):  # a full recompute, then the window
        run_reference(poisoned.source_url, *window)
        facts = fetch_reference(poisoned.source_url)
        as_float = {name: [tuple(float(v) if type(v).__name__ == "Decimal" else v for v in row) for row in rows]
                    for name, rows in facts.items()}
        assert_expected_facts(as_float)
        assert facts["rejects"] == sorted(SESSION_AND_ANSWER_REJECTS + SUBMISSION_REJECTS)


def test_a_window_of_poison_only_quarantines_and_writes_nothing(dbs):
    """A window whose only activity is poison (a lone infinite answer of a missing session) succeeds."""
    insert(dbs.source_url, "answers", [{"answer_id": 1, "session_id": 9, "question_id": 1, "selected_option": 1,
                                        "answered_at": "infinity", "time_spent_ms": None, "updated_at": at(5)}])
    results = run_pandas_window(dbs.source_url, dbs.warehouse_url, HOUR_0)
    assert [r.status for r in results] == ["success"] * len(PIPELINES), [r.error for r in results]
    assert fetch_rejects(dbs.warehouse_url) == sorted((p, "answers", "1", "orphan_session") for p in PIPELINES)
    assert all(rows == [] for rows in warehouse_facts(dbs.warehouse_url).values())


HAVE_JAVA = bool(shutil.which("java") or os.environ.get("JAVA_HOME"))


@pytest.mark.spark
@pytest.mark.skipif(not HAVE_JAVA, reason="Spark needs Java")
def test_spark_quarantines_every_poison_value_like_pandas_and_the_reference(poisoned, tmp_path: Path):
    base = load_settings("dev", environ={"MCQ_EMBEDDED_POSTGRES": "true"})
    settings = dataclasses.replace(base, spark_master="local[2]", state_dir=tmp_path / "state", jdbc_jar=None)
    from mcq_analytics.spark.facts import FACT_BUILDERS  # the facts the Spark engine defines (needs pyspark)

    pipelines = list(FACT_BUILDERS)
    results = run_window("spark", settings, poisoned.source_url, poisoned.warehouse_url, HOUR_0, pipelines)
    assert [r.status for r in results] == ["success"] * len(pipelines), [r.error for r in results]
    assert {r.engine for r in results} == {"spark"}
    assert_expected_facts(warehouse_facts(poisoned.warehouse_url))
    assert fetch_rejects(poisoned.warehouse_url) == expected_rejects(pipelines)



def test_item_facts_leave_unusable_questions_out_and_equal_the_reference(poisoned):
    """The item facts score an attempt on its test's usable questions only: 11 and 15 (12, 13, 14, 16 are
    invalid_question); the Pandas engine and the reference give the same rows."""
    results = run_pandas_window(poisoned.source_url, poisoned.warehouse_url, HOUR_0)
    assert [r.status for r in results] == ["success"] * len(PIPELINES), [r.error for r in results]
    run_reference(poisoned.source_url, None, None)
    reference = fetch_reference(poisoned.source_url)
    for name in ("item_statistics_fact", "option_choice_fact"):
        pandas_rows = fetch_fact(poisoned.warehouse_url, name)
        assert sorted({row[2] for row in pandas_rows}) == [11, 15], pandas_rows  # (test, hour, question, …)
        assert_rows_equal(pandas_rows, [tuple(float(v) if type(v).__name__ == "Decimal" else v for v in row)
                                        for row in reference[name]])

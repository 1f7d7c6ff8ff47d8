"""The SQL reference implementation against hand-built cases whose expected fact rows are written out,
one contract rule at a time, and its windowed runs against its own full recompute."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql

from mcq_analytics import reference
from mcq_analytics.paths import read_sql
from mcq_analytics.reference import fetch_reference, run_reference

Row = tuple[str, dict[str, Any]]

DAY = datetime(2024, 6, 1, tzinfo=UTC)
SETUP = DAY.replace(hour=9)  # updated_at of tests and questions that are never edited


def h(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute, second=second)


def mcq_test(test_id: int, pass_pct: str = "50", updated: datetime = SETUP) -> Row:
    return "tests", {"test_id": test_id, "teacher_id": 1, "title": f"T{test_id}",
                     "pass_score_pct": Decimal(pass_pct), "updated_at": updated}


def question(question_id: int, test_id: int, options: int = 4, correct: int = 1, points: str = "1",
             updated: datetime = SETUP) -> Row:
    return "questions", {"question_id": question_id, "test_id": test_id, "position": question_id,
                         "option_count": options, "correct_option": correct, "points": Decimal(points),
                         "updated_at": updated}


def session(session_id: int, test_id: int, student_id: int, started: datetime,
            updated: datetime | None = None) -> Row:
    return "sessions", {"session_id": session_id, "test_id": test_id, "student_id": student_id,
                        "started_at": started, "updated_at": updated or started}


def answer(answer_id: int, session_id: int, question_id: int, option: int | None, at: datetime,
           ms: int | None = 1000, updated: datetime | None = None) -> Row:
    return "answers", {"answer_id": answer_id, "session_id": session_id, "question_id": question_id,
                       "selected_option": option, "answered_at": at, "time_spent_ms": ms,
                       "updated_at": updated or at}


def submission(submission_id: int, session_id: int, at: datetime, score: str, max_score: str = "10",
               updated: datetime | None = None) -> Row:
    return "submissions", {"submission_id": submission_id, "session_id": session_id, "submitted_at": at,
                           "score": Decimal(score), "max_score": Decimal(max_score),
                           "updated_at": updated or at}


def insert(url: str, *rows: Row) -> None:
    with psycopg.connect(url) as conn:
        for table, values in rows:
            conn.execute(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, values)),
                    sql.SQL(", ").join(map(sql.Placeholder, values)),
                ),
                values,
            )


def execute(url: str, query: str, params: tuple[Any, ...]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(query, params)


def approx(rows: Iterable[tuple]) -> list[tuple]:
    """Expected rows with floats compared to 1e-12 relative, everything else exactly."""
    return [tuple(pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for v in row) for row in rows]


def full(url: str, schema: str = "mcq_reference") -> dict[str, list[tuple]]:
    run_reference(url, None, None, schema)
    return fetch_reference(url, schema)


def hourly(start: int, end: int) -> list[tuple[datetime, datetime]]:
    return [(h(hour), h(hour + 1)) for hour in range(start, end)]


def test_rejections_first_reason_and_orphan_test_cascade(dbs: Any) -> None:
    insert(
        dbs.source_url,
        mcq_test(1), mcq_test(2),
        question(11, 1, options=4, correct=2), question(12, 1, options=3, correct=1), question(21, 2),
        session(100, 1, 7, h(10)),
        session(101, 99, 8, h(10, 5)),  # its test does not exist
        answer(1, 100, 11, 2, h(10, 1)),
        answer(2, 555, 11, 2, h(10, 2)),  # no such session
        answer(3, 101, 999, 9, h(10, 6)),  # orphan_test session: orphan_session before the other faults
        answer(4, 100, 999, 1, h(10, 3)),
        answer(5, 100, 21, 9, h(10, 3)),  # wrong test and out of range: question_not_in_test first
        answer(6, 100, 12, 4, h(10, 3)),
        answer(7, 100, 12, 0, h(10, 3)),
        answer(9, 100, 12, 3, h(10, 3)),  # option_count itself is in range
        answer(8, 100, 12, None, h(10, 4)),  # a clear is valid
        submission(1, 555, h(10, 30), "5"),
        submission(2, 101, h(10, 30), "-1"),  # orphan_session before invalid_score
        submission(3, 100, h(10, 50), "0", "0"),
        submission(4, 100, h(10, 50), "-1"),
        submission(5, 100, h(10, 50), "11"),
        submission(6, 100, h(10, 30), "10"),  # score = max_score is valid, and the latest valid one
        submission(7, 100, h(10, 20), "0"),
    )
    written = run_reference(dbs.source_url, None, None)
    facts = fetch_reference(dbs.source_url)
    assert facts["rejects"] == [
        ("answers", "2", "orphan_session"),
        ("answers", "3", "orphan_session"),
        ("answers", "4", "orphan_question"),
        ("answers", "5", "question_not_in_test"),
        ("answers", "6", "option_out_of_range"),
        ("answers", "7", "option_out_of_range"),
        ("sessions", "101", "orphan_test"),
        ("submissions", "1", "orphan_session"),
        ("submissions", "2", "orphan_session"),
        ("submissions", "3", "invalid_score"),
        ("submissions", "4", "invalid_score"),
        ("submissions", "5", "invalid_score"),
    ]
    assert facts["question_interaction_fact"] == [
        (100, 11, 1, 7, h(10, 1), h(10, 1), h(10), 1, 0, 2, True, Decimal("1.00"), 1000),
        (100, 12, 1, 7, h(10, 3), h(10, 4), h(10), 2, 1, None, False, Decimal("0"), 2000),
    ]
    # The orphan_test session is in no bucket.
    assert facts["test_summary_fact"] == approx([
        (1, h(10), 1, 1, 1, 100.0, 100.0, 100.0, 100.0, 1, 1.0, 1800.0, 1.0),
    ])
    assert facts["test_funnel_fact"] == approx([
        (1, h(10), 1, 1, 1, 1, 0, 1.0, 1.0, 1.0, 0.0, None),
    ])
    assert written == {"rejects": 12, "question_interaction_fact": 2, "test_summary_fact": 1,
                       "test_funnel_fact": 1,
                       # one scored attempt x questions 11, 12; options 0..4 and 0..3
                       "item_statistics_fact": 2, "option_choice_fact": 9}


def test_question_interaction_changes_clears_ties_and_time_spent(dbs: Any) -> None:
    plus_two = timezone(timedelta(hours=2))
    insert(
        dbs.source_url,
        mcq_test(1),
        question(11, 1, correct=3, points="2.50"), question(12, 1, correct=2), question(13, 1, correct=1),
        session(100, 1, 7, h(10, 50)),
        answer(1, 100, 11, 1, h(10, 51), ms=1000),
        answer(2, 100, 11, 2, h(11, 2), ms=None),
        answer(3, 100, 11, 3, h(11, 2), ms=-5),  # same answered_at: the larger answer_id is the latest
        answer(4, 100, 12, 2, h(10, 52), ms=500),
        answer(5, 100, 12, None, h(10, 53), ms=200),  # cleared: final_option NULL
        answer(50, 100, 13, 1, datetime(2024, 6, 1, 12, 55, tzinfo=plus_two), ms=0),  # 10:55 UTC
        answer(40, 100, 13, 2, h(10, 55), ms=10),
    )
    assert full(dbs.source_url)["question_interaction_fact"] == [
        (100, 11, 1, 7, h(10, 51), h(11, 2), h(11), 3, 2, 3, True, Decimal("2.50"), 1000),
        (100, 12, 1, 7, h(10, 52), h(10, 53), h(10), 2, 1, None, False, Decimal("0"), 700),
        (100, 13, 1, 7, h(10, 55), h(10, 55), h(10), 2, 1, 1, True, Decimal("1"), 10),
    ]


def test_summary_and_funnel_bucket(dbs: Any) -> None:
    insert(
        dbs.source_url,
        mcq_test(1, pass_pct="60"), question(11, 1), question(12, 1),
        mcq_test(2, pass_pct="29"), question(21, 2),
        # s1: completed; two submissions, the later one (60 %) counts and passes at the boundary.
        session(1, 1, 1, h(10)),
        answer(1, 1, 11, 1, h(10, 1)), answer(2, 1, 12, 2, h(10, 2)),
        submission(1, 1, h(10, 20), "3"), submission(2, 1, h(10, 40), "6"),
        # s2: one question; two submissions at the same instant, the larger id (50 %) counts.
        session(2, 1, 2, h(10, 10)),
        answer(3, 2, 11, 1, h(10, 11)),
        submission(4, 2, h(10, 30), "5"), submission(3, 2, h(10, 30), "9"),
        # s3: submitted (80 %) without answering, 5 minutes before it started (duration excluded).
        session(3, 1, 3, h(10, 20)),
        submission(5, 3, h(10, 15), "8"),
        # s4: same student as s1, only a cleared answer: engaged, 0 questions answered.
        session(4, 1, 1, h(10, 30)),
        answer(4, 4, 11, None, h(10, 31)),
        # s5: its only submission is invalid.
        session(5, 1, 4, h(10, 59, 59)),
        submission(6, 5, h(11, 5), "11"),
        # s6: starts exactly on the next hour.
        session(6, 1, 5, h(11)),
        # Test 2: 0.29 / 1.00 is exactly the 29 % pass mark (float64 division would give 28.999...).
        session(20, 2, 1, h(10)),
        answer(20, 20, 21, 1, h(10, 1)),
        submission(20, 20, h(10, 2), "0.29", "1.00"),
        # An even number of scores: the median interpolates, (29 + 50) / 2.
        session(21, 2, 2, h(10, 15)),
        submission(21, 21, h(10, 45), "0.50", "1.00"),
    )
    facts = full(dbs.source_url)
    assert facts["test_summary_fact"] == approx([
        (1, h(10), 5, 4, 3, 190 / 3, 60.0, 50.0, 80.0, 2, 2 / 3, 1800.0, 0.6),
        (1, h(11), 1, 1, 0, None, None, None, None, 0, None, None, 0.0),
        (2, h(10), 2, 2, 2, 39.5, 39.5, 29.0, 50.0, 2, 1.0, 960.0, 0.5),
    ])
    assert facts["test_funnel_fact"] == approx([
        # losses 2, 1, 1: engaged. The funnel's submitted/passed count engaged sessions only.
        (1, h(10), 5, 3, 2, 1, 1, 0.6, 0.4, 0.2, 0.2, "engaged"),
        (1, h(11), 1, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, "engaged"),
        (2, h(10), 2, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, "engaged"),
    ])
    assert facts["rejects"] == [("submissions", "6", "invalid_score")]


def test_drop_off_ties_and_null_averages(dbs: Any) -> None:
    insert(
        dbs.source_url,
        mcq_test(3), question(31, 3),
        # 10:00: started 2, engaged 1, submitted 0: losses 1, 1, 0 -> the earliest, engaged.
        session(1, 3, 1, h(10)), answer(1, 1, 31, 1, h(10, 1)),
        session(2, 3, 2, h(10, 5)),
        # 11:00: started 2, engaged 2, submitted 1, passed 0: losses 0, 1, 1 -> submitted.
        session(3, 3, 3, h(11)), answer(3, 3, 31, 1, h(11, 1)),
        session(4, 3, 4, h(11)), answer(4, 4, 31, 1, h(11, 1)), submission(4, 4, h(11, 2), "1"),
        # 12:00: nothing lost; the only duration is negative, so there is no average.
        session(5, 3, 5, h(12, 30)), answer(5, 5, 31, 1, h(12, 31)), submission(5, 5, h(12, 10), "5"),
    )
    facts = full(dbs.source_url)
    assert facts["test_summary_fact"] == approx([
        (3, h(10), 2, 2, 0, None, None, None, None, 0, None, None, 0.5),
        (3, h(11), 2, 2, 1, 10.0, 10.0, 10.0, 10.0, 0, 0.0, 120.0, 1.0),
        (3, h(12), 1, 1, 1, 50.0, 50.0, 50.0, 50.0, 1, 1.0, None, 1.0),
    ])
    assert facts["test_funnel_fact"] == approx([
        (3, h(10), 2, 1, 0, 0, 1, 0.5, 0.0, 0.0, 0.5, "engaged"),
        (3, h(11), 2, 2, 1, 0, 2, 1.0, 0.5, 0.0, 1.0, "submitted"),
        (3, h(12), 1, 1, 1, 1, 1, 1.0, 1.0, 1.0, 1.0, None),
    ])


def test_late_answer_recomputes_its_sessions_whole_bucket(dbs: Any) -> None:
    url = dbs.source_url
    insert(
        url,
        mcq_test(1), question(11, 1), question(12, 1),
        session(1, 1, 1, h(10, 5)), answer(1, 1, 11, 1, h(10, 10)),
        session(2, 1, 2, h(10, 20)), answer(2, 2, 11, 2, h(10, 25)),
    )
    for start, end in hourly(9, 12):
        run_reference(url, start, end)
    assert fetch_reference(url)["test_funnel_fact"] == approx([
        (1, h(10), 2, 2, 0, 0, 0, 1.0, 0.0, 0.0, 0.0, "submitted"),
    ])
    # Session 1's answer to question 12, made at 10:30, reaches the source at 12:15.
    insert(url, answer(3, 1, 12, 1, h(10, 30), updated=h(12, 15)))
    assert run_reference(url, h(11), h(12)) == {"rejects": 0, "question_interaction_fact": 0,
                                                "test_summary_fact": 0, "test_funnel_fact": 0,
                                                "item_statistics_fact": 0, "option_choice_fact": 0}
    written = run_reference(url, h(12), h(13))
    # no submission, so no scored attempt: no item rows
    assert written == {"rejects": 0, "question_interaction_fact": 2, "test_summary_fact": 1,
                       "test_funnel_fact": 1, "item_statistics_fact": 0, "option_choice_fact": 0}
    facts = fetch_reference(url)
    # Session 2 was not affected, yet its bucket row counts it.
    assert facts["test_summary_fact"] == approx([
        (1, h(10), 2, 2, 0, None, None, None, None, 0, None, None, 1.5),
    ])
    assert facts["test_funnel_fact"] == approx([
        (1, h(10), 2, 2, 0, 0, 1, 1.0, 0.0, 0.0, 0.5, "submitted"),
    ])
    assert facts == full(url, "mcq_reference_full")


def test_regrade_recomputes_every_session_of_the_test(dbs: Any) -> None:
    url = dbs.source_url
    insert(
        url,
        mcq_test(1), question(11, 1, options=4, correct=2), question(12, 1, options=4, correct=1),
        mcq_test(2), question(21, 2),
        session(1, 1, 1, h(10)), answer(1, 1, 11, 2, h(10, 1)),
        session(2, 1, 2, h(13)), answer(2, 2, 11, 3, h(13, 1)), answer(3, 2, 12, 3, h(13, 2)),
        session(3, 2, 3, h(13)), answer(4, 3, 21, 1, h(13, 1)),
    )
    for start, end in hourly(9, 15):
        run_reference(url, start, end)
    # At 15:10 question 11's key becomes option 3 and question 12 loses its options 3 and 4.
    at = h(15, 10)
    execute(url, "UPDATE questions SET correct_option = 3, updated_at = %s WHERE question_id = 11", (at,))
    execute(url, "UPDATE questions SET option_count = 2, updated_at = %s WHERE question_id = 12", (at,))
    written = run_reference(url, h(15), h(16))
    # Both sessions of test 1 (in different hours) are recomputed; test 2's session is not.
    assert written == {"rejects": 1, "question_interaction_fact": 2, "test_summary_fact": 2,
                       "test_funnel_fact": 2, "item_statistics_fact": 0, "option_choice_fact": 0}
    facts = fetch_reference(url)
    assert facts["question_interaction_fact"] == [
        (1, 11, 1, 1, h(10, 1), h(10, 1), h(10), 1, 0, 2, False, Decimal("0"), 1000),
        (2, 11, 1, 2, h(13, 1), h(13, 1), h(13), 1, 0, 3, True, Decimal("1"), 1000),
        (3, 21, 2, 3, h(13, 1), h(13, 1), h(13), 1, 0, 1, True, Decimal("1"), 1000),
    ]
    assert facts["rejects"] == [("answers", "3", "option_out_of_range")]
    assert facts == full(url, "mcq_reference_full")


def test_session_moved_to_another_hour_leaves_its_old_bucket(dbs: Any) -> None:
    url = dbs.source_url
    insert(url, mcq_test(1), question(11, 1), session(1, 1, 1, h(10, 5)), answer(1, 1, 11, 1, h(11, 10)))
    for start, end in hourly(9, 12):
        run_reference(url, start, end)
    assert [row[:3] for row in fetch_reference(url)["test_summary_fact"]] == [(1, h(10), 1)]
    execute(url, "UPDATE sessions SET started_at = %s, updated_at = %s WHERE session_id = 1",
            (h(11, 5), h(12, 30)))
    run_reference(url, h(12), h(13))
    facts = fetch_reference(url)
    assert [row[:3] for row in facts["test_summary_fact"]] == [(1, h(11), 1)]
    assert facts == full(url, "mcq_reference_full")


def test_quarantine_follows_the_source_when_an_orphan_is_resolved(dbs: Any) -> None:
    url = dbs.source_url
    insert(url, mcq_test(1), question(11, 1),
           answer(1, 5, 11, 1, h(10, 10)), submission(1, 5, h(10, 20), "5"),
           session(6, 2, 6, h(10)))
    run_reference(url, h(10), h(11))
    assert fetch_reference(url)["rejects"] == [
        ("answers", "1", "orphan_session"), ("sessions", "6", "orphan_test"),
        ("submissions", "1", "orphan_session"),
    ]
    # Session 5 arrives late; test 2 is created, which is a change to every session of test 2.
    insert(url, session(5, 1, 5, h(10), updated=h(11, 30)), mcq_test(2, updated=h(11, 40)))
    run_reference(url, h(11), h(12))
    facts = fetch_reference(url)
    assert facts["rejects"] == []
    assert [row[:3] for row in facts["test_funnel_fact"]] == [(1, h(10), 1), (2, h(10), 1)]
    assert facts == full(url, "mcq_reference_full")


def test_hourly_windows_in_order_reversed_and_repeated_equal_full_recompute(dbs: Any) -> None:
    url = dbs.source_url
    insert(
        url,
        mcq_test(1, pass_pct="70"), question(11, 1, correct=2), question(12, 1, options=3, correct=3),
        mcq_test(2, updated=h(13, 10)), question(21, 2), question(22, 2, correct=2, updated=h(14, 59)),
        session(1, 1, 1, h(10, 5)), answer(1, 1, 11, 2, h(10, 6)), answer(2, 1, 12, 3, h(11, 1)),
        answer(3, 1, 12, 1, h(10, 30), updated=h(12, 15)), submission(1, 1, h(11, 5), "7"),
        session(2, 1, 2, h(10, 40)), answer(4, 2, 11, 9, h(10, 41)), submission(2, 2, h(10, 50), "20"),
        session(3, 2, 1, h(12, 59, 59)), answer(5, 3, 21, None, h(13)), answer(6, 3, 22, 2, h(13, 1)),
        submission(3, 3, h(12, 50), "10", updated=h(14, 20)),
        session(4, 9, 4, h(11)), answer(7, 4, 11, 1, h(11, 1)), answer(8, 77, 12, 1, h(14, 1)),
        session(5, 2, 5, h(9, 59), updated=h(15, 1)),
    )
    expected = full(url, "mcq_reference_full")
    assert len(expected["test_summary_fact"]) == 3 and len(expected["rejects"]) == 5
    windows = hourly(8, 17)
    for start, end in windows:
        run_reference(url, start, end, "in_order")
    assert fetch_reference(url, "in_order") == expected
    for start, end in reversed(windows):
        run_reference(url, start, end, "reversed")
    assert fetch_reference(url, "reversed") == expected
    run_reference(url, h(12), h(13), "in_order")
    run_reference(url, h(8), h(17), "in_order")
    assert fetch_reference(url, "in_order") == expected


def test_a_failed_run_leaves_the_reference_as_it_was(dbs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = dbs.source_url
    insert(url, mcq_test(1), question(11, 1), session(1, 1, 1, h(10)), answer(1, 1, 11, 1, h(10, 1)))
    before = full(url)
    insert(url, session(2, 1, 2, h(10, 30)))

    def failing_last_step(name: str) -> str:
        return "SELECT 1 / 0" if name == "reference/test_funnel_fact.sql" else read_sql(name)

    monkeypatch.setattr(reference, "read_sql", failing_last_step)
    with pytest.raises(psycopg.errors.DivisionByZero):
        run_reference(url, None, None)  # truncates, rewrites three tables, then fails
    assert fetch_reference(url) == before


def test_window_must_have_both_bounds(dbs: Any) -> None:
    with pytest.raises(ValueError):
        run_reference(dbs.source_url, h(10), None)

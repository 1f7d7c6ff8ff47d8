"""Every rule of docs/data_contract.md on a small hand-built case, through the Pandas engine on a real
PostgreSQL, with the expected rows written out."""

from __future__ import annotations

import pytest
from helpers import assert_rows_equal, at, fetch_fact, fetch_rejects, insert

from mcq_analytics.pipeline import PIPELINES, run_pandas_window
from mcq_analytics.windows import Window


def seed_platform(url: str) -> None:
    """Three tests, eight sessions and every kind of bad row (ids are chosen to read easily)."""
    insert(url, "teachers", [{"teacher_id": 1, "full_name": "T. One", "email": "t1@example.com",
                              "updated_at": at(-600)}])
    insert(url, "students", [{"student_id": i, "full_name": f"S{i}", "email": f"s{i}@example.com",
                              "updated_at": at(-600)} for i in range(1, 8)])
    insert(url, "tests", [
        {"test_id": 1, "teacher_id": 1, "title": "Algebra", "pass_score_pct": 50, "updated_at": at(-600)},
        {"test_id": 2, "teacher_id": 1, "title": "Geometry", "pass_score_pct": 60, "updated_at": at(-600)},
        {"test_id": 3, "teacher_id": 1, "title": "Logic", "pass_score_pct": 50, "updated_at": at(-600)},
        {"test_id": 4, "teacher_id": 1, "title": "Chemistry", "pass_score_pct": 29, "updated_at": at(-600)},
    ])
    insert(url, "questions", [
        {"question_id": 11, "test_id": 1, "position": 1, "option_count": 4, "correct_option": 2, "points": 1,
         "updated_at": at(-600)},
        {"question_id": 12, "test_id": 1, "position": 2, "option_count": 4, "correct_option": 3, "points": 2,
         "updated_at": at(-600)},
        {"question_id": 13, "test_id": 1, "position": 3, "option_count": 3, "correct_option": 1, "points": 1,
         "updated_at": at(-600)},
        {"question_id": 21, "test_id": 2, "position": 1, "option_count": 4, "correct_option": 1, "points": 1,
         "updated_at": at(-600)},
        {"question_id": 31, "test_id": 3, "position": 1, "option_count": 2, "correct_option": 1, "points": 1,
         "updated_at": at(-600)},
        {"question_id": 41, "test_id": 4, "position": 1, "option_count": 3, "correct_option": 1, "points": 1,
         "updated_at": at(-600)},
    ])
    sessions = [  # (session, test, student, started minute)
        (1, 1, 1, 5), (2, 1, 2, 30), (3, 1, 1, 40), (4, 1, 3, 50), (5, 99, 4, 10), (6, 2, 5, 20),
        (7, 3, 6, 70), (8, 3, 7, 80), (9, 4, 7, 15),
    ]
    insert(url, "sessions", [{"session_id": s, "test_id": t, "student_id": st, "started_at": at(m),
                              "updated_at": at(m)} for s, t, st, m in sessions])
    answers = [  # (answer, session, question, option, minute, time_spent_ms)
        (101, 1, 11, 1, 6, 1000), (102, 1, 11, 2, 7, None),  # a change: final 2 (correct)
        (103, 1, 12, 3, 8, -5), (104, 1, 12, None, 9, 500),  # cleared last: final NULL
        (105, 1, 13, 3, 10, 100), (106, 1, 13, 1, 10, 100),  # same instant: higher id wins, final 1
        (107, 1, 11, 0, 5.5, 10),  # option_out_of_range (0)
        (108, 1, 555, 1, 6, 10),  # orphan_question
        (109, 1, 21, 1, 6, 10),  # question_not_in_test
        (201, 2, 11, 2, 59, 3000), (202, 2, 12, 3, 61, 2000), (203, 2, 13, 1, 62, 1000),  # across the hour
        (401, 4, 11, 9, 51, 10),  # option_out_of_range (9 > 4): session 4 is not engaged
        (501, 5, 11, 2, 11, 10),  # orphan_session: session 5's test is missing
        (502, 5, 11, 7, 12, 10),  # out of range too, but orphan_session comes first
        (701, 777, 11, 1, 15, 10),  # orphan_session
        (702, 777, 555, 1, 16, 10),  # orphan session and question: orphan_session only
        (601, 6, 21, 1, 22, 4000),
        (711, 7, 31, 2, 71, 1500),
        (901, 9, 41, 1, 16, 100),
    ]
    insert(url, "answers", [{"answer_id": a, "session_id": s, "question_id": q, "selected_option": o,
                             "answered_at": at(m), "time_spent_ms": ms, "updated_at": at(m)}
                            for a, s, q, o, m, ms in answers])
    submissions = [  # (submission, session, minute, score, max)
        (11, 1, 20, 2, 4), (12, 1, 15, 1, 4),  # latest valid is 11: 50 % = pass mark of test 1
        (13, 1, 30, 5, 4),  # invalid_score: score > max
        (14, 1, 31, 0, 0),  # invalid_score: max <= 0
        (15, 1, 32, -1, 4),  # invalid_score: score < 0
        (21, 2, 65, 4, 4),
        (41, 4, 45, 1, 4),  # before its session started: no duration
        (51, 5, 20, 1, 4),  # orphan_session (orphan_test session)
        (71, 777, 20, 9, 0),  # orphan_session before invalid_score
        (61, 6, 25, 1, 1),
        (91, 9, 30, 29, 100),  # exactly the pass mark of test 4 (29 %): passes
    ]
    insert(url, "submissions", [{"submission_id": b, "session_id": s, "submitted_at": at(m), "score": sc,
                                 "max_score": mx, "updated_at": at(m)} for b, s, m, sc, mx in submissions])


EXPECTED_QIF = [
    # session, question, test, student, first, last, hour, events, changes, final, correct, points, spent
    (1, 11, 1, 1, at(6), at(7), at(0), 2, 1, 2, True, 1.0, 1000),
    (1, 12, 1, 1, at(8), at(9), at(0), 2, 1, None, False, 0.0, 500),
    (1, 13, 1, 1, at(10), at(10), at(0), 2, 1, 1, True, 1.0, 200),
    (2, 11, 1, 2, at(59), at(59), at(0), 1, 0, 2, True, 1.0, 3000),
    (2, 12, 1, 2, at(61), at(61), at(60), 1, 0, 3, True, 2.0, 2000),
    (2, 13, 1, 2, at(62), at(62), at(60), 1, 0, 1, True, 1.0, 1000),
    (6, 21, 2, 5, at(22), at(22), at(0), 1, 0, 1, True, 1.0, 4000),
    (7, 31, 3, 6, at(71), at(71), at(60), 1, 0, 2, False, 0.0, 1500),
    (9, 41, 4, 7, at(16), at(16), at(0), 1, 0, 1, True, 1.0, 100),
]
EXPECTED_SUMMARY = [
    # test, hour, sessions, students, submissions, avg, median, min, max, passed, pass_rate, duration, avg_q
    (1, at(0), 4, 3, 3, 175 / 3, 50.0, 25.0, 100.0, 2, 2 / 3, 1500.0, 1.25),
    (2, at(0), 1, 1, 1, 100.0, 100.0, 100.0, 100.0, 1, 1.0, 300.0, 1.0),
    (3, at(60), 2, 2, 0, None, None, None, None, 0, None, None, 0.5),
    (4, at(0), 1, 1, 1, 29.0, 29.0, 29.0, 29.0, 1, 1.0, 900.0, 1.0),
]
EXPECTED_FUNNEL = [
    # test, hour, started, engaged, submitted, passed, completed, rates..., drop_off
    (1, at(0), 4, 2, 2, 2, 1, 0.5, 0.5, 0.5, 0.25, "engaged"),
    (2, at(0), 1, 1, 1, 1, 1, 1.0, 1.0, 1.0, 1.0, None),
    (3, at(60), 2, 1, 0, 0, 1, 0.5, 0.0, 0.0, 0.5, "engaged"),  # losses 1, 1, 0: the tie goes to the earliest
    (4, at(0), 1, 1, 1, 1, 1, 1.0, 1.0, 1.0, 1.0, None),
]
SESSION_AND_ANSWER_REJECTS = [
    ("answers", "107", "option_out_of_range"), ("answers", "108", "orphan_question"),
    ("answers", "109", "question_not_in_test"), ("answers", "401", "option_out_of_range"),
    ("answers", "501", "orphan_session"), ("answers", "502", "orphan_session"),
    ("answers", "701", "orphan_session"), ("answers", "702", "orphan_session"),
    ("sessions", "5", "orphan_test"),
]
SUBMISSION_REJECTS = [
    ("submissions", "13", "invalid_score"), ("submissions", "14", "invalid_score"),
    ("submissions", "15", "invalid_score"), ("submissions", "51", "orphan_session"),
    ("submissions", "71", "orphan_session"),
]




@pytest.fixture
def platform(dbs):
    seed_platform(dbs.source_url)
    return dbs


def run_hours(dbs, *hours: int) -> None:
    for hour in hours:
        results = run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(at(60 * hour), at(60 * hour + 60)))
        assert [r.status for r in results] == ["success"] * len(PIPELINES), [r.error for r in results]


def test_facts_follow_every_contract_rule(platform):
    run_hours(platform, 0, 1)
    assert_rows_equal(fetch_fact(platform.warehouse_url, "question_interaction_fact"), EXPECTED_QIF)
    assert_rows_equal(fetch_fact(platform.warehouse_url, "test_summary_fact"), EXPECTED_SUMMARY)
    assert_rows_equal(fetch_fact(platform.warehouse_url, "test_funnel_fact"), EXPECTED_FUNNEL)


def test_every_rejection_reason_is_quarantined_once_with_its_first_reason(platform):
    run_hours(platform, 0, 1, 0)  # the repeated window must not duplicate a reject
    expected = [("question_interaction_fact", *r) for r in SESSION_AND_ANSWER_REJECTS]
    for pipeline in ("test_funnel_fact", "test_summary_fact", "item_statistics_fact", "option_choice_fact"):
        expected += [(pipeline, *r) for r in sorted(SESSION_AND_ANSWER_REJECTS + SUBMISSION_REJECTS)]
    assert fetch_rejects(platform.warehouse_url) == sorted(expected)


def test_hours_in_reverse_order_and_one_run_over_both_give_the_same_facts(platform, dbs):
    run_hours(platform, 1, 0)
    reverse = {f: fetch_fact(dbs.warehouse_url, f) for f in ("question_interaction_fact", "test_summary_fact",
                                                             "test_funnel_fact")}
    assert_rows_equal(reverse["question_interaction_fact"], EXPECTED_QIF)
    assert_rows_equal(reverse["test_summary_fact"], EXPECTED_SUMMARY)
    results = run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(at(0), at(120)))
    assert all(r.status == "success" for r in results)
    assert {f: fetch_fact(dbs.warehouse_url, f) for f in reverse} == reverse


def test_a_late_answer_recomputes_its_session_and_bucket(platform):
    run_hours(platform, 0, 1)
    # Session 3 (test 1, started 10:40) gets an answer written at 13:30 for 10:45: only window 13 sees it.
    insert(platform.source_url, "answers", [{"answer_id": 301, "session_id": 3, "question_id": 11,
                                             "selected_option": 4, "answered_at": at(45), "time_spent_ms": 700,
                                             "updated_at": at(210)}])
    run_hours(platform, 3)
    qif = fetch_fact(platform.warehouse_url, "question_interaction_fact")
    assert (3, 11, 1, 1, at(45), at(45), at(0), 1, 0, 4, False, 0.0, 700) in qif
    summary = fetch_fact(platform.warehouse_url, "test_summary_fact")
    assert_rows_equal(summary[:1], [(1, at(0), 4, 3, 3, 175 / 3, 50.0, 25.0, 100.0, 2, 2 / 3, 1500.0, 1.5)])
    funnel = fetch_fact(platform.warehouse_url, "test_funnel_fact")
    assert_rows_equal(funnel[:1], [(1, at(0), 4, 3, 2, 2, 1, 0.75, 0.5, 0.5, 0.25, "engaged")])


def test_a_regrade_recomputes_every_session_of_the_test(platform):
    run_hours(platform, 0, 1)
    with_regrade = "UPDATE questions SET correct_option = 3, updated_at = %s WHERE question_id = 13"
    import psycopg

    with psycopg.connect(platform.source_url) as conn:
        conn.execute(with_regrade, (at(300),))
    run_hours(platform, 5)
    qif = {(r[0], r[1]): r for r in fetch_fact(platform.warehouse_url, "question_interaction_fact")}
    assert qif[(1, 13)][10:12] == (False, 0.0)  # final option 1 is wrong now
    assert qif[(2, 13)][10:12] == (False, 0.0)
    assert qif[(6, 21)][10:12] == (True, 1.0)  # another test: untouched

"""Fast pure unit tests: the Pandas engine's transforms (frames in, frames out) and the window planner.

No database, no subprocess: these pin the rules with rows written out, and run in well under a second.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from mcq_analytics.planning import windows_for
from mcq_analytics.transform import final_answers, funnels_by_cohort, summaries_by_cohort
from mcq_analytics.windows import Window

H = 3_600_000_000  # one hour in microseconds


def t(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 6, 1, hour, minute, tzinfo=UTC)


def active(*hours: datetime) -> list[tuple[datetime, int]]:
    """Active hours as the planner receives them (the affected answers do not matter hour by hour)."""
    return [(hour, 1) for hour in hours]


def test_hourly_windows_around_active_hours_merge_the_quiet_stretches():
    assert windows_for(t(0), t(6), active(t(1), t(2), t(5)), window_hours=1) == [
        Window(t(0), t(1)), Window(t(1), t(2)), Window(t(2), t(3)), Window(t(3), t(5)), Window(t(5), t(6))]
    # A range starting inside an active hour, and one with no activity at all.
    assert windows_for(t(1, 30), t(3), active(t(1), t(2)), window_hours=1) == [Window(t(1, 30), t(2)),
                                                                                Window(t(2), t(3))]
    assert windows_for(t(0), t(23), [], window_hours=1) == [Window(t(0), t(23))]
    # An active hour cut by the range's end.
    assert windows_for(t(0), t(2, 30), active(t(2)), window_hours=1) == [Window(t(0), t(2)), Window(t(2), t(2, 30))]


def _answers(rows: list[tuple]) -> pd.DataFrame:
    columns = ["answer_id", "session_id", "question_id", "selected_option", "answered_us", "time_spent_ms",
               "test_id", "student_id", "correct_option", "points"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"selected_option": "float64", "time_spent_ms": "float64", "points": "float64"})


def test_final_answers_take_the_latest_answer_ties_by_answer_id_and_sum_time():
    answers = _answers([
        # answer, session, question, option, answered µs, ms, test, student, key, points
        (1, 10, 100, 2, 1_000, 500, 1, 7, 3, 2.0),
        (2, 10, 100, 3, 2_000, -5, 1, 7, 3, 2.0),    # the final answer; negative time counts as 0
        (3, 10, 101, 1, 1_500, np.nan, 1, 7, 1, 1.0),
        (5, 11, 100, 4, 3_000, 100, 1, 8, 3, 2.0),   # identical time: the higher answer_id wins
        (4, 11, 100, 3, 3_000, 200, 1, 8, 3, 2.0),
    ])
    finals = final_answers(answers).sort_values(["session_id", "question_id"]).reset_index(drop=True)
    got = finals[["session_id", "question_id", "first_answered_us", "last_answered_us", "answer_events",
                  "time_spent_ms", "final_option"]].to_records(index=False).tolist()
    assert got == [(10, 100, 1_000, 2_000, 2, 500, 3.0), (10, 101, 1_500, 1_500, 1, 0, 1.0),
                   (11, 100, 3_000, 3_000, 2, 300, 4.0)]


def _outcomes() -> pd.DataFrame:
    """Four sessions of test 1 in the 10:00 cohort and one of test 2 in the 11:00 cohort."""
    return pd.DataFrame({
        "session_id": [1, 2, 3, 4, 5],
        "test_id": [1, 1, 1, 1, 2],
        "student_id": [7, 7, 8, 9, 7],
        "hour_start_us": [10 * H, 10 * H, 10 * H, 10 * H, 11 * H],
        "has_submission": [True, True, False, True, False],
        "score_pct": [80.0, 40.0, np.nan, 60.0, np.nan],
        "is_passed": [True, False, False, True, False],
        "is_engaged": [True, True, True, False, False],
        "duration_s": [600.0, 1200.0, np.nan, 300.0, np.nan],
        "questions_answered": [4, 2, 1, 0, 0],
        "question_count": [4, 4, 4, 4, 5],
    })


def test_summaries_per_test_and_cohort_hour():
    summary = summaries_by_cohort(_outcomes()).set_index(["test_id", "hour_start_us"])
    one = summary.loc[(1, 10 * H)]
    assert (one["sessions_started"], one["students"], one["submissions"], one["passed"]) == (4, 3, 3, 2)
    assert (one["avg_score_pct"], one["median_score_pct"], one["min_score_pct"], one["max_score_pct"]) == (
        60.0, 60.0, 40.0, 80.0)
    assert one["pass_rate"] == 2 / 3 and one["avg_duration_seconds"] == 700.0
    assert one["avg_questions_answered"] == 7 / 4
    two = summary.loc[(2, 11 * H)]
    assert (two["sessions_started"], two["submissions"], two["passed"]) == (1, 0, 0)
    assert np.isnan(two["pass_rate"]) and np.isnan(two["avg_score_pct"])  # no submissions: no rates


def test_funnels_count_nested_stages_and_the_largest_drop_off():
    funnel = funnels_by_cohort(_outcomes()).set_index(["test_id", "hour_start_us"])
    one = funnel.loc[(1, 10 * H)]
    # session 4 submitted without a valid answer: not engaged, so not counted as submitted in the funnel
    assert (one["started"], one["engaged"], one["submitted"], one["passed"], one["completed"]) == (4, 3, 2, 1, 1)
    assert (one["engaged_rate"], one["submitted_rate"], one["passed_rate"]) == (0.75, 0.5, 0.25)
    assert one["drop_off_stage"] == "engaged"  # 1 lost at each stage: ties go to the earliest stage
    two = funnel.loc[(2, 11 * H)]
    assert (two["started"], two["engaged"], two["drop_off_stage"]) == (1, 0, "engaged")

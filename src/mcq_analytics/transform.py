"""The Pandas engine's definition of the facts and the quarantine (docs/data_contract.md sections 2 and 4).

Pure functions from source frames to fact frames: no I/O, so the rules can be read in one place and the
parity tests hold this file and ``include/spark_jobs/`` together. Timestamps stay int64 epoch
microseconds throughout (UTC hours are integer floors), which keeps every step vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mcq_analytics.extract import SourceFrames

HOUR_US = 3_600_000_000
FUNNEL_STAGES = ("engaged", "submitted", "passed")

#: Which source tables each pipeline reads, and so quarantines.
PIPELINE_SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "question_interaction_fact": ("sessions", "answers"),
    "test_summary_fact": ("sessions", "answers", "submissions"),
    "test_funnel_fact": ("sessions", "answers", "submissions"),
}


@dataclass
class Validated:
    """Source rows split into the valid ones (joined with what the facts need) and the rejects."""

    sessions: pd.DataFrame  # valid sessions + pass_score_pct, question_count
    answers: pd.DataFrame  # valid answers + test_id, student_id, correct_option, points
    submissions: pd.DataFrame  # valid submissions
    rejects: pd.DataFrame  # source_table, source_key, reason


def _rejects(table: str, keys: pd.Series, reason: str) -> pd.DataFrame:
    return pd.DataFrame({"source_table": table, "source_key": keys.astype("int64").astype(str), "reason": reason})


def validate(src: SourceFrames) -> Validated:
    """Apply the rules of contract section 2 in their order; each row gets at most its first reason."""
    found: list[pd.DataFrame] = []

    sessions = src.sessions.merge(src.tests, on="test_id", how="left", indicator=True)
    orphan_test = sessions["_merge"] == "left_only"
    found.append(_rejects("sessions", sessions.loc[orphan_test, "session_id"], "orphan_test"))
    sessions = sessions.loc[~orphan_test].drop(columns="_merge")

    answers = src.answers.merge(
        sessions[["session_id", "test_id", "student_id"]], on="session_id", how="left", indicator="_session"
    ).merge(
        src.questions.rename(columns={"test_id": "question_test_id"}), on="question_id", how="left",
        indicator="_question",
    )
    rules = [
        ("orphan_session", answers["_session"] == "left_only"),
        ("orphan_question", answers["_question"] == "left_only"),
        ("question_not_in_test", answers["question_test_id"] != answers["test_id"]),
        ("option_out_of_range", answers["selected_option"].notna()
         & ((answers["selected_option"] < 1) | (answers["selected_option"] > answers["option_count"]))),
    ]
    answers = _apply_rules(answers, "answers", "answer_id", rules, found)
    answers = answers.drop(columns=["_session", "_question", "question_test_id", "option_count"])

    submissions = src.submissions.merge(sessions[["session_id"]], on="session_id", how="left", indicator=True)
    rules = [
        ("orphan_session", submissions["_merge"] == "left_only"),
        ("invalid_score", (submissions["max_score"] <= 0) | (submissions["score"] < 0)
         | (submissions["score"] > submissions["max_score"])),
    ]
    submissions = _apply_rules(submissions, "submissions", "submission_id", rules, found).drop(columns="_merge")

    return Validated(sessions, answers, submissions, pd.concat(found, ignore_index=True))


def _apply_rules(frame: pd.DataFrame, table: str, key: str, rules: list[tuple[str, pd.Series]],
                 found: list[pd.DataFrame]) -> pd.DataFrame:
    """Reject rows by the first rule that matches, in order; return the rows no rule matched."""
    remaining = pd.Series(True, index=frame.index)
    for reason, matches in rules:
        hit = remaining & matches.fillna(False).astype(bool)
        found.append(_rejects(table, frame.loc[hit, key], reason))
        remaining &= ~hit
    return frame.loc[remaining]


def final_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per (session, question): the latest valid answer by (answered_at, answer_id) and aggregates."""
    ordered = answers.sort_values(["session_id", "question_id", "answered_us", "answer_id"], kind="stable")
    keys = ["session_id", "question_id"]
    grouped = ordered.groupby(keys, sort=False)
    last = ordered.drop_duplicates(keys, keep="last").set_index(keys)
    spent = ordered["time_spent_ms"].clip(lower=0).fillna(0).astype("int64")
    out = pd.DataFrame({
        "first_answered_us": grouped["answered_us"].min(),
        "answer_events": grouped.size(),
        "time_spent_ms": spent.groupby([ordered["session_id"], ordered["question_id"]], sort=False).sum(),
    })
    out = out.join(last[["answered_us", "selected_option", "test_id", "student_id", "correct_option", "points"]])
    return out.rename(columns={"answered_us": "last_answered_us", "selected_option": "final_option"}).reset_index()


def question_interaction_fact(valid: Validated, affected_ids: pd.Series) -> pd.DataFrame:
    finals = final_answers(valid.answers[valid.answers["session_id"].isin(affected_ids)])
    is_correct = finals["final_option"].notna() & (finals["final_option"] == finals["correct_option"])
    return pd.DataFrame({
        "session_id": finals["session_id"],
        "question_id": finals["question_id"],
        "test_id": finals["test_id"],
        "student_id": finals["student_id"],
        "first_answered_us": finals["first_answered_us"],
        "last_answered_us": finals["last_answered_us"],
        "hour_start_us": (finals["last_answered_us"] // HOUR_US) * HOUR_US,
        "answer_events": finals["answer_events"],
        "answer_changes": finals["answer_events"] - 1,
        "final_option": finals["final_option"].astype("Int64"),
        "is_correct": is_correct,
        "points_awarded": np.where(is_correct, finals["points"], 0.0),
        "time_spent_ms": finals["time_spent_ms"],
    })


def session_outcomes(valid: Validated) -> pd.DataFrame:
    """One row per valid session: its cohort bucket, latest valid submission and answering progress."""
    sessions = valid.sessions.copy()
    sessions["hour_start_us"] = (sessions["started_us"] // HOUR_US) * HOUR_US
    latest = valid.submissions.sort_values(["session_id", "submitted_us", "submission_id"], kind="stable")
    latest = latest.drop_duplicates("session_id", keep="last")
    latest = latest.assign(score_pct=latest["score"] / latest["max_score"] * 100.0)
    sessions = sessions.merge(latest[["session_id", "submitted_us", "score_pct"]], on="session_id", how="left")
    finals = final_answers(valid.answers)
    answered = finals[finals["final_option"].notna()].groupby("session_id").size().rename("questions_answered")
    engaged = pd.Index(valid.answers["session_id"].unique())
    sessions = sessions.merge(answered, left_on="session_id", right_index=True, how="left")
    sessions["questions_answered"] = sessions["questions_answered"].fillna(0).astype("int64")
    sessions["has_submission"] = sessions["submitted_us"].notna()
    sessions["is_engaged"] = sessions["session_id"].isin(engaged)
    sessions["is_passed"] = sessions["has_submission"] & (sessions["score_pct"] >= sessions["pass_score_pct"])
    duration = (sessions["submitted_us"] - sessions["started_us"]) / 1e6
    sessions["duration_s"] = duration.where(duration >= 0)
    return sessions


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator.where(denominator != 0)).astype("float64")


def test_summary_fact(outcomes: pd.DataFrame) -> pd.DataFrame:
    keys = ["test_id", "hour_start_us"]
    grouped = outcomes.groupby(keys, sort=True)
    scores = outcomes.loc[outcomes["has_submission"]].groupby(keys)["score_pct"]
    out = pd.DataFrame({
        "sessions_started": grouped.size(),
        "students": grouped["student_id"].nunique(),
        "submissions": grouped["has_submission"].sum(),
        "avg_score_pct": scores.mean(),
        "median_score_pct": scores.median(),
        "min_score_pct": scores.min(),
        "max_score_pct": scores.max(),
        "passed": grouped["is_passed"].sum(),
        "avg_duration_seconds": grouped["duration_s"].mean(),
        "avg_questions_answered": grouped["questions_answered"].mean(),
    })
    out["pass_rate"] = _rate(out["passed"], out["submissions"])
    columns = ["sessions_started", "students", "submissions", "avg_score_pct", "median_score_pct",
               "min_score_pct", "max_score_pct", "passed", "pass_rate", "avg_duration_seconds",
               "avg_questions_answered"]
    return out[columns].reset_index()


def test_funnel_fact(outcomes: pd.DataFrame) -> pd.DataFrame:
    keys = ["test_id", "hour_start_us"]
    engaged = outcomes["is_engaged"]
    submitted = engaged & outcomes["has_submission"]
    flags = pd.DataFrame({
        "test_id": outcomes["test_id"],
        "hour_start_us": outcomes["hour_start_us"],
        "started": 1,
        "engaged": engaged,
        "submitted": submitted,
        "passed": submitted & outcomes["is_passed"],
        "completed": engaged & (outcomes["questions_answered"] == outcomes["question_count"]),
    })
    out = flags.groupby(keys, sort=True).sum().astype("int64")
    for stage in ("engaged", "submitted", "passed", "completed"):
        out[f"{stage}_rate"] = _rate(out[stage], out["started"])
    losses = np.column_stack([out["started"] - out["engaged"], out["engaged"] - out["submitted"],
                              out["submitted"] - out["passed"]])
    biggest = losses.argmax(axis=1)  # argmax returns the first maximum: ties go to the earliest stage
    out["drop_off_stage"] = pd.Series(np.asarray(FUNNEL_STAGES, dtype=object)[biggest], index=out.index)
    out.loc[losses.max(axis=1) <= 0, "drop_off_stage"] = None
    return out.reset_index()


def build_facts(src: SourceFrames, pipeline: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fact rows and the rejects of one pipeline for the extracted scope."""
    valid = validate(src)
    tables = PIPELINE_SOURCE_TABLES[pipeline]
    rejects = valid.rejects[valid.rejects["source_table"].isin(tables)].drop_duplicates(ignore_index=True)
    if pipeline == "question_interaction_fact":
        return question_interaction_fact(valid, src.affected_ids), rejects
    outcomes = session_outcomes(valid)
    if pipeline == "test_summary_fact":
        return test_summary_fact(outcomes), rejects
    if pipeline == "test_funnel_fact":
        return test_funnel_fact(outcomes), rejects
    raise ValueError(f"unknown pipeline {pipeline!r}")

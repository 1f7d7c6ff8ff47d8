"""The Pandas engine's definition of the facts and the quarantine (docs/data_contract.md sections 2 and 4).

Pure functions from source frames to fact frames: no I/O, so the rules can be read in one place and the
parity tests hold this file and ``include/spark_jobs/`` together. Timestamps stay int64 epoch
microseconds throughout (UTC hours are integer floors), which keeps every step vectorised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from mcq_analytics.contract import EVENT_TIME_END_US, EVENT_TIME_MIN_US
from mcq_analytics.extract import SourceFrames
from mcq_analytics.facts import fact

HOUR_US = 3_600_000_000
FUNNEL_STAGES = ("engaged", "submitted", "passed")


@dataclass
class Validated:
    """Source rows split into the valid ones (joined with what the facts need) and the rejects."""

    sessions: pd.DataFrame  # valid sessions + pass_score_pct, question_count
    answers: pd.DataFrame  # valid answers + test_id, student_id, correct_option, points
    submissions: pd.DataFrame  # valid submissions
    rejects: pd.DataFrame  # source_table, source_key, reason


def _rejects(table: str, keys: pd.Series, reason: str) -> pd.DataFrame:
    return pd.DataFrame({"source_table": table, "source_key": keys.astype("int64").astype(str), "reason": reason})


def _lookup(keys: pd.Series, index_keys: pd.Series) -> np.ndarray:
    """Position of each of ``keys`` in the unique ``index_keys`` (-1 where absent): a hash lookup, cheaper
    than a merge with an indicator for the many-to-one joins of validation."""
    return pd.Index(index_keys.to_numpy()).get_indexer(keys.to_numpy())


def _take(values: np.ndarray, positions: np.ndarray, fill: object) -> np.ndarray:
    """``values[positions]`` with ``fill`` where the position is -1 (not found)."""
    if len(values) == 0:
        return np.full(len(positions), fill)
    return np.where(positions >= 0, values[positions], fill)


def _bad_time(us: pd.Series) -> np.ndarray:
    """Event times outside the contract's fixed range (the extract sends infinity and the like as 0)."""
    values = us.to_numpy()
    return (values < EVENT_TIME_MIN_US) | (values >= EVENT_TIME_END_US)


def _unusable_question(points: np.ndarray, correct: np.ndarray, option_count: np.ndarray) -> np.ndarray:
    """Questions that cannot be scored (``invalid_question``): points NaN, infinite or negative, or the key
    outside the options. NaN compares false with everything in numpy, so it is tested by name."""
    return ~np.isfinite(points) | (points < 0) | (correct < 1) | (correct > option_count)


def validate(src: SourceFrames) -> Validated:
    """Apply the rules of contract section 2 in their order; each row gets at most its first reason."""
    found: list[pd.DataFrame] = []

    sessions = src.sessions
    test_pos = _lookup(sessions["test_id"], src.tests["test_id"])
    rules = [("orphan_test", test_pos < 0), ("invalid_timestamp", _bad_time(sessions["started_us"]))]
    keep = _apply_rules(sessions, "sessions", "session_id", rules, found)
    sessions = sessions.loc[keep].reset_index(drop=True)
    test_pos = test_pos[keep]
    sessions["pass_score_pct"] = src.tests["pass_score_pct"].to_numpy()[test_pos]
    sessions["question_count"] = src.tests["question_count"].to_numpy()[test_pos]

    answers = src.answers
    session_pos = _lookup(answers["session_id"], sessions["session_id"])
    question_pos = _lookup(answers["question_id"], src.questions["question_id"])
    has_session, has_question = session_pos >= 0, question_pos >= 0
    # Looked-up values; rows without a session or question get placeholders, which the first two rules
    # reject before any later rule could read them.
    test_id = _take(sessions["test_id"].to_numpy(), session_pos, -1)
    question_test_id = _take(src.questions["test_id"].to_numpy(), question_pos, -1)
    option_count = _take(src.questions["option_count"].to_numpy(), question_pos, 0)
    correct = _take(src.questions["correct_option"].to_numpy(), question_pos, 1)
    points = _take(src.questions["points"].to_numpy().astype("float64"), question_pos, 0.0)
    selected = answers["selected_option"].to_numpy()
    rules = [
        ("orphan_session", ~has_session),
        ("invalid_timestamp", _bad_time(answers["answered_us"])),
        ("orphan_question", ~has_question),
        ("question_not_in_test", question_test_id != test_id),
        ("invalid_question", _unusable_question(points, correct, option_count)),
        ("option_out_of_range", ~np.isnan(selected) & ((selected < 1) | (selected > option_count))),
    ]
    keep = _apply_rules(answers, "answers", "answer_id", rules, found)
    session_pos, question_pos = session_pos[keep], question_pos[keep]
    answers = answers.loc[keep].reset_index(drop=True)
    answers["test_id"] = sessions["test_id"].to_numpy()[session_pos]
    answers["student_id"] = sessions["student_id"].to_numpy()[session_pos]
    answers["correct_option"] = src.questions["correct_option"].to_numpy()[question_pos]
    answers["points"] = src.questions["points"].to_numpy()[question_pos]

    submissions = src.submissions
    score, max_score = submissions["score"].to_numpy(), submissions["max_score"].to_numpy()
    rules = [
        ("orphan_session", _lookup(submissions["session_id"], sessions["session_id"]) < 0),
        ("invalid_timestamp", _bad_time(submissions["submitted_us"])),
        # NaN compares false with everything in numpy: tested explicitly, as infinities are.
        ("invalid_score", ~np.isfinite(score) | ~np.isfinite(max_score)
         | (max_score <= 0) | (score < 0) | (score > max_score)),
    ]
    keep = _apply_rules(submissions, "submissions", "submission_id", rules, found)
    submissions = submissions.loc[keep].reset_index(drop=True)

    return Validated(sessions, answers, submissions, pd.concat(found, ignore_index=True))


def _apply_rules(frame: pd.DataFrame, table: str, key: str, rules: list[tuple[str, np.ndarray]],
                 found: list[pd.DataFrame]) -> np.ndarray:
    """Reject rows by the first rule that matches, in order; return the mask of rows no rule matched."""
    remaining = np.ones(len(frame), dtype=bool)
    keys = frame[key]
    for reason, matches in rules:
        hit = remaining & matches
        found.append(_rejects(table, keys[hit], reason))
        remaining &= ~hit
    return remaining


def final_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per (session, question): the latest valid answer by (answered_at, answer_id) and aggregates.

    One sort, then every aggregate from the group boundaries: the first row of a group is its earliest
    answer, the last row its latest (the final one), and time is one ``reduceat`` sum.
    """
    session = answers["session_id"].to_numpy()
    question = answers["question_id"].to_numpy()
    answered = answers["answered_us"].to_numpy()
    order = np.lexsort((answers["answer_id"].to_numpy(), answered, question, session))
    session, question, answered = session[order], question[order], answered[order]
    n = len(order)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (session[1:] != session[:-1]) | (question[1:] != question[:-1])
    starts = np.flatnonzero(new_group)
    bounds = np.append(starts, n)  # group i is rows bounds[i] .. bounds[i + 1] - 1 of the sorted order
    lasts = bounds[1:] - 1
    last_rows = order[lasts]
    spent = answers["time_spent_ms"].to_numpy()[order]
    spent = np.where(np.isnan(spent) | (spent < 0), 0, spent).astype("int64")
    return pd.DataFrame({
        "session_id": session[starts],
        "question_id": question[starts],
        "first_answered_us": answered[starts],
        "answer_events": np.diff(bounds).astype("int64"),
        "time_spent_ms": np.add.reduceat(spent, starts) if n else spent,
        "last_answered_us": answered[lasts],
        "final_option": answers["selected_option"].to_numpy()[last_rows],
        **{col: answers[col].to_numpy()[last_rows] for col in ("test_id", "student_id", "correct_option", "points")},
    })


def question_interactions(finals: pd.DataFrame, affected_ids: pd.Series) -> pd.DataFrame:
    """The question facts of the affected sessions, from the final answers of the scope (``final_answers``)."""
    finals = finals[finals["session_id"].isin(affected_ids)]
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


def session_outcomes(valid: Validated, finals: pd.DataFrame) -> pd.DataFrame:
    """One row per valid session: its cohort bucket, latest valid submission and answering progress
    (``finals``: ``final_answers(valid.answers)``)."""
    sessions = valid.sessions.copy()
    sessions["hour_start_us"] = (sessions["started_us"] // HOUR_US) * HOUR_US
    latest = valid.submissions.sort_values(["session_id", "submitted_us", "submission_id"], kind="stable")
    latest = latest.drop_duplicates("session_id", keep="last")
    # Scores are NUMERIC with two decimals: work in exact integer cents, so a score exactly at the pass mark
    # passes (29 of 100 is 28.999999999999996 % in float arithmetic) and score_pct is correctly rounded.
    score_c = cents(latest["score"])
    max_c = cents(latest["max_score"])
    latest = latest.assign(score_pct=(score_c * 100) / max_c, score_c=score_c, max_c=max_c)
    sessions = sessions.merge(latest[["session_id", "submitted_us", "score_pct", "score_c", "max_c"]],
                              on="session_id", how="left")
    answered = finals[finals["final_option"].notna()].groupby("session_id").size().rename("questions_answered")
    engaged = pd.Index(valid.answers["session_id"].unique())
    sessions = sessions.merge(answered, left_on="session_id", right_index=True, how="left")
    sessions["questions_answered"] = sessions["questions_answered"].fillna(0).astype("int64")
    sessions["has_submission"] = sessions["submitted_us"].notna()
    sessions["is_engaged"] = sessions["session_id"].isin(engaged)
    # score / max × 100 ≥ pass_pct  ⇔  score_c × 10000 ≥ pass_c × max_c (all integers, no rounding)
    sessions["is_passed"] = sessions["has_submission"] & (
        sessions["score_c"] * 10_000 >= cents(sessions["pass_score_pct"]) * sessions["max_c"])
    duration = (sessions["submitted_us"] - sessions["started_us"]) / 1e6
    sessions["duration_s"] = duration.where(duration >= 0)
    return sessions


def cents(values: pd.Series) -> pd.Series:
    """Two-decimal NUMERIC values (arriving as float64) as exact integer hundredths; NaN stays NaN."""
    return (values * 100).round()


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return (numerator / denominator.where(denominator != 0)).astype("float64")


def summaries_by_cohort(outcomes: pd.DataFrame) -> pd.DataFrame:
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


def funnels_by_cohort(outcomes: pd.DataFrame) -> pd.DataFrame:
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


ITEM_KEYS = ["test_id", "hour_start_us", "question_id"]
_INT64_MAX = np.iinfo(np.int64).max


def item_scores(outcomes: pd.DataFrame, finals: pd.DataFrame, questions: pd.DataFrame) -> pd.DataFrame:
    """One row per (scored attempt, current question of its test) — contract section 6: a scored attempt is a
    valid session with a valid submission, scored on every question of its test, answered or not.

    ``x`` = the question's points in integer hundredths when the final answer is correct under the current
    key, else 0; ``m`` = the points in hundredths; ``total`` = X, the attempt's Σx; ``option`` = the final
    option, 0 when there is none (never answered, or cleared). Rows come sorted by (test, hour, question) and
    ``group`` numbers those groups, so both item facts aggregate without another sort or hash."""
    scored = outcomes.loc[outcomes["has_submission"], ["session_id", "test_id", "hour_start_us"]]
    # An unusable question (invalid_question, contract section 2) is not scored: its points have no value.
    questions = questions.loc[~_unusable_question(questions["points"].to_numpy().astype("float64"),
                                                  questions["correct_option"].to_numpy(),
                                                  questions["option_count"].to_numpy())]
    grid = scored.merge(questions[["question_id", "test_id", "option_count", "correct_option", "points"]],
                        on="test_id", how="inner")
    grid = grid.iloc[np.lexsort([grid[c].to_numpy() for c in reversed(ITEM_KEYS)])].reset_index(drop=True)
    # The final answer of each (attempt, question): a hash lookup of the pair in the final answers.
    wanted = pd.MultiIndex.from_arrays([grid["session_id"].to_numpy(), grid["question_id"].to_numpy()])
    have = pd.MultiIndex.from_arrays([finals["session_id"].to_numpy(), finals["question_id"].to_numpy()])
    final = _take(finals["final_option"].to_numpy(), have.get_indexer(wanted), np.nan).astype("float64")
    answered = ~np.isnan(final)
    is_correct = answered & (final == grid["correct_option"].to_numpy())
    m = cents(grid["points"]).to_numpy().astype("int64")
    x = np.where(is_correct, m, 0).astype("int64")
    sessions, session_pos = np.unique(grid["session_id"].to_numpy(), return_inverse=True)
    total_by_session = np.zeros(len(sessions), dtype="int64")
    np.add.at(total_by_session, session_pos, x)
    keys = [grid[c].to_numpy() for c in ITEM_KEYS]
    new = np.ones(len(grid), dtype=bool)
    new[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in keys]) if len(grid) > 1 else True
    return grid.assign(answered=answered, is_correct=is_correct, m=m, x=x,
                       option=np.where(answered, np.nan_to_num(final), 0).astype("int64"),
                       total=total_by_session[session_pos], group=np.cumsum(new) - 1)


def _exact(values: np.ndarray, fits: bool) -> np.ndarray:
    """int64 values as they are, or as Python integers when some sum of them could overflow int64."""
    return values if fits else values.astype(object)


def _fits(*arrays: np.ndarray, rows: int) -> bool:
    """Whether every product of two of the values, summed over ``rows`` rows, stays within int64."""
    largest = max((int(np.abs(a).max(initial=0)) for a in arrays), default=0)
    return largest * largest * max(rows, 1) <= _INT64_MAX


def _as_exact(out: pd.DataFrame, columns: list[str], fits: bool) -> pd.DataFrame:
    """Exact sums that may exceed int64 leave as decimal strings (COPY parses them into NUMERIC/BIGINT)."""
    if not fits:
        for column in columns:
            out[column] = out[column].map(str)
    return out


def item_statistics(scores: pd.DataFrame) -> pd.DataFrame:
    """item_statistics_fact: per (test, cohort hour, question), the exact integer sums of contract section 6
    (``scores``: ``item_scores``, sorted, so each sum is one ``reduceat`` over the group boundaries)."""
    x, total = scores["x"].to_numpy(), scores["total"].to_numpy()
    fits = _fits(x, total, rows=len(scores))
    x, total = _exact(x, fits), _exact(total, fits)
    starts = np.flatnonzero(np.diff(scores["group"].to_numpy(), prepend=-1))
    ends = np.append(starts[1:], len(scores))

    def per_group(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts) if len(starts) else values[:0]

    out = pd.DataFrame({column: scores[column].to_numpy()[starts] for column in ITEM_KEYS})
    out["attempts"] = ends - starts
    out["answered"] = per_group(scores["answered"].to_numpy().astype("int64"))
    out["correct"] = per_group(scores["is_correct"].to_numpy().astype("int64"))
    out["max_points_cents"] = scores["m"].to_numpy()[starts]
    out["sum_score"] = per_group(x)
    out["sum_score_sq"] = per_group(x * x)
    out["sum_total"] = per_group(total)
    out["sum_total_sq"] = per_group(total * total)
    out["sum_score_total"] = per_group(x * total)
    return _as_exact(out, ["sum_score", "sum_score_sq", "sum_total", "sum_total_sq", "sum_score_total"], fits)


def option_choices(scores: pd.DataFrame) -> pd.DataFrame:
    """option_choice_fact: per (test, cohort hour, question) every option 0..option_count — 0 = no final
    answer — with its choosers' count and exact ΣX, ΣX²; options nobody chose have zeros."""
    total = scores["total"].to_numpy()
    fits = _fits(total, rows=len(scores))
    total = _exact(total, fits)
    group = scores["group"].to_numpy()
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    ends = np.append(starts[1:], len(scores))
    per_group = scores["option_count"].to_numpy()[starts].astype("int64") + 1  # options 0..option_count
    offset = np.cumsum(per_group) - per_group
    rows = np.repeat(np.arange(len(starts)), per_group)
    out = pd.DataFrame({column: scores[column].to_numpy()[starts][rows] for column in ITEM_KEYS})
    out["option"] = np.arange(len(rows)) - offset[rows]
    out["is_key"] = out["option"].to_numpy() == scores["correct_option"].to_numpy()[starts][rows]
    out["attempts"] = (ends - starts)[rows]
    slot = offset[group] + scores["option"].to_numpy()  # the output row of each attempt's final option
    out["chosen"] = np.bincount(slot, minlength=len(rows)).astype("int64")
    for column, values in (("sum_total", total), ("sum_total_sq", total * total)):
        sums = np.zeros(len(rows), dtype=values.dtype)  # object zeros are Python 0s: exact either way
        np.add.at(sums, slot, values)
        out[column] = sums
    return _as_exact(out, ["sum_total", "sum_total_sq"], fits)


class WindowFacts:
    """The facts of one extracted scope, sharing the work the pipelines have in common: validation and the
    final answers are computed once per window (not once per fact), the session outcomes once for both
    test-level facts. Each step runs on first use, so a failure is raised to the pipeline that needs it."""

    def __init__(self, src: SourceFrames) -> None:
        self.src = src

    @cached_property
    def valid(self) -> Validated:
        return validate(self.src)

    @cached_property
    def finals(self) -> pd.DataFrame:
        return final_answers(self.valid.answers)

    @cached_property
    def outcomes(self) -> pd.DataFrame:
        return session_outcomes(self.valid, self.finals)

    @cached_property
    def item_scores(self) -> pd.DataFrame:
        return item_scores(self.outcomes, self.finals, self.src.questions)

    def build(self, pipeline: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The fact rows and the rejects (of the source tables the fact reads) of one pipeline."""
        sources = fact(pipeline).sources  # KeyError for an unknown pipeline
        rejects = self.valid.rejects
        rejects = rejects[rejects["source_table"].isin(sources)].drop_duplicates(ignore_index=True)
        return FACT_BUILDERS[pipeline](self), rejects


#: The Pandas engine's definition of each registered fact (``facts.REGISTRY``), from a window's shared work.
FACT_BUILDERS: dict[str, Callable[[WindowFacts], pd.DataFrame]] = {
    "question_interaction_fact": lambda w: question_interactions(w.finals, w.src.affected_ids),
    "test_summary_fact": lambda w: summaries_by_cohort(w.outcomes),
    "test_funnel_fact": lambda w: funnels_by_cohort(w.outcomes),
    "item_statistics_fact": lambda w: item_statistics(w.item_scores),
    "option_choice_fact": lambda w: option_choices(w.item_scores),
}

"""The item review (issue 14 item 5): keeps ``analytics.item_review`` in step with the flags of the range
functions over a trailing range, and announces each new flag, and each resolution, once.

Both the ``mcq_item_review`` DAG task and the tests call ``review``; it reads only
``analytics.item_analysis`` / ``analytics.option_analysis`` (the SQL is in ``include/sql/review/``). The
warehouse holds no test titles or question positions, so a notice names the test and question by id.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from mcq_analytics.alerts.channels import FAILED, deliver
from mcq_analytics.alerts.message import AlertMessage
from mcq_analytics.config import Settings
from mcq_analytics.paths import read_sql

log = logging.getLogger("mcq_analytics.item_review")

DEFAULT_DAYS = 30
#: The review's own lock (one review at a time; the DAG also runs with max_active_runs=1).
LOCK_KEY = "mcq_item_review"
DOC = "docs/item_analysis.md"

#: What each flag usually means and what to check (docs/item_analysis.md, "Flags").
FLAG_TEXTS: dict[str, tuple[str, str]] = {
    "negative_discrimination": (
        "stronger students get it wrong more often than weaker ones: most often a wrong key, sometimes a trick "
        "question or two defensible answers",
        "the key first; then the options: one flagged attracts_strong_students is the likely true answer"),
    "poor_discrimination": (
        "the question hardly separates strong from weak students: ambiguous wording, a guessable or trivia "
        "item, or material not taught",
        "rewrite or replace it; review it with the distractors' figures"),
    "too_hard": ("few get it right: not taught, ambiguous, or mis-keyed",
                 "the key, the wording, whether it was taught"),
    "too_easy": ("nearly everyone gets it right: it tells nothing about differences between students",
                 "fine as a warm-up; otherwise make the distractors plausible"),
    "non_functional": (
        "almost nobody is drawn to this wrong option: it does not do a distractor's job, and the question is "
        "effectively easier", "replace it with a plausible misconception"),
    "attracts_strong_students": (
        "the students who choose this wrong option score above the others: it may be correct too (ambiguous "
        "question) or it is the answer (wrong key)",
        "re-read the option against the key; with negative_discrimination on the question a wrong key is very "
        "likely"),
}


@dataclass(frozen=True)
class ReviewResult:
    """What one review did: the range, open flags, and the notices sent (new flags, resolutions)."""

    range_start: datetime
    range_end: datetime
    open_flags: int
    announced: int
    resolved: int


def review_days(value: Any, settings: Settings | None = None) -> int:
    """The trailing range in days: an explicit value (a DAG param), else ``MCQ_ITEM_REVIEW_DAYS``, else 30."""
    if value in (None, ""):
        return settings.item_review_days if settings is not None else DEFAULT_DAYS
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"item review: days must be a whole number of days, got {value!r}") from None
    if days < 1:
        raise ValueError(f"item review: days must be at least 1, got {days}")
    return days


def review_range(end: datetime | None, days: int) -> tuple[datetime, datetime]:
    """``[end − days, end)``; ``end`` defaults to now (a manual run)."""
    end = end or datetime.now(UTC)
    return end - timedelta(days=days), end


def _figures(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = [("attempts", str(row["attempts"]))]
    for key, label in (("facility", "facility"), ("discrimination_index", "discrimination index"),
                       ("point_biserial", "point-biserial"), ("share", "share of attempts")):
        if row[key] is not None:
            out.append((label, f"{row[key]:.3f}"))
    return out


def notice(row: Mapping[str, Any], env: str) -> AlertMessage:
    """The message for a new flag (or its resolution when ``row["resolved"]``), for a test author."""
    what = f"question {row['question_id']}" + (f", option {row['option']}" if row["option"] is not None else "")
    where = f"test {row['test_id']}"
    flag = row["flag"]
    meaning, check = FLAG_TEXTS.get(flag, ("see " + DOC, "see " + DOC))
    span = f"{row['range_start']:%Y-%m-%d %H:%M} to {row['range_end']:%Y-%m-%d %H:%M} UTC"
    if row["resolved"]:
        subject = f"[mcq-analytics {env}] item review: {flag} resolved — {where}, {what}"
        lines = [f"The flag {flag} on {where}, {what} no longer holds over {span}."]
        fields: dict[str, str] = {}
    else:
        subject = f"[mcq-analytics {env}] item review: {flag} — {where}, {what}"
        fields = dict(_figures(row))
        lines = [f"{where.capitalize()}, {what} is flagged {flag} over {span}.",
                 "Figures: " + ", ".join(f"{k} {v}" for k, v in fields.items()) + ".",
                 f"What it usually means: {meaning}.", f"What to check: {check}."]
    lines.append(f"Tests and questions are named by id (the warehouse holds no titles or positions); {DOC} "
                 "explains the statistics.")
    text = "*" + subject + "*\n" + "\n".join(lines)
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return AlertMessage(subject=subject, text=text, html=f"<h3>{html.escape(subject)}</h3>{body}",
                        fields={"test_id": str(row["test_id"]), "question_id": str(row["question_id"]),
                                "option": "" if row["option"] is None else str(row["option"]), "flag": flag,
                                **fields})


def _announce(conn: psycopg.Connection, settings: Settings) -> tuple[int, int]:
    """Send the owed notices; mark each unless every channel failed (then the next review retries it)."""
    announced = resolved = 0
    for row in conn.execute(read_sql("review/pending.sql")).fetchall():
        outcome = deliver(notice(row, settings.env), settings)
        if outcome and all(status == FAILED for status in outcome.values()):
            continue
        conn.execute(read_sql("review/mark.sql"), {"review_id": row["review_id"]})
        conn.commit()
        if row["resolved"]:
            resolved += 1
        else:
            announced += 1
    return announced, resolved


def review(warehouse_url: str, settings: Settings, end: datetime | None = None, days: int | None = None,
           min_attempts: int = 30) -> ReviewResult:
    """Refresh ``analytics.item_review`` over ``[end − days, end)`` and send the notices it owes."""
    range_start, range_end = review_range(end, review_days(days, settings))
    params = {"range_start": range_start, "range_end": range_end, "min_attempts": min_attempts}
    with psycopg.connect(warehouse_url, row_factory=dict_row) as conn:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,))
            conn.execute(read_sql("review/upsert.sql"), params)
            conn.execute(read_sql("review/resolve.sql"))
        open_flags = conn.execute("SELECT count(*) AS n FROM analytics.item_review WHERE resolved_at IS NULL"
                                  ).fetchone()["n"]
        conn.commit()
        announced, resolved = _announce(conn, settings)
    log.info("item review %s – %s: %d open flag(s); %d new announced, %d resolution(s) announced",
             range_start, range_end, open_flags, announced, resolved)
    return ReviewResult(range_start, range_end, open_flags, announced, resolved)

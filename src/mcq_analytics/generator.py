"""Seeded, deterministic synthetic source data for MCQ Test Analytics.

Why: the pipelines must be tested at realistic volume, against every bad-row kind of the data contract
(section 2) with known counts, and against the cases that break naive incremental logic (changed and
cleared answers, ties, late rows, duplicate submissions, regrades, sessions across hour boundaries).
The same seed always gives byte-identical tables, so failures can be reproduced.

Shape: an item-response model (2PL). Each student has an ability θ ~ N(0, 1), each question a difficulty
b ~ N(0, 1) and a discrimination a ~ U(0.8, 2); a student's final choice is correct with probability
1 / (1 + exp(-a(θ - b))), and a wrong choice picks one of the wrong options uniformly. Unless
``bad_items=False``, the most taken test holds three deliberately bad items, reported in
``GenerationReport.bad_items`` so item analysis can be tested against them: a mis-keyed question (students
answer by the true key, the stored ``correct_option`` is another option), a non-discriminating one (a = 0:
a coin flip whatever the ability) and a distractor no student keeps as the final answer.

Rows are built with numpy, session chunk by session chunk (memory stays bounded), written as CSV by
pyarrow and bulk-loaded with COPY in a single transaction, so a failed run leaves the tables as they were.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from mcq_analytics.schema import SOURCE_DDL, apply_ddl

log = logging.getLogger(__name__)

SOURCE_TABLES = ("teachers", "students", "tests", "questions", "sessions", "answers", "submissions")

#: Real ids stay far below this; ``id + MISSING_ID_OFFSET`` is how an orphan reference is made.
MISSING_ID_OFFSET = 10**12

US = 1_000_000  # microseconds per second: all times are int64 microseconds since the Unix epoch
_HOUR = 3600 * US
_ONE_HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Sessions generated per chunk (about 15 answer rows each): bounds memory at any scale.
_CHUNK_SESSIONS = 40_000
_MIN_SESSIONS = 20

# Session kinds and the special roles a completed session can play.
_COMPLETED, _ABANDONED, _EMPTY = 0, 1, 2
_KIND_P = (0.85, 0.11, 0.04)
_PLAIN, _ORPHAN_TEST, _DUPLICATE, _SUBMIT_TIE, _NEGATIVE = 0, 1, 2, 3, 4

# Frequencies of the realistic quirks (fractions of sessions, visits or rows).
_P_SKIP = 0.05  # a completed session leaves a question unanswered
_P_CHANGE = 0.18  # a visited question gets 1-3 changed selections before the final one
_P_MID_CLEAR = 0.02  # ... a clear (NULL) followed by a new selection
_P_FINAL_CLEAR = 0.02  # ... ends cleared: final_option NULL
_P_ANSWER_TIE = 0.01  # the last two events of a question share answered_at (answer_id decides)
_P_EMPTY_SUBMIT = 0.3  # a session without answers is still submitted (score 0)
_P_DUPLICATE = 0.04  # a session with 1-2 earlier valid submissions
_P_SUBMIT_TIE = 0.01  # a session with two valid submissions at the same submitted_at
_P_NEGATIVE = 0.005  # the winning submission is stamped before the session start (client clock)
_P_SPENT_NULL = 0.02
_P_SPENT_NEGATIVE = 0.005
_P_REGRADE_QUESTION = 0.03
_P_REGRADE_TEST = 0.1
_LATE_MIN, _LATE_MAX = 30 * 60 * US, 3 * _HOUR

_FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Eva", "Femi", "Grace", "Hiro", "Ines", "Jon", "Kemal", "Lea",
                "Mina", "Noah", "Olu", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Vik", "Wen", "Yara")
_LAST_NAMES = ("Adams", "Bauer", "Chen", "Diaz", "Eze", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
               "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi", "Silva", "Tanaka",
               "Ueda", "Varga", "Weber", "Xu", "Zhou")
_SUBJECTS = ("math", "physics", "chemistry", "biology", "history", "geography", "literature", "computing")
_CLIENTS = ("web", "ios", "android")

_COLUMNS = {
    "teachers": ("teacher_id", "full_name", "email", "created_at", "updated_at"),
    "students": ("student_id", "full_name", "email", "grade_level", "created_at", "updated_at"),
    "tests": ("test_id", "teacher_id", "title", "subject", "pass_score_pct", "time_limit_seconds",
              "created_at", "updated_at"),
    "questions": ("question_id", "test_id", "position", "option_count", "correct_option", "points",
                  "created_at", "updated_at"),
    "sessions": ("session_id", "test_id", "student_id", "started_at", "ended_at", "client", "updated_at"),
    "answers": ("answer_id", "session_id", "question_id", "selected_option", "answered_at", "time_spent_ms",
                "updated_at"),
    "submissions": ("submission_id", "session_id", "submitted_at", "score", "max_score", "updated_at"),
}


class GeneratorError(RuntimeError):
    """The generator refused to run (for example the source tables already hold rows)."""


@dataclass
class GeneratorConfig:
    """What to generate. Counts left as None scale with ``answers``; ``start`` without a zone is UTC."""

    seed: int = 42
    start: datetime = datetime(2024, 6, 1, tzinfo=UTC)
    hours: int = 6
    answers: int = 20_000
    teachers: int | None = None
    students: int | None = None
    tests: int | None = None
    min_questions: int = 5
    max_questions: int = 20
    min_options: int = 2
    max_options: int = 6
    bad_fraction: float = 0.02
    late_fraction: float = 0.05
    bad_items: bool = True

    def __post_init__(self) -> None:
        self.start = self.start.replace(tzinfo=UTC) if self.start.tzinfo is None else self.start.astimezone(UTC)
        checks = [
            (self.hours >= 1, "hours must be at least 1"),
            (self.answers >= 1, "answers must be at least 1"),
            (2 <= self.min_questions <= self.max_questions, "need 2 <= min_questions <= max_questions"),
            (2 <= self.min_options <= self.max_options <= 100, "need 2 <= min_options <= max_options <= 100"),
            (0 <= self.bad_fraction <= 0.1, "bad_fraction must be within [0, 0.1]"),
            (0 <= self.late_fraction <= 0.5, "late_fraction must be within [0, 0.5]"),
        ]
        checks += [(n is None or n >= 1, f"{name} must be at least 1")
                   for name, n in (("teachers", self.teachers), ("students", self.students))]
        checks.append((self.tests is None or self.tests >= 2, "tests must be at least 2"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass
class GenerationReport:
    """What was written. ``bad`` counts deliberately bad rows by (table, contract reason), so pipeline
    tests can compare it with ``etl_rejects``; ``nasty`` counts the tricky but valid cases."""

    config: GeneratorConfig
    rows: dict[str, int]
    bad: dict[tuple[str, str], int]
    nasty: dict[str, int]
    event_min: datetime  # over started_at, ended_at, answered_at, submitted_at
    event_max: datetime
    updated_min: datetime  # over updated_at of all seven tables
    updated_max: datetime
    elapsed_seconds: float
    true_difficulty: dict[int, float] = field(repr=False)
    #: The deliberately bad items (question ids; options as numbers): ``mis_keyed`` with its
    #: ``mis_keyed_true_key``, ``non_discriminating``, and ``unused_distractor`` = (question id, option).
    bad_items: dict[str, object] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def window_range(self) -> tuple[datetime, datetime]:
        """Whole UTC hours ``[start, end)`` holding every event time and every updated_at: windows whose
        union is this range cover all source activity. It is ``[start, start + hours)`` for a whole-hour
        start, since every row, dimension rows and late rows included, is written inside the span.
        The dimension rows are written at ``start``, so the window holding it finds every session affected
        (their tests were written in it): the first hourly window is as costly as a full recompute."""
        lo, hi = min(self.event_min, self.updated_min), max(self.event_max, self.updated_max)
        return lo.replace(minute=0, second=0, microsecond=0), hi.replace(minute=0, second=0, microsecond=0) + _ONE_HOUR

    def format(self) -> str:
        """A short readable summary for the CLI."""
        lines = ["rows:"] + [f"  {t:<12} {n:>12,}" for t, n in self.rows.items()]
        lines.append("bad rows (table / contract reason):")
        lines += [f"  {t:<12} {r:<21} {n:>9,}" for (t, r), n in self.bad.items()]
        if self.bad_items:
            lines.append("bad items: " + ", ".join(f"{k} {v}" for k, v in self.bad_items.items()))
        lines.append("nasty cases:")
        lines += [f"  {k:<26} {n:>9,}" for k, n in self.nasty.items()]
        start, end = self.window_range()
        lines += [
            f"events: {self.event_min.isoformat()} .. {self.event_max.isoformat()}",
            f"updated_at: {self.updated_min.isoformat()} .. {self.updated_max.isoformat()}",
            f"windows covering it: [{start.isoformat()}, {end.isoformat()})",
            f"elapsed: {self.elapsed_seconds:.1f} s, {self.total_rows:,} rows, {self.rows_per_second:,.0f} rows/s",
        ]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------
def _to_us(ts: datetime) -> int:
    return (ts - _EPOCH) // timedelta(microseconds=1)


def _to_dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _count(frac: float, base: int, available: int, first: bool, minimum: int = 1) -> int:
    """``round(frac * base)``, and in the first chunk at least ``minimum`` (when frac > 0), so that every
    case exists even in a tiny data set; never more than ``available``."""
    k = round(frac * base)
    if first and frac > 0:
        k = max(k, minimum)
    return min(k, available)


def _pick(rng: np.random.Generator, candidates: np.ndarray, frac: float, first: bool,
          base: int | None = None, minimum: int = 1) -> np.ndarray:
    """An exact, sorted sample of the candidates, sized by ``_count`` (base: their number)."""
    k = _count(frac, candidates.size if base is None else base, candidates.size, first, minimum)
    return np.sort(rng.choice(candidates, size=k, replace=False))


@dataclass
class _Range:
    """Running min/max of int64 microsecond times."""

    lo: int = np.iinfo(np.int64).max
    hi: int = np.iinfo(np.int64).min

    def add(self, *arrays: np.ndarray) -> None:
        for a in arrays:
            if a.size:
                self.lo, self.hi = min(self.lo, int(a.min())), max(self.hi, int(a.max()))


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[idx] = True
    return out


def _late(rng: np.random.Generator, written: np.ndarray, candidates: np.ndarray, frac: float, first: bool,
          end_us: int) -> tuple[np.ndarray, np.ndarray]:
    """updated_at for rows of which ``frac`` arrive 30 min - 3 h after the event, still inside the span
    (a window must be able to see them). Returns (updated_at, late mask)."""
    room = end_us - 1 - written
    idx = _pick(rng, np.flatnonzero(candidates & (room >= _LATE_MIN)), frac, first, base=written.size)
    updated = written.copy()
    updated[idx] += np.minimum(rng.integers(_LATE_MIN, _LATE_MAX, idx.size), room[idx])
    return updated, _mask(written.size, idx)


def _ts(us: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Naive UTC timestamps: the COPY session runs with TIME ZONE 'UTC' (tz-aware CSV is 20x slower)."""
    return pa.array(us.astype("datetime64[us]"), mask=null)


def _money(cents: np.ndarray) -> pa.Array:
    return pa.array(cents / 100.0)


def _names(rng: np.random.Generator, ids: np.ndarray) -> tuple[pa.Array, pa.Array]:
    first = pa.array(_FIRST_NAMES).take(pa.array(rng.integers(0, len(_FIRST_NAMES), ids.size)))
    last = pa.array(_LAST_NAMES).take(pa.array(rng.integers(0, len(_LAST_NAMES), ids.size)))
    full = pc.binary_join_element_wise(first, last, " ")
    local = pc.binary_join_element_wise(pc.utf8_lower(first), pc.utf8_lower(last),
                                        pc.cast(pa.array(ids), pa.string()), ".")
    return full, pc.binary_join_element_wise(local, pa.scalar("@example.edu"), "")


def _table(name: str, columns: list[pa.Array]) -> pa.Table:
    return pa.Table.from_arrays(columns, names=list(_COLUMNS[name]))


def _csv(table: pa.Table) -> memoryview:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    return memoryview(sink.getvalue())


# --------------------------------------------------------------------------------------------------
# Dimensions: teachers, students, tests, questions
# --------------------------------------------------------------------------------------------------
@dataclass
class _Dims:
    """Dimension rows plus the per-test and per-question arrays the event generation indexes into."""

    tables: dict[str, pa.Table]
    q_start: np.ndarray  # per test: index of its first question
    q_count: np.ndarray
    max_cents: np.ndarray
    popularity: np.ndarray
    option_count: np.ndarray  # per question
    correct: np.ndarray  # the true key, which students answer by
    stored_key: np.ndarray  # correct_option as written (differs from correct for a mis-keyed question)
    discrimination: np.ndarray
    unused: np.ndarray  # a distractor no student keeps as the final answer (0: none)
    bad_items: dict[str, object]
    points_cents: np.ndarray
    difficulty: np.ndarray
    ability: np.ndarray  # per student
    n_sessions: int
    updated_at: np.ndarray  # of all dimension rows
    nasty: dict[str, int]


def _expected_rows_per_session(cfg: GeneratorConfig, q_count: np.ndarray, popularity: np.ndarray) -> float:
    mean_q = float(popularity @ q_count)
    visits = mean_q * (_KIND_P[_COMPLETED] * (1 - _P_SKIP) + _KIND_P[_ABANDONED] / 2)
    changes = _P_CHANGE * (1 + 0.45 + 0.45**2)  # E[min(geometric(0.55), 3)]
    events = 1 + changes + _P_MID_CLEAR + _P_FINAL_CLEAR
    return visits * events * (1 + 3.5 * cfg.bad_fraction)


def _dimensions(cfg: GeneratorConfig, start_us: int, end_us: int) -> _Dims:
    rng = np.random.default_rng([cfg.seed, 0])
    n_tests = cfg.tests or max(2, round(math.sqrt(cfg.answers) / 10))
    n_teachers = cfg.teachers or max(1, math.ceil(n_tests / 4))
    q_count = rng.integers(cfg.min_questions, cfg.max_questions + 1, n_tests)
    popularity = rng.lognormal(0.0, 0.5, n_tests)
    popularity /= popularity.sum()
    n_sessions = max(_MIN_SESSIONS, round(cfg.answers / _expected_rows_per_session(cfg, q_count, popularity)))
    n_students = cfg.students or max(10, n_sessions // 3)
    n_questions = int(q_count.sum())
    q_start = np.cumsum(q_count) - q_count
    q_test = np.repeat(np.arange(n_tests), q_count)

    option_count = rng.integers(cfg.min_options, cfg.max_options + 1, n_questions)
    correct = rng.integers(1, option_count + 1)
    points_cents = rng.choice(np.array([100, 200, 50, 300]), n_questions, p=[0.7, 0.15, 0.1, 0.05])
    max_cents = np.bincount(q_test, weights=points_cents, minlength=n_tests).astype(np.int64)

    # Every dimension row is written at ``start`` (an import just before the first session), so no
    # timestamp lies outside the span; regrades come in its last quarter, after most sessions.
    def created(n: int) -> np.ndarray:
        return np.full(n, start_us, dtype=np.int64)

    span = end_us - start_us
    regrade_lo, regrade_hi = start_us + span * 3 // 4, end_us - US

    def regraded(created_at: np.ndarray, frac: float) -> tuple[np.ndarray, int]:
        idx = _pick(rng, np.arange(created_at.size), frac, True)
        updated = created_at.copy()
        updated[idx] = rng.integers(regrade_lo, regrade_hi, idx.size)
        return updated, idx.size

    teacher_ids = np.arange(1, n_teachers + 1)
    t_created = created(n_teachers)
    full, email = _names(rng, teacher_ids)
    teachers = _table("teachers", [pa.array(teacher_ids), full, email, _ts(t_created), _ts(t_created)])

    student_ids = np.arange(1, n_students + 1)
    s_created = created(n_students)
    full, email = _names(rng, student_ids)
    grade = rng.integers(6, 13, n_students).astype(np.int16)
    students = _table("students", [pa.array(student_ids), full, email,
                                   pa.array(grade, mask=rng.random(n_students) < 0.05),
                                   _ts(s_created), _ts(s_created)])

    test_ids = np.arange(1, n_tests + 1)
    subject = pa.array(_SUBJECTS).take(pa.array(rng.integers(0, len(_SUBJECTS), n_tests)))
    title = pc.binary_join_element_wise(pc.utf8_capitalize(subject), pc.cast(pa.array(test_ids), pa.string()),
                                        " quiz ")
    pass_pct = rng.choice(np.array([50.0, 60.0, 65.0, 70.0, 75.0, 80.0]), n_tests)
    limit = rng.choice(np.array([600, 900, 1200, 1800], dtype=np.int32), n_tests)
    te_created = created(n_tests)
    te_updated, n_regraded_tests = regraded(te_created, _P_REGRADE_TEST)
    tests = _table("tests", [
        pa.array(test_ids), pa.array(rng.integers(1, n_teachers + 1, n_tests)), title,
        pc.if_else(pa.array(rng.random(n_tests) < 0.1), pa.scalar(None, pa.string()), subject),
        pa.array(pass_pct), pa.array(limit, mask=rng.random(n_tests) < 0.2), _ts(te_created), _ts(te_updated)])

    qu_created = te_created[q_test]
    qu_updated, n_regraded_questions = regraded(qu_created, _P_REGRADE_QUESTION)
    # Item quality, from a stream of its own (the draws above and the events stay as they were).
    irng = np.random.default_rng([cfg.seed, 2])
    discrimination = irng.uniform(0.8, 2.0, n_questions)
    stored_key, unused = correct.copy(), np.zeros(n_questions, dtype=np.int64)
    bad_items: dict[str, object] = {}
    if cfg.bad_items:
        taken = int(np.argmax(popularity))
        qs = q_start[taken] + np.arange(q_count[taken])
        mis, flat = int(qs[0]), int(qs[1])
        # A plain, well-discriminating question whose stored key is a wrong option: the students who miss
        # the true key (the weaker ones) are the ones "right" by the stored key.
        stored_key[mis] = correct[mis] % option_count[mis] + 1
        discrimination[mis] = 2.0
        discrimination[flat] = 0.0
        bad_items = {"mis_keyed": mis + 1, "mis_keyed_true_key": int(correct[mis]), "non_discriminating": flat + 1}
        wide = [int(q) for q in qs[2:] if option_count[q] >= 3]
        if wide:
            unused[wide[0]] = correct[wide[0]] % option_count[wide[0]] + 1
            bad_items["unused_distractor"] = (wide[0] + 1, int(unused[wide[0]]))
    questions = _table("questions", [
        pa.array(np.arange(1, n_questions + 1)), pa.array(q_test + 1),
        pa.array((np.arange(n_questions) - q_start[q_test] + 1).astype(np.int32)),
        pa.array(option_count.astype(np.int16)), pa.array(stored_key.astype(np.int16)), _money(points_cents),
        _ts(qu_created), _ts(qu_updated)])

    difficulty, ability = rng.normal(0.0, 1.0, n_questions), rng.normal(0.0, 1.0, n_students)
    if cfg.bad_items:
        difficulty[mis] = -0.5
    return _Dims(
        tables={"teachers": teachers, "students": students, "tests": tests, "questions": questions},
        q_start=q_start, q_count=q_count, max_cents=max_cents, popularity=popularity,
        option_count=option_count, correct=correct, stored_key=stored_key, discrimination=discrimination,
        unused=unused, bad_items=bad_items, points_cents=points_cents,
        difficulty=difficulty, ability=ability,
        n_sessions=n_sessions, updated_at=np.concatenate([t_created, s_created, te_updated, qu_updated]),
        nasty={"regraded_tests": n_regraded_tests, "regraded_questions": n_regraded_questions},
    )


# --------------------------------------------------------------------------------------------------
# Events: one chunk of sessions with their answers and submissions
# --------------------------------------------------------------------------------------------------
@dataclass
class _Chunk:
    answers: pa.Table
    sessions: pa.Table
    submissions: pa.Table
    bad: dict[tuple[str, str], int]
    nasty: dict[str, int]
    event_times: list[np.ndarray]
    updated_at: list[np.ndarray]


def _chunk(cfg: GeneratorConfig, d: _Dims, index: int, first_session: int, n: int, first_answer: int,
           first_submission: int, start_us: int, end_us: int) -> _Chunk:
    """Sessions ``first_session .. first_session + n - 1`` with all their rows, from the chunk's own
    random stream (seed, 1, index): chunks are independent and the result is deterministic."""
    rng = np.random.default_rng([cfg.seed, 1, index])
    first = index == 0
    bf = cfg.bad_fraction
    span = end_us - start_us

    # Sessions: test, student, kind, how many questions they answer, special roles.
    test = rng.choice(d.q_count.size, size=n, p=d.popularity)
    student = rng.integers(0, d.ability.size, n)
    q = d.q_count[test]
    kind = rng.choice(3, size=n, p=_KIND_P)
    if first:
        for k, i in ((_ABANDONED, 1), (_EMPTY, 2)):
            if not (kind == k).any():
                kind[i] = k
    done = kind == _COMPLETED
    visited = np.where(done, np.maximum(q - rng.binomial(q, _P_SKIP), 1), 0)
    visited = np.where(kind == _ABANDONED, rng.integers(1, q), visited)
    role = np.zeros(n, dtype=np.int8)
    order = rng.permutation(np.flatnonzero(done))
    pos = 0
    for r, frac in ((_ORPHAN_TEST, bf), (_DUPLICATE, _P_DUPLICATE), (_SUBMIT_TIE, _P_SUBMIT_TIE),
                    (_NEGATIVE, _P_NEGATIVE)):
        k = _count(frac, order.size, order.size, first)
        role[order[pos:pos + k]] = r
        pos += k
    valid = role != _ORPHAN_TEST
    submit_empty = _mask(n, _pick(rng, np.flatnonzero(kind == _EMPTY), _P_EMPTY_SUBMIT, first))

    # Visits: which questions each session answers, roughly in position order.
    slot_sess = np.repeat(np.arange(n), q)
    slot_rank = np.arange(slot_sess.size) - (np.cumsum(q) - q)[slot_sess]
    order = np.lexsort((slot_rank + rng.normal(0.0, 1.5, slot_sess.size), slot_sess))
    keep = slot_rank < visited[slot_sess]
    v_sess = slot_sess[keep]
    v_q = d.q_start[test[v_sess]] + slot_rank[order][keep]
    nv = v_sess.size
    v_valid = valid[v_sess]
    p_correct = 1.0 / (1.0 + np.exp(d.discrimination[v_q] * (d.difficulty[v_q] - d.ability[student[v_sess]])))
    key = d.correct[v_q]
    options = d.option_count[v_q]
    wrong = rng.integers(1, options)
    final = np.where(rng.random(nv) < p_correct, key, wrong + (wrong >= key))
    # The unused distractor: whoever would end on it ends on another wrong option instead.
    dead = d.unused[v_q]
    other = dead % options + 1
    other = np.where(other == key, other % options + 1, other)
    final = np.where((dead > 0) & (final == dead), other, final)
    valid_visits = np.flatnonzero(v_valid)
    changes = np.minimum(rng.geometric(0.55, nv), 3) * _mask(nv, _pick(rng, valid_visits, _P_CHANGE, first))
    mid_clear = _mask(nv, _pick(rng, valid_visits, _P_MID_CLEAR, first, base=nv))
    final_clear = _mask(nv, _pick(rng, valid_visits, _P_FINAL_CLEAR, first, base=nv))
    n_pre = changes + mid_clear
    n_events = n_pre + 1 + final_clear
    tie = _mask(nv, _pick(rng, np.flatnonzero(v_valid & (n_events >= 2)), _P_ANSWER_TIE, first, base=nv))
    think_ms = np.clip(rng.lognormal(np.log(25_000), 0.6, nv), 2_000, 300_000).astype(np.int64)
    cum = np.cumsum(think_ms)
    visit_base = cum - (cum - think_ms)[(np.cumsum(visited) - visited)[v_sess]]

    # Answer events: earlier selections, then the final one, then maybe a final clear.
    ne = int(n_events.sum())
    e_v = np.repeat(np.arange(nv), n_events)
    e_first = np.cumsum(n_events) - n_events
    e_idx = np.arange(ne) - e_first[e_v]
    pre = n_pre[e_v]
    gap_ms = np.where(e_idx == 0, 0, rng.integers(1_000, 40_000, ne))
    gap_ms[tie[e_v] & (e_idx == n_events[e_v] - 1)] = 0
    cum = np.cumsum(gap_ms)
    offset = (visit_base[e_v] + cum - cum[e_first[e_v]]) * 1000 + rng.integers(0, 1000, nv)[e_v]
    selected = np.where(e_idx == pre, final[e_v], rng.integers(1, options[e_v] + 1))
    cleared = (e_idx > pre) | (mid_clear[e_v] & (e_idx == pre - 1))
    spent = np.where(e_idx == 0, think_ms[e_v], gap_ms)
    e_sess = v_sess[e_v]
    e_valid = valid[e_sess]

    # Session timing: squeeze long sessions into 90% of the span, then place them inside it.
    last = np.zeros(n, dtype=np.int64)
    np.maximum.at(last, e_sess, offset)
    end_off = np.where(done, last + rng.integers(5 * US, 60 * US, n),
                       np.where(submit_empty, rng.integers(10 * US, 120 * US, n), last))
    scale = np.minimum(1.0, 0.9 * span / np.maximum(end_off, 1))
    offset = (offset * scale[e_sess]).astype(np.int64)
    last = (last * scale).astype(np.int64)
    end_off = (end_off * scale).astype(np.int64)
    started = start_us + (rng.random(n) * (span - end_off)).astype(np.int64)
    plain = np.flatnonzero(done & (role == _PLAIN))
    if first and plain.size:  # one session certainly straddles an hour boundary, when the span has one
        s = plain[0]
        boundary = (start_us // _HOUR + 1) * _HOUR
        half = int(end_off[s]) // 2
        if boundary - half >= start_us and boundary + half < end_us:
            started[s] = boundary - half
    answered = started[e_sess] + offset

    # Submissions: the winner carries the score of the final answers; extras are earlier or tied.
    submitted = done | submit_empty
    win_time = started + end_off
    negative = role == _NEGATIVE
    win_time[negative] = np.maximum(started[negative] - rng.integers(US, 120 * US, int(negative.sum())),
                                    start_us)
    is_correct = (final == d.stored_key[v_q]) & ~final_clear  # graded by the key as stored
    score = np.rint(np.bincount(v_sess, weights=d.points_cents[v_q] * is_correct, minlength=n)).astype(np.int64)
    max_score = d.max_cents[test]
    w = np.flatnonzero(submitted)
    dup = np.flatnonzero(role == _DUPLICATE)
    dup = np.repeat(dup, rng.integers(1, 3, dup.size))
    dup_time = started[dup] + ((win_time[dup] - started[dup]) * rng.uniform(0.5, 0.99, dup.size)).astype(np.int64)
    tied = np.flatnonzero(role == _SUBMIT_TIE)
    tied_score = np.where(score[tied] >= 50, score[tied] - 50, score[tied] + 50)
    sub_sess = np.concatenate([w, dup, tied])
    sub_time = np.concatenate([win_time[w], dup_time, win_time[tied]])
    sub_score = np.concatenate([score[w], rng.integers(0, max_score[dup] + 1), tied_score])
    sub_rank = np.concatenate([np.ones(w.size, np.int8), np.zeros(dup.size + tied.size, np.int8)])
    sub_updated, sub_late = _late(rng, sub_time, valid[sub_sess], cfg.late_fraction, first, end_us)

    # Bad submissions, copied from valid winners: orphan sessions and invalid scores.
    valid_w = np.flatnonzero(valid[sub_sess] & (sub_rank == 1))
    phantom = _pick(rng, valid_w, bf / 2, first, base=w.size)
    invalid = _pick(rng, valid_w, bf, first, base=w.size, minimum=3)
    variant = np.arange(invalid.size) % 3
    inv_max = np.where(variant == 0, 0, max_score[sub_sess[invalid]])
    inv_score = np.select([variant == 0, variant == 1], [0, -rng.integers(1, 500, invalid.size)],
                          max_score[sub_sess[invalid]] + rng.integers(1, 500, invalid.size))
    inv_time = np.minimum(sub_time[invalid] + rng.integers(US, 30 * US, invalid.size), end_us - 1)
    all_sess = np.concatenate([sub_sess, sub_sess[phantom], sub_sess[invalid]])
    session_id = first_session + all_sess
    session_id[sub_sess.size:sub_sess.size + phantom.size] += MISSING_ID_OFFSET
    all_time = np.concatenate([sub_time, sub_time[phantom], inv_time])
    all_rank = np.concatenate([sub_rank, sub_rank[phantom], np.full(invalid.size, 2, np.int8)])
    s_order = np.lexsort((all_rank, all_time, all_sess))
    submissions = _table("submissions", [
        pa.array(first_submission + np.arange(all_sess.size)), pa.array(session_id[s_order]),
        _ts(all_time[s_order]),
        _money(np.concatenate([sub_score, sub_score[phantom], inv_score])[s_order]),
        _money(np.concatenate([max_score[sub_sess], max_score[sub_sess[phantom]], inv_max])[s_order]),
        _ts(np.concatenate([sub_updated, sub_updated[phantom], inv_time])[s_order])])

    # Sessions rows; orphan-test sessions point at a test that does not exist.
    ended_null = ~submitted & ((kind == _EMPTY) | (rng.random(n) < 0.5))
    ended = np.where(submitted, started + end_off, started + last)
    ses_written = np.where(ended_null, started, np.maximum(started, ended))
    ses_updated, ses_late = _late(rng, ses_written, valid, cfg.late_fraction, first, end_us)
    client = pa.array(_CLIENTS).take(pa.array(rng.integers(0, len(_CLIENTS), n), mask=rng.random(n) < 0.05))
    sessions = _table("sessions", [
        pa.array(first_session + np.arange(n)),
        pa.array(np.where(valid, test + 1, test + 1 + MISSING_ID_OFFSET)), pa.array(student + 1),
        _ts(started), _ts(ended, ended_null), client, _ts(ses_updated)])

    # Answer rows: time spent NULL or negative now and then, some written late.
    valid_events = np.flatnonzero(e_valid)
    spent_null = _mask(ne, _pick(rng, valid_events, _P_SPENT_NULL, first, base=ne))
    spent_negative = _mask(ne, _pick(rng, valid_events, _P_SPENT_NEGATIVE, first, base=ne)) & ~spent_null
    spent = np.where(spent_negative, -rng.integers(1, 5_000, ne), spent)
    ans_updated, ans_late = _late(rng, answered, e_valid, cfg.late_fraction, first, end_us)

    # Bad answers, copied from valid rows so each breaks exactly its rule (contract order).
    orphan_s = _pick(rng, valid_events, bf / 2, first, base=ne)
    orphan_q = _pick(rng, valid_events, bf, first, base=ne)
    foreign = _pick(rng, valid_events, bf, first, base=ne)
    out_of_range = _pick(rng, valid_events, bf, first, base=ne, minimum=2)
    src = np.concatenate([np.arange(ne), orphan_s, orphan_q, foreign, out_of_range])
    seg = np.cumsum([ne, orphan_s.size, orphan_q.size, foreign.size])
    a_sess = e_sess[src]
    a_session_id = first_session + a_sess
    a_session_id[seg[0]:seg[1]] += MISSING_ID_OFFSET
    a_q = v_q[e_v[src]]
    a_question_id = a_q + 1
    a_question_id[seg[1]:seg[2]] += MISSING_ID_OFFSET
    other = (test[e_sess[foreign]] + 1) % d.q_count.size
    a_question_id[seg[2]:seg[3]] = d.q_start[other] + np.minimum(a_q[seg[2]:seg[3]] - d.q_start[test[e_sess[foreign]]],
                                                                 d.q_count[other] - 1) + 1
    a_selected = selected[src]
    a_null = cleared[src]
    j = np.arange(out_of_range.size)
    a_selected[seg[3]:] = np.where(j % 2 == 0, 0, options[e_v[out_of_range]] + 1 + (j // 2) % 3)
    a_null[seg[3]:] = False
    a_time = answered[src]
    a_order = np.lexsort((a_time, a_sess))  # stable: tied events keep their order, the final one last
    answers = _table("answers", [
        pa.array(first_answer + np.arange(src.size)), pa.array(a_session_id[a_order]),
        pa.array(a_question_id[a_order]), pa.array(a_selected[a_order].astype(np.int16), mask=a_null[a_order]),
        _ts(a_time[a_order]), pa.array(spent[src][a_order].astype(np.int32), mask=spent_null[src][a_order]),
        _ts(ans_updated[src][a_order])])

    sub_valid = valid[sub_sess]
    activity_end = np.where(last > 0, started + last, started)
    activity_end[w] = np.maximum(activity_end[w], win_time[w])
    bad = {
        ("sessions", "orphan_test"): int((~valid).sum()),
        ("answers", "orphan_session"): int(orphan_s.size + (~e_valid).sum()),
        ("answers", "orphan_question"): int(orphan_q.size),
        ("answers", "question_not_in_test"): int(foreign.size),
        ("answers", "option_out_of_range"): int(out_of_range.size),
        ("submissions", "orphan_session"): int(phantom.size + (~sub_valid).sum()),
        ("submissions", "invalid_score"): int(invalid.size),
    }
    nasty = {
        "changed_answers": int((changes > 0).sum()),
        "cleared_events": int((cleared & e_valid).sum()),
        "final_clears": int(final_clear.sum()),
        "answered_at_ties": int(tie.sum()),
        "time_spent_null": int(spent_null.sum()),
        "time_spent_negative": int(spent_negative.sum()),
        "late_answers": int(ans_late.sum()),
        "abandoned_sessions": int((kind == _ABANDONED).sum()),
        "empty_sessions": int((kind == _EMPTY).sum()),
        "empty_sessions_submitted": int(submit_empty.sum()),
        "hour_crossing_sessions": int((valid & (activity_end // _HOUR > started // _HOUR)).sum()),
        "late_sessions": int(ses_late.sum()),
        "duplicate_submissions": int(((role == _DUPLICATE) | (role == _SUBMIT_TIE)).sum()),
        "submitted_at_ties": int(tied.size),
        "negative_durations": int((negative & (win_time < started)).sum()),
        "late_submissions": int(sub_late.sum()),
    }
    return _Chunk(
        answers=answers, sessions=sessions, submissions=submissions, bad=bad, nasty=nasty,
        event_times=[started, ended[~ended_null], answered, all_time],
        updated_at=[ses_updated, ans_updated, sub_updated, inv_time],
    )


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------
def _ident_list(names: tuple[str, ...] | list[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _copy(conn: psycopg.Connection, table: str, batches: Iterator[pa.Table] | list[pa.Table]) -> int:
    """COPY the batches into ``table``; a writer thread sends data while the next batch is built.
    FREEZE (allowed: the table was truncated in this transaction) spares readers the hint-bit writes."""
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, FREEZE)").format(
        sql.Identifier(table), _ident_list(_COLUMNS[table]))
    rows = 0
    with conn.cursor() as cur, cur.copy(stmt, writer=QueuedLibpqWriter(cur)) as copy:
        for batch in batches:
            copy.write(_csv(batch))
            rows += batch.num_rows
    return rows


def _drop_secondary_indexes(conn: psycopg.Connection) -> list[str]:
    """Drop the non-constraint indexes of the (empty) source tables, returning their definitions:
    building them once after the load is several times faster than maintaining them row by row."""
    found = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        (list(SOURCE_TABLES),),
    ).fetchall()
    for name, _ in found:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
    return [definition for _, definition in found]


def _ensure_schema(url: str) -> None:
    with psycopg.connect(url) as conn:
        missing = [t for t in SOURCE_TABLES if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone()[0] is None]
    if missing:
        apply_ddl(url, SOURCE_DDL)


def generate(source_url: str, config: GeneratorConfig, reset: bool = False,
             progress: Callable[[str], None] | None = None) -> GenerationReport:
    """Fill the source tables of ``source_url`` with synthetic activity in [start, start + hours).

    Refuses (GeneratorError) when they already hold rows unless ``reset``, which truncates them first.
    Everything happens in one transaction; ``progress`` receives short log lines (default: logging)."""
    began = time.perf_counter()
    say = progress or log.info
    start_us = _to_us(config.start)
    end_us = start_us + config.hours * _HOUR
    _ensure_schema(source_url)
    dims = _dimensions(config, start_us, end_us)
    n_chunks = math.ceil(dims.n_sessions / _CHUNK_SESSIONS)
    rows: dict[str, int] = {}
    bad: dict[tuple[str, str], int] = {}
    nasty: dict[str, int] = dict(dims.nasty)
    events, updated = _Range(), _Range()
    updated.add(dims.updated_at)
    sessions: list[pa.Table] = []
    submissions: list[pa.Table] = []

    def chunks() -> Iterator[pa.Table]:
        first_answer = first_submission = 1
        for index in range(n_chunks):
            first_session = index * _CHUNK_SESSIONS + 1
            n = min(_CHUNK_SESSIONS, dims.n_sessions - index * _CHUNK_SESSIONS)
            part = _chunk(config, dims, index, first_session, n, first_answer, first_submission,
                          start_us, end_us)
            first_answer += part.answers.num_rows
            first_submission += part.submissions.num_rows
            sessions.append(part.sessions)
            submissions.append(part.submissions)
            for counts, total in ((part.bad, bad), (part.nasty, nasty)):
                for k, v in counts.items():
                    total[k] = total.get(k, 0) + v
            events.add(*part.event_times)
            updated.add(*part.updated_at)
            yield part.answers
            say(f"answers: {first_answer - 1:,} rows (chunk {index + 1}/{n_chunks}, "
                f"{time.perf_counter() - began:.1f} s)")

    with psycopg.connect(source_url) as conn:
        conn.execute("SET LOCAL TIME ZONE 'UTC'")
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        tables = _ident_list(SOURCE_TABLES)
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(tables))
        filled = [t for t in SOURCE_TABLES
                  if conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(t))).fetchone()[0]]
        if filled and not reset:
            raise GeneratorError(f"source tables already hold rows ({', '.join(filled)}); "
                                 "pass reset=True (CLI: --reset) to truncate them first")
        conn.execute(sql.SQL("TRUNCATE {}").format(tables))
        say(f"generating ~{config.answers:,} answers in {dims.n_sessions:,} sessions ({n_chunks} chunk(s)), "
            f"seed {config.seed}")
        index_definitions = _drop_secondary_indexes(conn)
        for name, table in dims.tables.items():
            rows[name] = _copy(conn, name, [table])
        rows["answers"] = _copy(conn, "answers", chunks())
        rows["sessions"] = _copy(conn, "sessions", sessions)
        rows["submissions"] = _copy(conn, "submissions", submissions)
        say(f"loaded {sum(rows.values()):,} rows; building {len(index_definitions)} indexes")
        for definition in index_definitions:
            conn.execute(definition)
    with psycopg.connect(source_url, autocommit=True) as conn:
        for name in SOURCE_TABLES:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(name)))
    elapsed = time.perf_counter() - began
    say(f"done in {elapsed:.1f} s")
    return GenerationReport(
        config=config,
        rows={name: rows[name] for name in SOURCE_TABLES},
        bad={k: v for k, v in bad.items() if v},
        nasty=nasty,
        event_min=_to_dt(events.lo), event_max=_to_dt(events.hi),
        updated_min=_to_dt(updated.lo), updated_max=_to_dt(updated.hi),
        elapsed_seconds=elapsed,
        true_difficulty=dict(zip(range(1, dims.difficulty.size + 1), dims.difficulty.tolist(), strict=True)),
        bad_items=dims.bad_items,
    )


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------
class _UsageError(Exception):
    """A bad command-line argument (reported in one line, exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line instead of usage + error
        raise _UsageError(message)


def _iso_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None


def _redact_url(url: str) -> str:
    """``url`` without its password, safe to print (URL and key=value connection strings)."""
    if "://" not in url:
        return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def _parser() -> _Parser:
    defaults = GeneratorConfig()
    parser = _Parser(prog="mcq-generate", description="Fill a source database with seeded synthetic MCQ "
                     "test activity (every bad-row kind of the data contract included).")
    parser.add_argument("--url", default=os.environ.get("MCQ_SOURCE_URL"),
                        help="libpq URL of the source database (default: $MCQ_SOURCE_URL)")
    parser.add_argument("--answers", type=int, default=defaults.answers, help="target number of answer rows")
    parser.add_argument("--hours", type=int, default=defaults.hours, help="length of the activity span")
    parser.add_argument("--start", type=_iso_time, default=defaults.start,
                        help="start of the activity span, ISO 8601 (no zone: UTC)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--bad-fraction", type=float, default=defaults.bad_fraction,
                        help="fraction of each table's rows per bad-row kind")
    parser.add_argument("--late-fraction", type=float, default=defaults.late_fraction,
                        help="fraction of event rows whose updated_at is 30 min - 3 h late")
    parser.add_argument("--reset", action="store_true", help="truncate the source tables first")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``mcq-generate``: exit 0 on success, 1 when the database refuses or fails, 2 on bad arguments."""
    try:
        args = _parser().parse_args(argv)
        if not args.url:
            raise _UsageError("--url is required (or set MCQ_SOURCE_URL)")
        config = GeneratorConfig(seed=args.seed, start=args.start, hours=args.hours, answers=args.answers,
                                 bad_fraction=args.bad_fraction, late_fraction=args.late_fraction)
    except (_UsageError, ValueError) as exc:
        print(f"mcq-generate: error: {exc}", file=sys.stderr)
        return 2
    try:
        report = generate(args.url, config, reset=args.reset, progress=lambda line: print(line, file=sys.stderr))
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        print(f"mcq-generate: database {_redact_url(args.url)}: {reason}", file=sys.stderr)
        return 1
    except GeneratorError as exc:
        print(f"mcq-generate: {exc}", file=sys.stderr)
        return 1
    print(report.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())

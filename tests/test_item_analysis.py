"""Item analysis (docs/data_contract.md section 6): the two facts and the three range functions.

Hand-built cases with their expected rows written out (through the Pandas engine and the in-database
reference, which must agree); an independent check of every statistic against a score matrix built straight
from the source tables with pandas/numpy; and the convergence invariant for both facts on generated data.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import psycopg
import pytest
from helpers import assert_facts_equal, fetch_fact
from test_reference import answer, h, insert, mcq_test, question, session, submission

from mcq_analytics.facts import fact
from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.paths import read_sql
from mcq_analytics.pipeline import PIPELINES, run_pandas_window
from mcq_analytics.reference import run_reference
from mcq_analytics.transform import item_statistics, option_choices
from mcq_analytics.windows import Window, hourly_windows

ITEM_FACTS = ("item_statistics_fact", "option_choice_fact")
ALL_TIME = ("-infinity", "infinity")
R3 = 1 / math.sqrt(3)


def close(actual: list[tuple], expected: list[tuple]) -> None:
    """Rows equal; floats to 1e-12 relative (and 1e-12 absolute, for zeros)."""
    assert len(actual) == len(expected), f"{len(actual)} rows vs {len(expected)}:\n{actual}"
    for a_row, e_row in zip(actual, expected, strict=True):
        assert len(a_row) == len(e_row)
        for a, e in zip(a_row, e_row, strict=True):
            if isinstance(e, float) and a is not None:
                assert math.isclose(a, e, rel_tol=1e-12, abs_tol=1e-12), f"{a_row} != {e_row}"
            else:
                assert a == e, f"{a_row} != {e_row}"


def build(dbs: Any, start: datetime, end: datetime) -> None:
    """The Pandas engine over one window, and the in-database reference over all history: equal facts."""
    results = run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(start, end))
    assert all(r.status == "success" for r in results), [r.error for r in results]
    run_reference(dbs.source_url, None, None)
    for name in ITEM_FACTS:
        assert fetch_fact(dbs.warehouse_url, name) == fetch_fact(dbs.source_url, name, "mcq_reference"), name


def query(url: str, sql: str, *params: Any) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def items(url: str, min_attempts: int = 30, rng: tuple = ALL_TIME) -> list[tuple]:
    return query(url, "SELECT * FROM analytics.item_analysis(%s, %s, %s) ORDER BY test_id, question_id",
                 *rng, min_attempts)


def options(url: str, min_attempts: int = 30, rng: tuple = ALL_TIME) -> list[tuple]:
    return query(url, "SELECT * FROM analytics.option_analysis(%s, %s, %s) ORDER BY test_id, question_id, option",
                 *rng, min_attempts)


def reliability(url: str, min_attempts: int = 30, rng: tuple = ALL_TIME) -> list[tuple]:
    return query(url, "SELECT * FROM analytics.test_reliability(%s, %s, %s) ORDER BY test_id", *rng, min_attempts)


# ---------------------------------------------------------------------------------------------------------
# Hand-built cases
# ---------------------------------------------------------------------------------------------------------
def test_discriminating_items_an_item_everyone_gets_right_and_unused_distractors(dbs: Any) -> None:
    insert(
        dbs.source_url,
        mcq_test(1), question(11, 1), question(12, 1, points="2.50"), question(13, 1),
        # Two strong attempts (every question right) and two weak ones (only question 12, which all get right).
        session(1, 1, 1, h(10)), answer(1, 1, 11, 1, h(10, 1)), answer(2, 1, 12, 1, h(10, 2)),
        answer(3, 1, 13, 1, h(10, 3)), submission(1, 1, h(10, 20), "4.5"),
        session(2, 1, 2, h(10, 5)), answer(4, 2, 11, 1, h(10, 6)), answer(5, 2, 12, 1, h(10, 7)),
        answer(6, 2, 13, 1, h(10, 8)), submission(2, 2, h(10, 20), "4.5"),
        session(3, 1, 3, h(10, 10)), answer(7, 3, 11, 2, h(10, 11)), answer(8, 3, 12, 1, h(10, 12)),
        answer(9, 3, 13, 3, h(10, 13)), submission(3, 3, h(10, 30), "2.5"),
        # s4 picks 1 on question 13, then clears it: no final answer (option 0), scored 0.
        session(4, 1, 4, h(10, 15)), answer(10, 4, 11, 2, h(10, 16)), answer(11, 4, 12, 1, h(10, 17)),
        answer(12, 4, 13, 1, h(10, 18)), answer(13, 4, 13, None, h(10, 19)), submission(4, 4, h(10, 30), "2.5"),
        # Not scored: no submission; an invalid submission only.
        session(5, 1, 5, h(10, 20)), answer(14, 5, 11, 1, h(10, 21)),
        session(6, 1, 6, h(10, 25)), answer(15, 6, 11, 2, h(10, 26)), submission(5, 6, h(10, 40), "11"),
    )
    build(dbs, h(10), h(11))
    # Totals X (hundredths): 450, 450, 250, 250. Σm = 100 + 250 + 100 = 450.
    assert fetch_fact(dbs.warehouse_url, "item_statistics_fact") == [
        # test, hour, question, attempts, answered, correct, m, Σx, Σx², ΣX, ΣX², ΣxX
        (1, h(10), 11, 4, 4, 2, 100, 200, 20000.0, 1400, 530000.0, 90000.0),
        (1, h(10), 12, 4, 4, 4, 250, 1000, 250000.0, 1400, 530000.0, 350000.0),
        (1, h(10), 13, 4, 3, 2, 100, 200, 20000.0, 1400, 530000.0, 90000.0),
    ]
    unused = (False, 4, 0, 0, 0.0)
    assert [row[2:] for row in fetch_fact(dbs.warehouse_url, "option_choice_fact")] == [
        # question, option, is_key, attempts, chosen, ΣX, ΣX²
        (11, 0, *unused), (11, 1, True, 4, 2, 900, 405000.0), (11, 2, False, 4, 2, 500, 125000.0),
        (11, 3, *unused), (11, 4, *unused),
        (12, 0, *unused), (12, 1, True, 4, 4, 1400, 530000.0), (12, 2, *unused), (12, 3, *unused),
        (12, 4, *unused),
        (13, 0, False, 4, 1, 250, 62500.0), (13, 1, True, 4, 2, 900, 405000.0), (13, 2, *unused),
        (13, 3, False, 4, 1, 250, 62500.0), (13, 4, *unused),
    ]
    close(items(dbs.warehouse_url, min_attempts=4), [
        # attempts, answered, correct, m, facility, sd_fraction, discrimination, point-biserial, flags
        (1, 11, 4, 4, 2, 100, 0.5, R3, 1.0, 1.0, []),  # perfectly discriminating
        (1, 12, 4, 4, 4, 250, 1.0, 0.0, None, None, ["too_easy"]),  # SD 0: no correlation, no division error
        (1, 13, 4, 3, 2, 100, 0.5, R3, 1.0, 1.0, []),
    ])
    never = ["non_functional"]
    close(options(dbs.warehouse_url, min_attempts=4), [
        # is_key, attempts, chosen, share, mean_total_pct, point-biserial, flags
        (1, 11, 0, False, 4, 0, 0.0, None, None, []),  # "no answer" is not a distractor
        (1, 11, 1, True, 4, 2, 0.5, 100.0, 1.0, []),
        (1, 11, 2, False, 4, 2, 0.5, 500 / 9, -1.0, []),
        (1, 11, 3, False, 4, 0, 0.0, None, None, never),
        (1, 11, 4, False, 4, 0, 0.0, None, None, never),
        (1, 12, 0, False, 4, 0, 0.0, None, None, []),
        (1, 12, 1, True, 4, 4, 1.0, 700 / 9, None, []),  # chosen by all: p(1 − p) = 0
        (1, 12, 2, False, 4, 0, 0.0, None, None, never),
        (1, 12, 3, False, 4, 0, 0.0, None, None, never),
        (1, 12, 4, False, 4, 0, 0.0, None, None, never),
        (1, 13, 0, False, 4, 1, 0.25, 500 / 9, -R3, []),
        (1, 13, 1, True, 4, 2, 0.5, 100.0, 1.0, []),
        (1, 13, 2, False, 4, 0, 0.0, None, None, never),
        (1, 13, 3, False, 4, 1, 0.25, 500 / 9, -R3, []),
        (1, 13, 4, False, 4, 0, 0.0, None, None, never),
    ])
    # mean 350 of 450; Var(X) = 40000/3, Σ Var(x_i) = 20000/3 → α = 3/2 · (1 − 1/2); SEM = SD · √0.25 / 100.
    close(reliability(dbs.warehouse_url, min_attempts=4), [
        (1, 4, 3, 700 / 9, 200 * R3 / 4.5, 0.75, R3, []),
    ])
    # Below min_attempts (default 30) nothing is flagged; the figures are the same.
    assert [row[-1] for row in items(dbs.warehouse_url)] == [[], [], []]
    assert all(row[-1] == [] for row in options(dbs.warehouse_url))
    # Outside the range: nothing.
    assert items(dbs.warehouse_url, rng=(h(11), h(12))) == []


def mis_keyed_test(dbs: Any) -> None:
    """Test 2, built hour 10: question 23's key says 2, but the answer is 1 — the three strongest students pick 1."""
    picks = {1: (1, 1, 1), 2: (1, 1, 1), 3: (1, 1, 1), 4: (1, 2, 2), 5: (2, 2, 2), 6: (2, 3, 2)}
    rows: list = [mcq_test(2), question(21, 2, options=3), question(22, 2, options=3),
                  question(23, 2, options=3, correct=2)]
    for s, chosen in picks.items():
        rows += [session(s, 2, s, h(10, s)), submission(s, s, h(10, 30), "1")]
        rows += [answer(10 * s + i, s, 21 + i, option, h(10, 10 + i)) for i, option in enumerate(chosen)]
    insert(dbs.source_url, *rows)
    build(dbs, h(10), h(11))


def test_a_mis_keyed_item_discriminates_negatively_and_its_true_key_attracts_strong_students(dbs: Any) -> None:
    mis_keyed_test(dbs)
    # Item scores (21, 22, 23): s1-s3 (1, 1, 0), s4 (1, 0, 1), s5-s6 (0, 0, 1); X = 2, 2, 2, 2, 1, 1 points.
    close(items(dbs.warehouse_url, min_attempts=6), [
        (2, 21, 6, 6, 4, 100, 4 / 6, math.sqrt(4 / 15), None, 1.0, []),  # X = x + 1: the rest is constant
        (2, 22, 6, 6, 3, 100, 0.5, math.sqrt(0.3), -1 / math.sqrt(5), 1 / math.sqrt(2), ["negative_discrimination"]),
        (2, 23, 6, 6, 3, 100, 0.5, math.sqrt(0.3), -5 / math.sqrt(29), -1 / math.sqrt(2),
         ["negative_discrimination"]),
    ])
    q23 = [row[2:] for row in options(dbs.warehouse_url, min_attempts=6) if row[1] == 23]
    close(q23, [
        (0, False, 6, 0, 0.0, None, None, []),
        (1, False, 6, 3, 0.5, 200 / 3, 1 / math.sqrt(2), ["attracts_strong_students"]),  # the true key
        (2, True, 6, 3, 0.5, 400 / 9, -1 / math.sqrt(2), []),
        (3, False, 6, 0, 0.0, None, None, ["non_functional"]),
    ])
    # The thresholds are parameters: above a point-biserial of 0.8 the true key is no longer flagged, and a
    # distractor needs 60 % of the attempts to count as functional.
    raised = query(dbs.warehouse_url, "SELECT option, flags FROM analytics.option_analysis(%s, %s, 6,"
                   " non_functional_share => 0.6, strong_distractor => 0.8) WHERE question_id = 23 ORDER BY 1",
                   *ALL_TIME)
    assert raised == [(0, []), (1, ["non_functional"]), (2, []), (3, ["non_functional"])]
    assert [r[-1] for r in query(dbs.warehouse_url, "SELECT * FROM analytics.item_analysis(%s, %s, 6,"
                                 " poor_discrimination => 0.2, too_hard => 0.6, too_easy => 0.6) ORDER BY 2",
                                 *ALL_TIME)] == [["too_easy"], ["negative_discrimination", "too_hard"],
                                                 ["negative_discrimination", "too_hard"]]


def test_one_question_test_and_a_single_attempt(dbs: Any) -> None:
    insert(
        dbs.source_url,
        mcq_test(3), question(31, 3, options=2),
        session(1, 3, 1, h(10)), answer(1, 1, 31, 1, h(10, 1)), submission(1, 1, h(10, 2), "1"),
        session(2, 3, 2, h(10)), answer(2, 2, 31, 2, h(10, 1)), submission(2, 2, h(10, 2), "0"),
        session(3, 3, 3, h(10)), answer(3, 3, 31, 1, h(10, 1)), submission(3, 3, h(10, 2), "1"),
        mcq_test(4), question(41, 4), question(42, 4),
        session(4, 4, 4, h(10)), answer(4, 4, 41, 1, h(10, 1)), submission(4, 4, h(10, 2), "1"),
    )
    build(dbs, h(10), h(11))
    close(items(dbs.warehouse_url, min_attempts=1), [
        # x = X: the rest score is always 0, so no corrected correlation; the uncorrected one is 1.
        (3, 31, 3, 3, 2, 100, 2 / 3, R3, None, 1.0, []),
        # One attempt: n < 2, every spread statistic NULL.
        (4, 41, 1, 1, 1, 100, 1.0, None, None, None, ["too_easy"]),
        (4, 42, 1, 0, 0, 100, 0.0, None, None, None, ["too_hard"]),
    ])
    close(reliability(dbs.warehouse_url, min_attempts=1), [
        (3, 3, 1, 200 / 3, 100 * R3, None, None, []),  # one item: no alpha, no SEM
        (4, 1, 2, 50.0, None, None, None, []),
    ])


def test_a_question_added_later_scores_every_earlier_attempt_zero_and_converges(dbs: Any) -> None:
    url = dbs.source_url
    insert(
        url,
        mcq_test(5), question(51, 5),
        session(1, 5, 1, h(10)), answer(1, 1, 51, 1, h(10, 1)), submission(1, 1, h(10, 5), "1"),
        session(2, 5, 2, h(10, 10)), answer(2, 2, 51, 2, h(10, 11)), submission(2, 2, h(10, 15), "0"),
    )
    for window in hourly_windows(h(10), h(12)):
        assert all(r.status == "success" for r in run_pandas_window(url, dbs.warehouse_url, window))
    # 12:30: question 52 is added; a new attempt answers both.
    insert(
        url,
        question(52, 5, points="2", updated=h(12, 30)),
        session(3, 5, 3, h(12, 40)), answer(3, 3, 51, 1, h(12, 41)), answer(4, 3, 52, 1, h(12, 42)),
        submission(3, 3, h(12, 50), "3"),
    )
    assert all(r.status == "success" for r in run_pandas_window(url, dbs.warehouse_url, Window(h(12), h(13))))
    # Both buckets now hold question 52: the earlier attempts, scored on every current question, score 0.
    assert fetch_fact(dbs.warehouse_url, "item_statistics_fact") == [
        (5, h(10), 51, 2, 2, 1, 100, 100, 10000.0, 100, 10000.0, 10000.0),
        (5, h(10), 52, 2, 0, 0, 200, 0, 0.0, 100, 10000.0, 0.0),
        (5, h(12), 51, 1, 1, 1, 100, 100, 10000.0, 300, 90000.0, 30000.0),
        (5, h(12), 52, 1, 1, 1, 200, 200, 40000.0, 300, 90000.0, 60000.0),
    ]
    over_all = items(dbs.warehouse_url, min_attempts=1)
    assert [row[:3] for row in over_all] == [(5, 51, 3), (5, 52, 3)]
    assert over_all[1][6] == pytest.approx(1 / 3, rel=1e-12)  # facility of question 52 over all three
    assert items(dbs.warehouse_url, min_attempts=1, rng=(h(12), h(13)))[1][6] == 1.0  # a range after it
    run_reference(dbs.source_url, None, None)
    for name in ITEM_FACTS:
        assert fetch_fact(dbs.warehouse_url, name) == fetch_fact(dbs.source_url, name, "mcq_reference"), name


def test_exact_sums_beyond_int64_and_float() -> None:
    """Sums whose squares pass 2**63 stay exact (Python integers, staged as decimal strings)."""
    big = 3_000_000_000  # X² = 9e18 > 2**63 - 1
    scores = pd.DataFrame({
        "test_id": [1, 1], "hour_start_us": [0, 0], "question_id": [7, 7], "session_id": [1, 2],
        "answered": [True, True], "is_correct": [True, False], "m": [big, big], "x": [big, 0],
        "total": [big, big + 1], "option": [1, 2], "option_count": [2, 2], "correct_option": [1, 1],
        "group": [0, 0],
    })
    row = item_statistics(scores).iloc[0]
    assert row["sum_score_sq"] == str(big**2)
    assert row["sum_total_sq"] == str(big**2 + (big + 1) ** 2) == "18000000006000000001"
    assert row["sum_score_total"] == str(big**2)
    opts = option_choices(scores)
    assert opts["sum_total_sq"].tolist() == ["0", str(big**2), str((big + 1) ** 2)]
    # ... and int64 otherwise (no float on the way).
    small = item_statistics(scores.assign(m=100, x=[100, 0], total=[2**30, 2**30 + 1]))
    assert small["sum_total_sq"].dtype == np.int64
    assert int(small["sum_total_sq"].iloc[0]) == 2**60 + (2**30 + 1) ** 2  # > 2**53: float8 would round it


# ---------------------------------------------------------------------------------------------------------
# Generated data: convergence, quality checks, and an independent computation of every statistic
# ---------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def history(pg_server, schema_templates):
    """Generated source over 28 hours (so one day is not all history), built once as one full window."""
    suffix = uuid.uuid4().hex[:8]
    names = [f"items_source_{suffix}", f"items_full_{suffix}"]
    source = pg_server.create_database(names[0], template=schema_templates[0])
    report = generate(source, GeneratorConfig(answers=8_000, hours=28, seed=11, bad_fraction=0.03), reset=True)
    full = pg_server.create_database(names[1], template=schema_templates[1])
    first, last = report.window_range()
    results = run_pandas_window(source, full, Window(first, last))
    assert all(r.status == "success" for r in results), [r.error for r in results]

    def new_warehouse() -> str:
        names.append(f"items_wh_{uuid.uuid4().hex[:8]}")
        return pg_server.create_database(names[-1], template=schema_templates[1])

    yield source, full, report, new_warehouse
    for name in names:
        pg_server.drop_database(name)


def test_shuffled_hourly_windows_equal_one_full_window_and_the_reference(history) -> None:
    source, full, report, new_warehouse = history
    hours = list(hourly_windows(*report.window_range()))
    shuffled = hours + random.Random(5).sample(hours, 6)
    random.Random(4).shuffle(shuffled)
    warehouse = new_warehouse()
    for window in shuffled:
        results = run_pandas_window(source, warehouse, window, pipelines=ITEM_FACTS)
        assert all(r.status == "success" for r in results), [r.error for r in results]
    run_reference(source, None, None)
    expected = {name: fetch_fact(full, name) for name in ITEM_FACTS}
    assert all(len(rows) > 500 for rows in expected.values())
    # Integers only: equal exactly, no tolerance.
    assert {name: fetch_fact(warehouse, name) for name in ITEM_FACTS} == expected
    assert {name: fetch_fact(source, name, "mcq_reference") for name in ITEM_FACTS} == expected
    assert_facts_equal({n: fetch_fact(source, n, "mcq_reference") for n in PIPELINES},
                {n: fetch_fact(full, n) for n in PIPELINES})


@pytest.mark.parametrize("name", ITEM_FACTS)
def test_quality_checks_pass_on_a_run_and_catch_a_broken_row(pg_server, schema_templates, history, name) -> None:
    """The registry's table rules and include/sql/checks/<fact>.sql, as the DAGs run them on one run's rows."""
    source, _, report, _ = history
    warehouse = pg_server.create_database(f"items_chk_{uuid.uuid4().hex[:8]}", template=schema_templates[1])
    try:
        dag_id, run_id = "mcq_hourly_pandas", "manual__2024-06-01T00:00:00+00:00"
        results = run_pandas_window(source, warehouse, Window(*report.window_range()), pipelines=(name,),
                                    run_ids={name: f"{name}__{dag_id}__{run_id}__try1"})
        assert results[0].status == "success", results[0].error
        check_sql = jinja2.Template(read_sql(f"checks/{name}.sql")).render(
            params={"fact": name}, dag={"dag_id": dag_id}, run_id=run_id)
        table_rules = fact(name).table_rules

        def outcome() -> dict[str, bool]:
            with psycopg.connect(warehouse) as conn:
                cur = conn.execute(check_sql)
                out = {f"sql:{d.name}": ok for d, ok in zip(cur.description, cur.fetchone(), strict=True)}
                for rule, stmt in table_rules.items():  # SQLTableCheckOperator's query, scoped to the run
                    out[f"rule:{rule}"] = conn.execute(
                        f"SELECT MIN(ok) = 1 FROM (SELECT CASE WHEN {stmt} THEN 1 ELSE 0 END AS ok"
                        f" FROM {fact(name).table} WHERE starts_with(etl_run_id, %s)) AS sq",
                        (f"{name}__{dag_id}__{run_id}__",)).fetchone()[0]
            return out

        passed = outcome()
        assert len(passed) >= 6 and all(passed.values()), passed
        broken = "UPDATE analytics.{} SET {} WHERE ctid = (SELECT min(ctid) FROM analytics.{} WHERE {})"
        if name == "item_statistics_fact":
            query(warehouse, broken.format(name, "correct = correct + 1", name, "correct < answered") + " RETURNING 1")
            expect = {"sql:scores_are_correct_times_max"}
        else:
            query(warehouse, broken.format(name, "chosen = chosen + 1", name, "chosen < attempts") + " RETURNING 1")
            expect = {"sql:chosen_sums_to_attempts", "rule:chosen_sums_to_attempts"}
        assert {rule for rule, ok in outcome().items() if not ok} == expect
    finally:
        pg_server.drop_database(warehouse.rsplit("/", 1)[1])


def _frame(url: str, query_text: str) -> pd.DataFrame:
    with psycopg.connect(url) as conn:
        cur = conn.execute(query_text)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def score_matrix(source_url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Straight from the source tables, the contract's rules written out again: one row per scored attempt
    and current question of its test, with its final option (0: none) and item score x (hundredths)."""
    tests = _frame(source_url, "SELECT test_id FROM tests")
    questions = _frame(source_url, "SELECT question_id, test_id, option_count, correct_option,"
                                   " (points * 100)::bigint AS m FROM questions")
    sessions = _frame(source_url, "SELECT session_id, test_id, started_at FROM sessions")
    sessions = sessions[sessions["test_id"].isin(tests["test_id"])]
    subs = _frame(source_url, "SELECT session_id, score, max_score FROM submissions")
    subs = subs[subs["session_id"].isin(sessions["session_id"]) & (subs["max_score"] > 0) & (subs["score"] >= 0)
                & (subs["score"] <= subs["max_score"])]
    scored = sessions[sessions["session_id"].isin(subs["session_id"])].copy()
    scored["hour"] = pd.to_datetime(scored["started_at"], utc=True).dt.floor("h")
    answers = _frame(source_url, "SELECT answer_id, session_id, question_id, selected_option, answered_at FROM answers")
    answers = answers.merge(sessions[["session_id", "test_id"]], on="session_id")
    answers = answers.merge(questions.rename(columns={"test_id": "q_test"}), on="question_id")
    answers = answers[(answers["q_test"] == answers["test_id"]) & (
        answers["selected_option"].isna()
        | answers["selected_option"].between(1, answers["option_count"]))]
    final = answers.sort_values(["answered_at", "answer_id"]).groupby(["session_id", "question_id"]).tail(1)
    grid = scored.merge(questions, on="test_id").merge(
        final[["session_id", "question_id", "selected_option"]], on=["session_id", "question_id"], how="left")
    grid["option"] = grid["selected_option"].fillna(0).astype(int)
    grid["x"] = np.where(grid["option"] == grid["correct_option"], grid["m"], 0).astype(np.int64)
    return grid, questions


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a.astype(float), b.astype(float))[0, 1])


def independent_statistics(grid: pd.DataFrame, questions: pd.DataFrame, lo: Any, hi: Any) -> dict[str, dict]:
    """facility, corrected item–rest and item–total correlations, option point-biserials and Cronbach's α of
    the attempts in [lo, hi) with numpy, from the matrix (attempts × questions) of one test at a time."""
    out: dict[str, dict] = {"items": {}, "options": {}, "tests": {}}
    part = grid[(grid["hour"] >= lo) & (grid["hour"] < hi)]
    for test_id, g in part.groupby("test_id"):
        matrix = g.pivot(index="session_id", columns="question_id", values="x")
        chosen = g.pivot(index="session_id", columns="question_id", values="option")
        total = matrix.sum(axis=1).to_numpy()
        n, k = matrix.shape
        m = questions.set_index("question_id")["m"]
        max_total = float(m[matrix.columns].sum())
        for q in matrix.columns:
            x = matrix[q].to_numpy()
            out["items"][(test_id, q)] = {
                "facility": x.sum() / (n * m[q]),
                "sd_fraction": float(np.std(x, ddof=1)) / m[q] if n >= 2 else None,
                "discrimination_index": _corr(x, total - x),
                "point_biserial": _corr(x, total),
            }
            options_q = int(questions.set_index("question_id").loc[q, "option_count"])
            for option in range(options_q + 1):
                picked = (chosen[q].to_numpy() == option)
                p = picked.mean()
                if 0 < p < 1 and total.std() > 0:  # Canvas: (M_chosen − M_others) / σ_X · √(p(1 − p))
                    pbis = (total[picked].mean() - total[~picked].mean()) / total.std(ddof=0) * math.sqrt(p * (1 - p))
                else:
                    pbis = None
                out["options"][(test_id, q, option)] = {
                    "share": p, "point_biserial": pbis,
                    "mean_total_pct": total[picked].mean() / max_total * 100 if picked.any() else None,
                }
        variances = matrix.var(axis=0, ddof=1).to_numpy()
        var_total = float(np.var(total, ddof=1)) if n >= 2 else 0.0
        alpha = k / (k - 1) * (1 - variances.sum() / var_total) if k >= 2 and n >= 2 and var_total > 0 else None
        out["tests"][test_id] = {
            "attempts": n, "items": k, "mean_pct": total.mean() / max_total * 100,
            "sd_pct": math.sqrt(var_total) / max_total * 100 if n >= 2 else None,
            "cronbach_alpha": alpha,
            "sem_points": math.sqrt(var_total) * math.sqrt(1 - alpha) / 100 if alpha is not None else None,
        }
    return out


def _assert_same(what: str, ours: float | None, theirs: float | None) -> None:
    if theirs is None or ours is None:
        assert ours is None and theirs is None, f"{what}: {ours} vs {theirs}"
    else:
        assert math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-9), f"{what}: {ours} vs {theirs}"


def test_range_functions_equal_an_independent_computation_from_the_source(history) -> None:
    source, full, report, _ = history
    grid, questions = score_matrix(source)
    busiest = grid.groupby("hour")["session_id"].nunique().idxmax()
    day = busiest.floor("D")
    ranges = {"one hour": (busiest, busiest + timedelta(hours=1)), "one day": (day, day + timedelta(days=1)),
              "all history": (pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC"))}
    compared = {"items": 0, "options": 0, "tests": 0, "correlations": 0, "alphas": 0}
    for label, (lo, hi) in ranges.items():
        expected = independent_statistics(grid, questions, lo, hi)
        bounds = ALL_TIME if label == "all history" else (lo.to_pydatetime(), hi.to_pydatetime())
        got_items = {(r[0], r[1]): r for r in items(full, rng=bounds)}
        assert got_items.keys() == expected["items"].keys(), label
        for key, e in expected["items"].items():
            r = got_items[key]
            for column, value in zip(("facility", "sd_fraction", "discrimination_index", "point_biserial"),
                                     r[6:10], strict=True):
                _assert_same(f"{label} {key} {column}", value, e[column])
        got_options = {(r[0], r[1], r[2]): r for r in options(full, rng=bounds)}
        assert got_options.keys() == expected["options"].keys(), label
        for key, e in expected["options"].items():
            r = got_options[key]
            for column, value in zip(("share", "mean_total_pct", "point_biserial"), r[6:9], strict=True):
                _assert_same(f"{label} {key} {column}", value, e[column])
        got_tests = {r[0]: r for r in reliability(full, rng=bounds)}
        assert got_tests.keys() == expected["tests"].keys(), label
        for key, e in expected["tests"].items():
            r = got_tests[key]
            assert (r[1], r[2]) == (e["attempts"], e["items"]), key
            for column, value in zip(("mean_pct", "sd_pct", "cronbach_alpha", "sem_points"), r[3:7], strict=True):
                _assert_same(f"{label} test {key} {column}", value, e[column])
        for part in ("items", "options", "tests"):
            compared[part] += len(expected[part])
        compared["correlations"] += sum(e["discrimination_index"] is not None for e in expected["items"].values())
        compared["alphas"] += sum(e["cronbach_alpha"] is not None for e in expected["tests"].values())
    # Many items, options and tests compared, most with defined correlations and alphas.
    assert compared["items"] > 200 and compared["options"] > 1000 and compared["tests"] > 20, compared
    assert compared["correlations"] > 150 and compared["alphas"] > 15, compared

"""The synthetic data generator, checked on a real PostgreSQL by SQL that applies the data contract's rules
independently of the generator's own bookkeeping."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from mcq_analytics.generator import SOURCE_TABLES, GenerationReport, GeneratorConfig, GeneratorError, generate, main
from mcq_analytics.pipeline import run_pandas_window
from mcq_analytics.windows import Window

SMALL = GeneratorConfig(seed=7, answers=4_000, hours=3)

# Sessions whose test exists; the contract treats every other session as missing.
VALID_SESSIONS = "SELECT s.* FROM sessions s JOIN tests t USING (test_id)"

REJECTS = f"""
WITH vs AS ({VALID_SESSIONS})
SELECT 'answers', reason, count(*) FROM (
    SELECT CASE
        WHEN vs.session_id IS NULL THEN 'orphan_session'
        WHEN q.question_id IS NULL THEN 'orphan_question'
        WHEN q.test_id <> vs.test_id THEN 'question_not_in_test'
        WHEN a.selected_option IS NOT NULL AND a.selected_option NOT BETWEEN 1 AND q.option_count
            THEN 'option_out_of_range'
    END AS reason
    FROM answers a LEFT JOIN vs USING (session_id) LEFT JOIN questions q USING (question_id)
) r WHERE reason IS NOT NULL GROUP BY reason
UNION ALL
SELECT 'submissions', reason, count(*) FROM (
    SELECT CASE
        WHEN vs.session_id IS NULL THEN 'orphan_session'
        WHEN s.max_score <= 0 OR s.score < 0 OR s.score > s.max_score THEN 'invalid_score'
    END AS reason
    FROM submissions s LEFT JOIN vs USING (session_id)
) r WHERE reason IS NOT NULL GROUP BY reason
UNION ALL
SELECT 'sessions', 'orphan_test', count(*) FROM sessions s LEFT JOIN tests t USING (test_id)
WHERE t.test_id IS NULL HAVING count(*) > 0
"""

# Views of the valid data: answers and submissions that pass every rule, final answers, winning submissions.
VALID = f"""
CREATE TEMP VIEW vs AS {VALID_SESSIONS};
CREATE TEMP VIEW va AS
    SELECT a.* FROM answers a JOIN vs USING (session_id) JOIN questions q USING (question_id)
    WHERE q.test_id = vs.test_id AND (a.selected_option IS NULL OR a.selected_option BETWEEN 1 AND q.option_count);
CREATE TEMP VIEW final AS
    SELECT DISTINCT ON (session_id, question_id) session_id, question_id, selected_option
    FROM va ORDER BY session_id, question_id, answered_at DESC, answer_id DESC;
CREATE TEMP VIEW vsub AS
    SELECT s.* FROM submissions s JOIN vs USING (session_id)
    WHERE s.max_score > 0 AND s.score >= 0 AND s.score <= s.max_score;
CREATE TEMP VIEW win AS
    SELECT DISTINCT ON (session_id) * FROM vsub ORDER BY session_id, submitted_at DESC, submission_id DESC;
"""


def scalar(conn: psycopg.Connection, query: str) -> object:
    return conn.execute(query).fetchone()[0]


def table_digests(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        return {t: scalar(conn, f"SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {t} x")
                for t in SOURCE_TABLES}


@pytest.fixture(scope="module")
def small(pg_server, schema_templates) -> Iterator[tuple[str, GenerationReport]]:
    """One generated source database shared by the read-only tests (keeps the suite fast)."""
    name = f"t_generated_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name, template=schema_templates[0])
    yield url, generate(url, SMALL)
    pg_server.drop_database(name)


def test_same_seed_gives_identical_tables(dbs) -> None:
    generate(dbs.source_url, SMALL)
    first = table_digests(dbs.source_url)
    generate(dbs.source_url, SMALL, reset=True)
    assert table_digests(dbs.source_url) == first
    generate(dbs.source_url, GeneratorConfig(seed=8, answers=4_000, hours=3), reset=True)
    assert table_digests(dbs.source_url)["answers"] != first["answers"]


def test_refuses_filled_tables_without_reset(small) -> None:
    url, report = small
    with pytest.raises(GeneratorError, match="reset"):
        generate(url, SMALL)
    with psycopg.connect(url) as conn:  # the refusal changed nothing
        assert scalar(conn, "SELECT count(*) FROM answers") == report.rows["answers"]


def test_every_bad_kind_is_present_and_counted(small) -> None:
    url, report = small
    with psycopg.connect(url) as conn:
        found = {(t, r): n for t, r, n in conn.execute(REJECTS).fetchall()}
        counts = {t: scalar(conn, f"SELECT count(*) FROM {t}") for t in SOURCE_TABLES}
    assert found == report.bad
    assert set(found) == {
        ("answers", "orphan_session"), ("answers", "orphan_question"), ("answers", "question_not_in_test"),
        ("answers", "option_out_of_range"), ("submissions", "orphan_session"),
        ("submissions", "invalid_score"), ("sessions", "orphan_test")}
    assert counts == report.rows
    for (table, _), n in found.items():  # about bad_fraction of the table each
        assert 0 < n <= 3 * SMALL.bad_fraction * counts[table] + 3


def test_orphan_test_sessions_have_answers_and_submissions(small) -> None:
    url, _ = small
    with psycopg.connect(url) as conn:
        orphans = "SELECT session_id FROM sessions s LEFT JOIN tests t USING (test_id) WHERE t.test_id IS NULL"
        assert scalar(conn, f"SELECT count(*) FROM answers WHERE session_id IN ({orphans})") > 0
        assert scalar(conn, f"SELECT count(*) FROM submissions WHERE session_id IN ({orphans})") > 0
        assert scalar(conn, "SELECT count(*) FROM answers WHERE selected_option = 0") > 0
        assert scalar(conn, "SELECT count(*) FROM answers a JOIN questions q USING (question_id) "
                            "WHERE a.selected_option > q.option_count") > 0


def test_winning_submission_scores_match_final_answers(small) -> None:
    url, _ = small
    with psycopg.connect(url) as conn:
        conn.execute(VALID)
        mismatched, total = conn.execute("""
            WITH earned AS (
                SELECT f.session_id, sum(q.points) FILTER (WHERE f.selected_option = q.correct_option) AS pts
                FROM final f JOIN questions q USING (question_id) GROUP BY f.session_id),
            test_max AS (SELECT test_id, sum(points) AS pts FROM questions GROUP BY test_id)
            SELECT count(*) FILTER (WHERE w.score <> coalesce(e.pts, 0) OR w.max_score <> m.pts), count(*)
            FROM win w JOIN vs USING (session_id) JOIN test_max m USING (test_id)
            LEFT JOIN earned e USING (session_id)""").fetchone()
    assert total > 0 and mismatched == 0


def test_nasty_cases_present(small) -> None:
    url, report = small
    n = report.nasty
    start, end = SMALL.start, SMALL.start + timedelta(hours=SMALL.hours)
    with psycopg.connect(url) as conn:
        conn.execute(VALID)

        def count(query: str) -> int:
            return scalar(conn, query)

        assert count("SELECT count(*) FROM va WHERE selected_option IS NULL") == n["cleared_events"] > 0
        assert count("SELECT count(*) FROM final WHERE selected_option IS NULL") == n["final_clears"] > 0
        assert count("SELECT count(*) FROM (SELECT 1 FROM va GROUP BY session_id, question_id "
                     "HAVING count(*) > 1) x") >= n["changed_answers"] > 0
        assert count("SELECT count(*) FROM (SELECT 1 FROM va GROUP BY session_id, question_id, answered_at "
                     "HAVING count(*) > 1) x") == n["answered_at_ties"] > 0
        assert count("SELECT count(*) FROM va WHERE time_spent_ms IS NULL") == n["time_spent_null"] > 0
        assert count("SELECT count(*) FROM va WHERE time_spent_ms < 0") == n["time_spent_negative"] > 0
        assert count("SELECT count(*) FROM va WHERE updated_at >= answered_at + interval '30 min'") \
            == n["late_answers"] > 0
        assert count("SELECT count(*) FROM vs WHERE updated_at >= coalesce(ended_at, started_at) "
                     "+ interval '30 min'") == n["late_sessions"] > 0
        assert count("SELECT count(*) FROM vsub WHERE updated_at >= submitted_at + interval '30 min'") \
            == n["late_submissions"] > 0
        assert count("SELECT count(*) FROM vs WHERE NOT EXISTS (SELECT 1 FROM answers a "
                     "WHERE a.session_id = vs.session_id)") == n["empty_sessions"] > 0
        assert count("SELECT count(*) FROM vs WHERE EXISTS (SELECT 1 FROM va WHERE va.session_id = vs.session_id) "
                     "AND NOT EXISTS (SELECT 1 FROM vsub WHERE vsub.session_id = vs.session_id)") \
            == n["abandoned_sessions"] > 0
        assert count("SELECT count(*) FROM (SELECT 1 FROM vsub GROUP BY session_id HAVING count(*) > 1) x") \
            == n["duplicate_submissions"] > 0
        assert count("SELECT count(*) FROM (SELECT 1 FROM vsub GROUP BY session_id, submitted_at "
                     "HAVING count(*) > 1) x") == n["submitted_at_ties"] > 0
        assert count("SELECT count(*) FROM win JOIN vs USING (session_id) WHERE win.submitted_at < vs.started_at") \
            == n["negative_durations"] > 0
        assert count("""
            SELECT count(*) FROM vs WHERE date_trunc('hour', greatest(
                (SELECT max(answered_at) FROM va WHERE va.session_id = vs.session_id),
                (SELECT submitted_at FROM win WHERE win.session_id = vs.session_id))) > date_trunc('hour', started_at)
            """) == n["hour_crossing_sessions"] > 0
        # Regrades: written during the activity, after most of the test's sessions started.
        for table, key in (("questions", "regraded_questions"), ("tests", "regraded_tests")):
            rows = conn.execute(f"SELECT updated_at FROM {table} WHERE updated_at > created_at").fetchall()
            assert len(rows) == n[key] > 0
            assert all(start <= r[0] < end for r in rows)
        assert count("""
            SELECT count(*) FROM questions q JOIN vs USING (test_id)
            WHERE q.updated_at > q.created_at AND vs.started_at < q.updated_at""") > 0


def test_every_timestamp_is_inside_the_window_range(small) -> None:
    url, report = small
    start, end = report.window_range()
    assert (start, end) == (SMALL.start, SMALL.start + timedelta(hours=SMALL.hours))
    with psycopg.connect(url) as conn:
        events = conn.execute("""
            SELECT min(t), max(t) FROM (
                SELECT started_at AS t FROM sessions UNION ALL SELECT ended_at FROM sessions
                UNION ALL SELECT answered_at FROM answers UNION ALL SELECT submitted_at FROM submissions) x
            """).fetchone()
        updated, created = (
            conn.execute(f"SELECT min(t), max(t) FROM ({' UNION ALL '.join(parts)}) x").fetchone()
            for parts in ([f"SELECT updated_at AS t FROM {t}" for t in SOURCE_TABLES],
                          [f"SELECT created_at AS t FROM {t}" for t in ("teachers", "students", "tests", "questions")]))
    assert events == (report.event_min, report.event_max)
    assert updated == (report.updated_min, report.updated_max)
    assert all(start <= t < end for t in (*events, *updated, *created))


def test_difficulty_is_recoverable(dbs) -> None:
    report = generate(dbs.source_url, GeneratorConfig(seed=3, answers=10_000))
    with psycopg.connect(dbs.source_url) as conn:
        conn.execute(VALID)
        observed = pd.DataFrame(conn.execute("""
            SELECT f.question_id, avg((f.selected_option <> q.correct_option)::int) AS wrong, count(*) AS n
            FROM final f JOIN questions q USING (question_id) WHERE f.selected_option IS NOT NULL
            GROUP BY f.question_id""").fetchall(), columns=["question_id", "wrong", "n"])
    observed["wrong"] = observed["wrong"].astype(float)
    observed["difficulty"] = observed["question_id"].map(report.true_difficulty)
    assert len(observed) == len(report.true_difficulty) and observed["n"].min() >= 5
    spearman = observed["wrong"].rank().corr(observed["difficulty"].rank())  # no scipy needed
    assert spearman > 0.6


def test_tiny_run_still_has_every_bad_kind(dbs) -> None:
    report = generate(dbs.source_url, GeneratorConfig(answers=50, hours=1))
    assert len(report.bad) == 7 and all(n >= 1 for n in report.bad.values())
    clean = generate(dbs.source_url, GeneratorConfig(answers=500, bad_fraction=0), reset=True)
    assert sum(clean.bad.values()) == 0


def test_cli(dbs, capsys: pytest.CaptureFixture[str]) -> None:
    url = dbs.source_url
    assert main(["--url", url, "--answers", "1500", "--hours", "2", "--start", "2024-06-01T10:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "answers" in out and "orphan_question" in out and "rows/s" in out
    with psycopg.connect(url) as conn:
        assert scalar(conn, "SELECT min(started_at) FROM sessions") >= datetime(2024, 6, 1, 10, tzinfo=UTC)

    assert main(["--url", url, "--answers", "1500"]) == 1  # filled, no --reset
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--reset" in err
    assert main(["--url", url, "--answers", "1500", "--reset"]) == 0
    capsys.readouterr()

    for bad_args in (["--url", url, "--answers", "0"], ["--url", url, "--start", "yesterday"],
                     ["--url", url, "--bad-fraction", "0.5"], ["--url", url, "--bogus"], ["--answers", "x"]):
        assert main(bad_args) == 2, bad_args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error" in err

    assert main(["--url", "postgresql://alice:s3cret@127.0.0.1:1/nowhere"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "alice:***@127.0.0.1:1" in err and "s3cret" not in err


def test_deliberately_bad_items_are_flagged_by_item_analysis(dbs) -> None:
    """The generator's bad items are what item analysis finds (docs/item_analysis.md), and facility orders the
    other items as the generator's difficulty does."""
    report = generate(dbs.source_url, GeneratorConfig(answers=30_000, hours=6, seed=42))
    bad = report.bad_items
    assert bad == {"mis_keyed": 165, "mis_keyed_true_key": 1, "non_discriminating": 166,
                   "unused_distractor": (168, 4)}
    results = run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(*report.window_range()),
                                pipelines=("item_statistics_fact", "option_choice_fact"))
    assert all(r.status == "success" for r in results), [r.error for r in results]
    every = ("-infinity", "infinity")
    with psycopg.connect(dbs.warehouse_url) as conn:
        items = {q: (n, facility, index, flags) for q, n, facility, index, flags in conn.execute(
            "SELECT question_id, attempts, facility, discrimination_index, flags"
            " FROM analytics.item_analysis(%s, %s, 100)", every)}
        strong = conn.execute("SELECT question_id, option FROM analytics.option_analysis(%s, %s, 100,"
                              " strong_distractor => 0.3) WHERE 'attracts_strong_students' = ANY (flags)",
                              every).fetchall()
        unused = conn.execute("SELECT chosen, flags FROM analytics.option_analysis(%s, %s, 100)"
                              " WHERE question_id = %s AND option = %s", (*every, *bad["unused_distractor"])).fetchone()
    # Exactly the mis-keyed and the non-discriminating questions discriminate negatively (≥ 100 attempts) ...
    assert {q for q, (_, _, _, flags) in items.items() if "negative_discrimination" in flags} == {165, 166}
    assert items[165][2] < -0.2 and abs(items[166][2]) < 0.2  # clearly for the wrong key; about 0 for a coin flip
    # ... the true key of the mis-keyed one is the only option clearly attracting strong students ...
    assert strong == [(165, 1)]
    # ... and nobody ends on the unused distractor.
    assert unused == (0, ["non_functional"])
    # Facility orders the good items as their difficulty does (items with at least 50 attempts).
    good = pd.DataFrame([(q, f, report.true_difficulty[q]) for q, (n, f, _, _) in items.items()
                         if n >= 50 and q not in (165, 166)], columns=["q", "facility", "difficulty"])
    assert len(good) > 150
    assert good["facility"].rank().corr((-good["difficulty"]).rank()) > 0.9

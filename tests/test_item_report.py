"""``run_etl.py items``: the item analysis of a test, and the flagged items, as the range functions give them."""

from __future__ import annotations

import psycopg
from test_cli import run_etl

from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.item_report import item_report
from mcq_analytics.pipeline import run_pandas_window
from mcq_analytics.windows import Window


def _built(dbs) -> None:
    report = generate(dbs.source_url, GeneratorConfig(answers=4_000, hours=2, seed=7), reset=True)
    results = run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(*report.window_range()))
    assert {r.status for r in results} == {"success"}


def test_items_of_one_test_show_the_range_functions_figures(dbs):
    _built(dbs)
    with psycopg.connect(dbs.warehouse_url) as conn:
        test_id, questions = conn.execute(
            "SELECT test_id, count(*) FROM analytics.item_analysis('-infinity', 'infinity')"
            " GROUP BY test_id ORDER BY count(*) DESC, test_id LIMIT 1").fetchone()
        expected = conn.execute(
            "SELECT question_id, attempts, round(facility::numeric, 3), coalesce(array_to_string(flags, ', '), '')"
            " FROM analytics.item_analysis('-infinity', 'infinity', 5) WHERE test_id = %s ORDER BY question_id",
            (test_id,)).fetchall()
        alpha = conn.execute("SELECT round(cronbach_alpha::numeric, 3) FROM analytics.test_reliability("
                             "'-infinity', 'infinity', 5) WHERE test_id = %s", (test_id,)).fetchone()[0]
    assert len(expected) == questions >= 5

    text = item_report(dbs.warehouse_url, None, None, test_id=test_id, min_attempts=5)
    lines = text.splitlines()
    start = lines.index(f"questions of test {test_id}") + 3  # title, header, rule
    shown = [line.split() for line in lines[start:start + questions]]
    assert [(int(c[0]), int(c[1]), c[4]) for c in shown] == [(q, n, f"{f:.3f}") for q, n, f, _ in expected]
    flag_words = {"negative_discrimination", "poor_discrimination", "too_hard", "too_easy"}
    for row, (_, _, _, flags) in zip(shown, expected, strict=True):  # the flags close the line
        assert " ".join(w for w in row if w.rstrip(",") in flag_words) == flags
    (reliability,) = [line for line in lines if line.startswith(f"{test_id} ")][:1]
    assert f"{alpha:.3f}" in reliability.split()
    assert text.endswith("what each flag means and what to check: docs/item_analysis.md")


def test_run_etl_items_prints_every_flagged_question(dbs):
    _built(dbs)
    with psycopg.connect(dbs.warehouse_url) as conn:
        flagged = conn.execute("SELECT test_id, question_id FROM analytics.item_analysis('-infinity', 'infinity')"
                               " WHERE cardinality(flags) > 0 ORDER BY 1, 2").fetchall()
    proc = run_etl("--env", "prod", "items", source_url=dbs.source_url, warehouse_url=dbs.warehouse_url)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    start = lines.index("flagged questions") + 3
    shown = [tuple(map(int, line.split()[:2])) for line in lines[start:start + len(flagged)]]
    assert flagged and shown == flagged
    assert lines[start + len(flagged)] == ""  # nothing else listed as flagged

"""The convergence invariant on generated data with every nasty case of the contract: hourly windows in
order, reversed, shuffled with repeats, and one window over everything all give the same facts as a full
recompute, which also equals the in-database SQL reference; every deliberately bad row is quarantined."""

from __future__ import annotations

import random
import uuid

import pytest
from helpers import assert_facts_equal, fetch_all_facts, fetch_rejects

from mcq_analytics.generator import GeneratorConfig, generate
from mcq_analytics.pipeline import run_pandas_window
from mcq_analytics.reference import run_reference
from mcq_analytics.windows import Window, hourly_windows


@pytest.fixture(scope="module")
def generated(pg_server, schema_templates):
    """One generated source (module-scoped: generation is the slow part) and a factory of warehouses."""
    suffix = uuid.uuid4().hex[:8]
    source_url = pg_server.create_database(f"conv_source_{suffix}", template=schema_templates[0])
    report = generate(source_url, GeneratorConfig(answers=6_000, hours=4, seed=7, bad_fraction=0.03), reset=True)
    created: list[str] = []

    def new_warehouse() -> str:
        name = f"conv_wh_{uuid.uuid4().hex[:8]}"
        created.append(name)
        return pg_server.create_database(name, template=schema_templates[1])

    yield source_url, report, new_warehouse
    for name in [*created, f"conv_source_{suffix}"]:
        pg_server.drop_database(name)


def run_windows(source_url: str, warehouse_url: str, windows: list[Window]) -> None:
    for window in windows:
        results = run_pandas_window(source_url, warehouse_url, window)
        assert all(r.status == "success" for r in results), [r.error for r in results]


def test_any_order_of_windows_equals_a_full_recompute(generated):
    source_url, report, new_warehouse = generated
    first, last = report.window_range()
    hours = list(hourly_windows(first, last))
    assert len(hours) >= 4

    full = new_warehouse()
    run_windows(source_url, full, [Window(first, last)])
    expected = fetch_all_facts(full)
    assert all(expected[f] for f in expected), "the generated data must fill every fact"

    shuffled = hours * 2
    random.Random(3).shuffle(shuffled)
    for order in (hours, hours[::-1], shuffled):
        warehouse = new_warehouse()
        run_windows(source_url, warehouse, order)
        assert_facts_equal(fetch_all_facts(warehouse), expected)
        assert fetch_rejects(warehouse) == fetch_rejects(full)

    run_windows(source_url, full, [hours[1]])  # a re-run changes nothing
    assert_facts_equal(fetch_all_facts(full), expected)


def test_full_recompute_equals_the_in_database_reference(generated):
    source_url, report, new_warehouse = generated
    first, last = report.window_range()
    warehouse = new_warehouse()
    run_windows(source_url, warehouse, [Window(first, last)])
    run_reference(source_url, None, None)
    assert_facts_equal(fetch_all_facts(source_url, schema="mcq_reference"), fetch_all_facts(warehouse))


def test_every_deliberately_bad_row_is_quarantined(generated):
    source_url, report, new_warehouse = generated
    warehouse = new_warehouse()
    run_windows(source_url, warehouse, list(hourly_windows(*report.window_range())))
    counts: dict[tuple[str, str], int] = {}
    for _, table, _, reason in fetch_rejects(warehouse, "test_summary_fact"):
        counts[(table, reason)] = counts.get((table, reason), 0) + 1
    assert counts == {key: n for key, n in report.bad.items() if n}

"""The dashboard in a real browser: ``streamlit run`` on a free port against a pipeline-built warehouse,
every page opened in headless Debian Chromium (Playwright), no Streamlit exception box, a known figure in
the page text, a screenshot of each page."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_dashboard import busiest_test, has_item_analysis, one, warehouse  # noqa: F401  (module fixture)

from mcq_analytics.dashboard.browser import CHROMIUM, serve, visit_pages
from mcq_analytics.dashboard.queries import NO_DATA, NO_ITEM_ANALYSIS

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"no Chromium at {CHROMIUM} (scripts/setup_system.sh installs it; "
                                       "or set MCQ_CHROMIUM)")


def test_every_page_in_headless_chromium(warehouse, tmp_path):  # noqa: F811
    sessions, rejects = one(warehouse, "SELECT (SELECT sum(sessions_started) FROM analytics.test_summary_fact),"
                                       " (SELECT count(*) FROM (SELECT DISTINCT date_trunc('hour', window_start),"
                                       " reason, source_table, source_key FROM analytics.etl_rejects) AS r)")
    tid = busiest_test(warehouse)
    expect = {
        "overview": f"{sessions:,}",
        "test": f"Test {tid}",
        "items": "Facility against discrimination" if has_item_analysis(warehouse) else NO_ITEM_ANALYSIS,
        "health": f"{rejects:,} rejected source rows",
    }
    with serve(warehouse, tmp_path / "streamlit.log") as base:
        views = visit_pages(base, tmp_path / "shots", expect)
    assert [v.page for v in views] == ["overview", "test", "items", "health"]
    for view in views:
        assert expect[view.page] in view.text, view.page
        assert "Traceback" not in view.text and NO_DATA not in view.text, view.page
        assert view.screenshot.stat().st_size > 20_000, view.screenshot  # a rendered page, not a blank one
    overview = views[0].text
    assert "Sessions" in overview and "Funnel" in overview and f"{sessions:,}" in overview


def test_an_empty_warehouse_in_the_browser_says_no_data_yet(dbs, tmp_path):
    with serve(dbs.warehouse_url, tmp_path / "streamlit.log") as base:
        views = visit_pages(base, tmp_path / "shots", dict.fromkeys(("overview", "health"), NO_DATA),
                            pages=("overview", "health"))
    assert all(NO_DATA in v.text for v in views)

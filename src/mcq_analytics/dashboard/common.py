"""What every page shares: the settings, the filters in the sidebar (kept in ``st.session_state`` and the
URL's query parameters, so they carry across pages and into links), and loading a page's data."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import streamlit as st

from mcq_analytics.dashboard import queries
from mcq_analytics.dashboard.queries import Filters, Runner
from mcq_analytics.dashboard.settings import DashboardSettings, load_dashboard_settings

#: The default range: the last week of data (up to the last cohort hour in the facts).
DEFAULT_DAYS = 7
ALL_TESTS = "All tests"


@st.cache_resource(show_spinner=False)
def _settings(env: str, url: str | None) -> DashboardSettings:
    return load_dashboard_settings(env)


def settings() -> DashboardSettings:
    """Settings for ``MCQ_DASHBOARD_ENV`` (set by ``python -m mcq_analytics.dashboard --env …``; default dev).
    Cached per (environment, ``MCQ_DASHBOARD_URL``): resolving the embedded default starts a server."""
    return _settings(os.environ.get("MCQ_DASHBOARD_ENV") or "dev", os.environ.get("MCQ_DASHBOARD_URL"))


@st.cache_data(ttl=60, show_spinner=False)
def load(url: str, page: str, f: Filters) -> dict[str, Any]:
    """One page's data (cached for a minute per filter set)."""
    with queries.connect(url) as conn:
        return queries.run_page(Runner(conn), page, f)


@st.cache_data(ttl=60, show_spinner=False)
def load_options(url: str, f: Filters, test_id: int, question_id: int) -> dict[str, Any]:
    with queries.connect(url) as conn:
        return queries.items(Runner(conn), f, test_id, question_id)


def _parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def sidebar_filters() -> Filters | None:
    """Render the filters; ``None`` when the warehouse has no facts yet (the pages then say so)."""
    cfg = settings()
    with queries.connect(cfg.warehouse_url) as conn:
        status = queries.status(Runner(conn))
    st.session_state["status"] = status
    if not status.has_data:
        st.sidebar.info(queries.NO_DATA)
        return None
    first_day, last_day = status.first_hour.date(), status.last_hour.date()
    default = (max(first_day, last_day - timedelta(days=DEFAULT_DAYS - 1)), last_day)
    params = st.query_params
    if "range" not in st.session_state:  # first run of a session: start from the link's query parameters
        start, end = _parse_date(params.get("from")), _parse_date(params.get("to"))
        st.session_state["range"] = (start, end) if start and end and start <= end else default
        st.session_state["test"] = params.get("test") or ALL_TESTS
    st.sidebar.header("Filters")
    chosen = st.sidebar.date_input("Date range (UTC, cohort start)", key="range")
    if not isinstance(chosen, tuple | list) or len(chosen) != 2:  # half-picked range: keep the last whole one
        chosen = st.session_state.get("last_range", default)
    st.session_state["last_range"] = tuple(chosen)
    f = Filters.for_dates(chosen[0], chosen[1])
    with queries.connect(cfg.warehouse_url) as conn:
        test_list = queries.tests(Runner(conn), f)
    options = [ALL_TESTS, *(str(t) for t in test_list["test_id"])]
    if st.session_state.get("test") not in options:
        options.append(st.session_state["test"])  # a test without sessions in this range stays selectable
    test_choice = st.sidebar.selectbox("Test", options, key="test")
    st.sidebar.selectbox("Subject", ["All subjects"], disabled=True,
                         help="Tests' subjects are not in the warehouse yet (they live only in the source "
                              "tests table), so the dashboard cannot filter by subject.")
    test_id = int(test_choice) if test_choice != ALL_TESTS else None
    params["from"], params["to"] = chosen[0].isoformat(), chosen[1].isoformat()
    if test_id is None:
        params.pop("test", None)
    else:
        params["test"] = str(test_id)
    return Filters.for_dates(chosen[0], chosen[1], test_id)


def current_filters() -> Filters | None:
    return st.session_state.get("filters")


def recent_days() -> Filters:
    """The last week up to today (UTC): the health page's range before any fact exists."""
    today = datetime.now(UTC).date()
    return Filters.for_dates(today - timedelta(days=DEFAULT_DAYS - 1), today)


def no_data() -> None:
    st.info(queries.NO_DATA)


def pct(value: Any) -> str:
    return "—" if value is None or value != value else f"{value * 100:.1f} %"


def num(value: Any) -> str:
    return "—" if value is None or value != value else f"{int(value):,}"


def change(now: Any, before: Any, rate: bool = False) -> str | None:
    """The change against the previous range, for ``st.metric``'s delta (None when there is nothing before)."""
    if now is None or before is None or now != now or before != before:
        return None
    if rate:
        return f"{(now - before) * 100:+.1f} pt"
    if before == 0:
        return None
    return f"{(now - before) / before * 100:+.1f} %"


def range_caption(f: Filters) -> str:
    last = f.end - timedelta(days=1)
    return f"{f.start:%Y-%m-%d} – {last:%Y-%m-%d} (UTC)" + (f", test {f.test_id}" if f.test_id else ", all tests")

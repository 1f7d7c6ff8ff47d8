"""The Streamlit entry script: page setup, the shared filters in the sidebar, then the chosen page.

Served by ``python -m mcq_analytics.dashboard --env dev`` (or ``streamlit run`` on this file with
``MCQ_DASHBOARD_ENV`` / ``MCQ_DASHBOARD_URL`` set).
"""

from pathlib import Path

import streamlit as st

from mcq_analytics.dashboard.common import sidebar_filters

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="MCQ analytics", layout="wide")
page = st.navigation([
    st.Page(VIEWS / "overview.py", title="Overview", default=True),
    st.Page(VIEWS / "test.py", title="Test", url_path="test"),
    st.Page(VIEWS / "items.py", title="Items", url_path="items"),
    st.Page(VIEWS / "health.py", title="Pipeline health", url_path="health"),
])
st.session_state["filters"] = sidebar_filters()
page.run()

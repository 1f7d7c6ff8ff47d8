"""Overview: sessions, students, submissions and pass rate for the range with the change against the
previous range; hourly sessions and pass rate; the funnel with completion and the common drop-off stage."""

import altair as alt
import streamlit as st

from mcq_analytics.dashboard import common
from mcq_analytics.dashboard.charts import funnel_chart, hour_tooltip, hour_x


def render() -> None:
    st.title("Overview")
    f = common.current_filters()
    if f is None:
        common.no_data()
        return
    st.caption(common.range_caption(f))
    data = common.load(common.settings().warehouse_url, "overview", f)
    now, before = data["kpis"], data["kpis_previous"]
    if not now.get("sessions"):
        st.info("no sessions in this range — widen the date range or choose another test")
        return
    cols = st.columns(4)
    for col, key, label in zip(cols, ("sessions", "students", "submissions"), ("Sessions", "Students", "Submissions"),
                               strict=False):
        col.metric(label, common.num(now[key]), common.change(now[key], before.get(key)))
    cols[3].metric("Pass rate", common.pct(now["pass_rate"]),
                   common.change(now["pass_rate"], before.get("pass_rate"), rate=True))
    st.caption("Change against the previous range of the same length. Students are counted per test and "
               "cohort hour (a student in two cohorts counts twice).")

    hourly = data["hourly"].copy()
    hourly["pass_rate_pct"] = hourly["pass_rate"].astype(float) * 100
    left, right = st.columns(2)
    base = alt.Chart(hourly).encode(x=hour_x())
    left.subheader("Sessions per hour")
    left.altair_chart(base.mark_bar().encode(y=alt.Y("sessions:Q", title="sessions"),
                                             tooltip=[hour_tooltip(), "sessions:Q"]), width="stretch")
    right.subheader("Pass rate per hour")
    right.altair_chart(base.mark_line(point=True).encode(
        y=alt.Y("pass_rate_pct:Q", title="pass rate %", scale=alt.Scale(domain=[0, 100])),
        tooltip=[hour_tooltip(), alt.Tooltip("pass_rate_pct:Q", format=".1f")]), width="stretch")

    funnel_chart(data["funnel"])


render()

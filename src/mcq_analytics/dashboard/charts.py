"""Charts more than one page draws."""

import altair as alt
import pandas as pd
import streamlit as st

from mcq_analytics.dashboard import common

STAGES = ("started", "engaged", "submitted", "passed")
#: Hours shown in UTC whatever the browser's time zone (Vega-Lite uses local time otherwise); bars get an
#: hour's width.
UTC_HOUR = "utcyearmonthdatehours"


def hour_x(field: str = "hour_start", title: str = "cohort hour (UTC)") -> alt.X:
    return alt.X(f"{field}:T", timeUnit=UTC_HOUR, title=title, axis=alt.Axis(format="%b %d %H:%M"))


def hour_tooltip(field: str = "hour_start") -> alt.Tooltip:
    return alt.Tooltip(f"{field}:T", timeUnit=UTC_HOUR, format="%Y-%m-%d %H:%M UTC", title=field)


def funnel_chart(funnel: dict) -> None:
    """The funnel started → engaged → submitted → passed, completion and the most common drop-off stage."""
    st.subheader("Funnel")
    started = funnel.get("started") or 0
    frame = pd.DataFrame({"stage": STAGES, "sessions": [int(funnel.get(s) or 0) for s in STAGES]})
    frame["share"] = frame["sessions"] / started if started else 0.0
    chart = alt.Chart(frame).mark_bar().encode(
        y=alt.Y("stage:N", sort=list(STAGES), title=None), x=alt.X("sessions:Q", title="sessions"),
        tooltip=["stage:N", "sessions:Q", alt.Tooltip("share:Q", format=".1%")])
    st.altair_chart(chart + chart.mark_text(align="left", dx=4).encode(text=alt.Text("share:Q", format=".1%")),
                    width="stretch")
    cols = st.columns(2)
    cols[0].metric("Completion (all questions answered)", common.pct(funnel.get("completion_rate")))
    cols[1].metric("Most common drop-off stage", funnel.get("top_drop_off_stage") or "none")

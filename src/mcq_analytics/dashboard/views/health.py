"""Pipeline health: etl_metadata per pipeline, recent runs with durations, rejects by reason over time,
links to the Airflow UI's DAG runs."""

import altair as alt
import pandas as pd
import streamlit as st

from mcq_analytics.airflow.support import DAG_FOR_ENGINE
from mcq_analytics.dashboard import common
from mcq_analytics.dashboard.charts import hour_tooltip, hour_x


def _hours(lag: object) -> float | None:
    return None if lag is None or pd.isna(lag) else pd.Timedelta(lag).total_seconds() / 3600


def render() -> None:
    st.title("Pipeline health")
    cfg = common.settings()
    status = st.session_state.get("status")
    if status is None or not status.has_schema:
        common.no_data()
        return
    f = common.current_filters() or common.recent_days()
    data = common.load(cfg.warehouse_url, "health", f)
    if data["pipelines"].empty:
        common.no_data()
        return
    pipelines = data["pipelines"].copy()
    pipelines["lag_hours"] = pipelines["watermark_lag"].map(_hours)
    cols = st.columns(len(pipelines))
    for col, row in zip(cols, pipelines.itertuples(), strict=True):
        col.metric(row.pipeline_name, row.status,
                   f"{row.consecutive_failures} consecutive failures" if row.consecutive_failures else None,
                   delta_color="inverse")
        col.caption(f"watermark {row.watermark:%Y-%m-%d %H:%M} UTC, "
                    f"{row.lag_hours:,.0f} h behind the last full hour" if row.watermark is not None
                    and not pd.isna(row.watermark) else "no watermark yet")
    st.dataframe(pipelines.drop(columns=["watermark_lag"]), hide_index=True, width="stretch")
    errors = pipelines[pipelines["last_error"].notna()]
    for row in errors.itertuples():
        st.error(f"{row.pipeline_name}: {row.last_error}")
    engines = {cfg.engine, *(e for e in pipelines["engine"] if e)}
    dags = sorted({DAG_FOR_ENGINE[e] for e in engines if e in DAG_FOR_ENGINE})
    st.markdown("Airflow DAG runs: " + ", ".join(f"[{d}]({cfg.airflow_base_url}/dags/{d}/runs)" for d in dags))

    runs = data["runs"]
    st.subheader("Recent runs")
    if not runs.empty:
        st.altair_chart(alt.Chart(runs).mark_circle(size=60).encode(
            x=hour_x("window_start", "window (UTC)"), y=alt.Y("duration_seconds:Q", title="duration (s)"),
            color=alt.Color("pipeline_name:N", title=None), shape=alt.Shape("status:N"),
            tooltip=["run_id:N", "status:N", alt.Tooltip("duration_seconds:Q", format=".2f"), "rows_written:Q"]),
            width="stretch")
    st.dataframe(runs, hide_index=True, width="stretch")

    rejects = data["rejects"]
    st.subheader("Rejects by reason")
    if rejects.empty:
        st.info("no rejects in this range")
        return
    total = int(rejects["rejects"].sum())
    st.caption(f"{total:,} rejected source rows in {common.range_caption(f)} (a row that several pipelines "
               "quarantined counts once)")
    st.altair_chart(alt.Chart(rejects).mark_bar().encode(
        x=hour_x("hour_start", "window hour (UTC)"), y=alt.Y("rejects:Q", title="rejected rows"),
        color=alt.Color("reason:N"), tooltip=[hour_tooltip(), "reason:N", "rejects:Q"]), width="stretch")


render()

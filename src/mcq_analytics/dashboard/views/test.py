"""Test: one test's cohorts over time (score %, pass rate, duration), its funnel, its reliability."""

import altair as alt
import streamlit as st

from mcq_analytics.dashboard import common, queries
from mcq_analytics.dashboard.charts import funnel_chart, hour_tooltip, hour_x


def render() -> None:
    st.title("Test")
    f = common.current_filters()
    if f is None:
        common.no_data()
        return
    data = common.load(common.settings().warehouse_url, "test", f)
    test_id = queries.chosen_test(f, data["tests"])
    if test_id is None:
        st.info("no sessions in this range — widen the date range")
        return
    st.caption(common.range_caption(f) if f.test_id else
               f"Test {test_id} (the busiest of the range; choose another in the sidebar). {common.range_caption(f)}")
    st.header(f"Test {test_id}")
    cohorts = data["cohorts"].copy()
    if cohorts.empty:
        st.info("no sessions of this test in this range")
        return
    cols = st.columns(4)
    sessions, submissions, passed = (int(cohorts[c].sum()) for c in ("sessions_started", "submissions", "passed"))
    cols[0].metric("Sessions", f"{sessions:,}")
    cols[1].metric("Submissions", f"{submissions:,}")
    cols[2].metric("Pass rate", common.pct(passed / submissions if submissions else None))
    reliability_metric(cols[3], data)

    cohorts["pass_rate_pct"] = cohorts["pass_rate"].astype(float) * 100
    scores = cohorts.melt(id_vars=["hour_start"], value_vars=["avg_score_pct", "median_score_pct", "min_score_pct",
                                                             "max_score_pct"], var_name="statistic",
                          value_name="score_pct")
    st.subheader("Score % per cohort hour")
    st.altair_chart(alt.Chart(scores).mark_line(point=True).encode(
        x=hour_x(),
        y=alt.Y("score_pct:Q", title="score %", scale=alt.Scale(domain=[0, 100])),
        color=alt.Color("statistic:N", title=None),
        tooltip=[hour_tooltip(), "statistic:N", alt.Tooltip("score_pct:Q", format=".1f")]), width="stretch")
    left, right = st.columns(2)
    base = alt.Chart(cohorts).encode(x=hour_x())
    left.subheader("Pass rate")
    left.altair_chart(base.mark_line(point=True).encode(
        y=alt.Y("pass_rate_pct:Q", title="pass rate %", scale=alt.Scale(domain=[0, 100]))), width="stretch")
    right.subheader("Average duration")
    right.altair_chart(base.mark_line(point=True).encode(y=alt.Y("avg_duration_seconds:Q", title="seconds")),
                       width="stretch")
    st.dataframe(cohorts.drop(columns=["pass_rate_pct"]), hide_index=True, width="stretch")
    funnel_chart(data["funnel"])


def reliability_metric(col: st.delta_generator.DeltaGenerator, data: dict) -> None:
    """Cronbach's alpha and the SEM, once the item-analysis facts exist."""
    if "reliability" not in data:
        col.metric("Reliability (alpha)", "—", help=queries.NO_ITEM_ANALYSIS)
        st.caption(f"Reliability: {queries.NO_ITEM_ANALYSIS}.")
        return
    rel = data["reliability"]
    alpha = rel.get("cronbach_alpha")
    col.metric("Reliability (alpha)", "—" if alpha is None or alpha != alpha else f"{alpha:.3f}",
               help="Cronbach's alpha over the range (docs/item_analysis.md)")
    sem = rel.get("sem_points")
    st.caption(f"Reliability over {common.num(rel.get('attempts'))} scored attempts and {common.num(rel.get('items'))}"
               f" items: SEM {'—' if sem is None or sem != sem else f'{sem:.2f}'} points"
               + (f"; flags: {', '.join(rel['flags'])}" if rel.get("flags") else "") + ".")


render()

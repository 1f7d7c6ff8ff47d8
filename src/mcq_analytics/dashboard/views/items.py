"""Items: a test's item-analysis table with flags, facility against discrimination coloured by flag, and
the distractor chart of a chosen question. Needs the item-analysis facts (docs/item_analysis.md)."""

import re

import altair as alt
import pandas as pd
import streamlit as st

from mcq_analytics.dashboard import common, queries
from mcq_analytics.paths import PROJECT_ROOT

DOCS = "docs/item_analysis.md"
#: Short meanings, used when the docs are not shipped (the Docker image has no docs/ folder).
FLAG_MEANINGS = {
    "negative_discrimination": "stronger students get it wrong more often than weaker ones: check the key",
    "poor_discrimination": "discrimination index below 0.20: it hardly separates strong from weak students",
    "too_hard": "facility below 0.20: fewer than one in five get it right",
    "too_easy": "facility above 0.90: nearly everyone gets it right",
    "non_functional": "a distractor chosen by fewer than 5 % of the attempts",
    "attracts_strong_students": "a distractor whose choosers score above the others: possibly a second key",
}
#: Item flags in the scatter: unflagged grey, the worst (a likely wrong key) red.
FLAG_COLOURS = {"none": "#9e9e9e", "negative_discrimination": "#d62728", "poor_discrimination": "#ff7f0e",
                "too_hard": "#9467bd", "too_easy": "#17becf"}
_FLAG_ROW = re.compile(r"^\| `(\w+)` \|")


def flag_rows() -> list[str]:
    """The rows of the flag tables of docs/item_analysis.md (one source for what a flag means)."""
    path = PROJECT_ROOT / DOCS
    if not path.is_file():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if _FLAG_ROW.match(line)]


def explain_flags() -> None:
    """The "what the flags mean" section the flag links point at."""
    st.subheader("What the flags mean", anchor="flags")
    rows = flag_rows()
    if rows:
        st.markdown("| flag | rule (default) | what it usually means | what to check |\n|---|---|---|---|\n"
                    + "\n".join(rows))
    else:
        st.markdown("\n".join(f"- **{flag}**: {meaning}" for flag, meaning in FLAG_MEANINGS.items()))
    st.caption(f"From {DOCS}, which explains every statistic and flag.")


def render() -> None:
    st.title("Items")
    f = common.current_filters()
    if f is None:
        common.no_data()
        return
    status = st.session_state["status"]
    if not status.has_item_analysis:
        st.info(queries.NO_ITEM_ANALYSIS + " (docs/item_analysis.md).")
        return
    data = common.load(common.settings().warehouse_url, "items", f)
    test_id = queries.chosen_test(f, data["tests"])
    table = data.get("items")
    if test_id is None or table is None or table.empty:
        st.info("no scored attempts in this range — widen the date range or choose another test")
        return
    st.caption((common.range_caption(f) if f.test_id else
                f"Test {test_id} (the busiest of the range; choose another in the sidebar). "
                + common.range_caption(f)) + f". Flags need at least {f.min_attempts} attempts.")
    st.header(f"Test {test_id}: {len(table)} items")
    table = table.copy()
    table["flag"] = table["flags"].map(lambda fl: fl[0] if len(fl) else "none")
    table["flags"] = table["flags"].map(", ".join)
    shown = ["question_id", "flags", *(c for c in table.columns if c not in ("question_id", "flags", "flag"))]
    st.dataframe(table[shown], hide_index=True, width="stretch")
    flags = sorted({fl for fls in table["flags"] for fl in fls.split(", ") if fl})
    st.markdown("Flags in this table: " + (", ".join(f"[{flag}](#flags)" for flag in flags) or "none")
                + " — [what they mean](#flags)")

    st.subheader("Facility against discrimination")
    st.altair_chart(alt.Chart(table).mark_circle(size=90).encode(
        x=alt.X("facility:Q", title="facility (share of points earned)", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("discrimination_index:Q", title="discrimination index"),
        color=alt.Color("flag:N", title="first flag", scale=alt.Scale(domain=list(FLAG_COLOURS),
                                                                      range=list(FLAG_COLOURS.values()))),
        tooltip=["question_id:Q", alt.Tooltip("facility:Q", format=".2f"),
                 alt.Tooltip("discrimination_index:Q", format=".2f"), "flags:N"]), width="stretch")

    questions = [int(q) for q in table["question_id"]]
    default = data["question_id"]
    question = st.selectbox("Question", questions, index=questions.index(default) if default in questions else 0,
                            key="question")
    options = (data["options"] if question == default else
               common.load_options(common.settings().warehouse_url, f, test_id, question)["options"])
    distractor_chart(question, options)
    explain_flags()


def distractor_chart(question: int, options: pd.DataFrame) -> None:
    """Share of attempts per option (key highlighted) and the mean total score % of each option's choosers."""
    st.subheader(f"Question {question}: options")
    if options.empty:
        st.info("no attempts at this question in this range")
        return
    frame = options.copy()
    frame["option_label"] = frame["option"].map(lambda o: "unanswered" if o == 0 else f"option {o}")
    frame["role"] = frame["is_key"].map(lambda k: "key" if k else "distractor")
    frame["flags"] = frame["flags"].map(", ".join)
    left, right = st.columns(2)
    base = alt.Chart(frame).encode(
        x=alt.X("option_label:N", sort=list(frame["option_label"]), title=None),
        color=alt.Color("role:N", scale=alt.Scale(domain=["key", "distractor"], range=["#2ca02c", "#9e9e9e"])))
    share = alt.Y("share:Q", title="share of attempts", axis=alt.Axis(format="%"))
    left.altair_chart(base.mark_bar().encode(
        y=share, tooltip=["option_label:N", "chosen:Q", alt.Tooltip("share:Q", format=".1%"), "flags:N"]),
        width="stretch")
    right.altair_chart(base.mark_bar().encode(y=alt.Y("mean_total_pct:Q", title="mean total score % of choosers"),
                                              tooltip=["option_label:N",
                                                       alt.Tooltip("mean_total_pct:Q", format=".1f")]),
                       width="stretch")
    st.dataframe(frame.drop(columns=["option_label"]), hide_index=True, width="stretch")


render()

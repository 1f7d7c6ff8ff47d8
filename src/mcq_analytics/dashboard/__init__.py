"""The dashboard (Streamlit): the facts as pages — Overview, Test, Items, Pipeline health.

Read-only: every query is a file in ``include/sql/dashboard/`` that reads only the ``analytics`` schema.
``python -m mcq_analytics.dashboard --env dev`` serves it; ``queries.page_query_timings`` runs one page's
queries for the benchmark. See docs/dashboard.md.
"""

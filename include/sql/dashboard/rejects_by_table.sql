-- Rejected source rows by source table and reason in the range (window hours), the pipelines that quarantined
-- them, the first and last window hour they were seen in and a few example keys (the smallest, as text) — the
-- Airflow pipeline-health view. A row that several pipelines quarantined counts once (DISTINCT source_key).
SELECT source_table, reason, count(DISTINCT source_key)::bigint AS rejects,
       array_agg(DISTINCT pipeline_name ORDER BY pipeline_name) AS pipelines,
       min(window_start) AS first_window, max(window_start) AS last_window,
       (array_agg(DISTINCT source_key ORDER BY source_key))[1:%(examples)s] AS example_keys
  FROM analytics.etl_rejects
 WHERE window_start >= %(start)s AND window_start < %(end)s
 GROUP BY source_table, reason
 ORDER BY rejects DESC, source_table, reason

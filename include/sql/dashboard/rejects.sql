-- Rejected source rows by reason per window hour in the range (etl_rejects_window_idx range scan). A row
-- every pipeline reading its table quarantined counts once.
SELECT date_trunc('hour', window_start) AS hour_start, reason,
       count(DISTINCT (source_table, source_key))::bigint AS rejects
  FROM analytics.etl_rejects
 WHERE window_start >= %(start)s AND window_start < %(end)s
 GROUP BY 1, 2
 ORDER BY 1, 2

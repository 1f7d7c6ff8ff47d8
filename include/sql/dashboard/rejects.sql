-- Rejected source rows by reason per window hour in the range (etl_rejects_window_idx range scan). A row
-- that several pipelines quarantined counts once (DISTINCT first, then count: hashes, no per-group sorts).
SELECT r.hour_start, r.reason, count(*)::bigint AS rejects
  FROM (SELECT DISTINCT date_trunc('hour', window_start) AS hour_start, reason, source_table, source_key
          FROM analytics.etl_rejects
         WHERE window_start >= %(start)s AND window_start < %(end)s) AS r
 GROUP BY r.hour_start, r.reason
 ORDER BY r.hour_start, r.reason

-- Fingerprint of every UTC hour in [%(range_start)s, %(range_end)s) of the change-captured source tables:
-- per hour of updated_at, the row count, the latest updated_at and an order-independent sum of row hashes
-- (table, key, updated_at). A row that commits late, changes or moves changes its hour's fingerprint, so
-- reconcile (src/mcq_analytics/reconcile.py) reprocesses that hour. Index range scans on updated_at.
SELECT date_trunc('hour', updated_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour_start,
       count(*) AS source_rows,
       max(updated_at) AS max_updated_at,
       md5(count(*)::text || ':' || sum(h)::text) AS fingerprint
  FROM (SELECT updated_at, hashtextextended('s' || session_id || '@' || extract(epoch FROM updated_at), 0)::numeric AS h
          FROM sessions WHERE updated_at >= %(range_start)s AND updated_at < %(range_end)s
        UNION ALL
        SELECT updated_at, hashtextextended('a' || answer_id || '@' || extract(epoch FROM updated_at), 0)::numeric
          FROM answers WHERE updated_at >= %(range_start)s AND updated_at < %(range_end)s
        UNION ALL
        SELECT updated_at, hashtextextended('u' || submission_id || '@' || extract(epoch FROM updated_at), 0)::numeric
          FROM submissions WHERE updated_at >= %(range_start)s AND updated_at < %(range_end)s
        UNION ALL
        SELECT updated_at, hashtextextended('t' || test_id || '@' || extract(epoch FROM updated_at), 0)::numeric
          FROM tests WHERE updated_at >= %(range_start)s AND updated_at < %(range_end)s
        UNION ALL
        SELECT updated_at, hashtextextended('q' || question_id || '@' || extract(epoch FROM updated_at), 0)::numeric
          FROM questions WHERE updated_at >= %(range_start)s AND updated_at < %(range_end)s
       ) changes
 GROUP BY 1
 ORDER BY 1

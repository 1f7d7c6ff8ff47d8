-- The work of each UTC hour of [%(range_start)s, %(range_end)s) for a range whose windows share one source
-- snapshot (mcq_analytics.extract.RangeSnapshot): the answer rows of the sessions whose first change in the
-- range falls in that hour. The changes are those of extract/affected_sessions.sql (event and updated_at
-- times, regrades of the session's test); a later window of the range skips a session an earlier one built,
-- so every session is work once. Every hour of the range is listed (0: no session becomes work there), so
-- the planner merges hours without new work into the windows around them.
WITH regraded AS (
    SELECT updated_at AS ts, test_id FROM tests     WHERE updated_at >= %(range_start)s AND updated_at < %(range_end)s
    UNION ALL
    SELECT updated_at,       test_id FROM questions WHERE updated_at >= %(range_start)s AND updated_at < %(range_end)s
), firsts AS (
    SELECT session_id, min(ts) AS ts FROM (
        SELECT session_id,
               least(CASE WHEN started_at >= %(range_start)s AND started_at < %(range_end)s THEN started_at END,
                     CASE WHEN updated_at >= %(range_start)s AND updated_at < %(range_end)s THEN updated_at END) AS ts
          FROM sessions
         WHERE started_at >= %(range_start)s AND started_at < %(range_end)s
            OR updated_at >= %(range_start)s AND updated_at < %(range_end)s
        UNION ALL
        SELECT session_id,
               least(CASE WHEN answered_at >= %(range_start)s AND answered_at < %(range_end)s THEN answered_at END,
                     CASE WHEN updated_at >= %(range_start)s AND updated_at < %(range_end)s THEN updated_at END)
          FROM answers
         WHERE answered_at >= %(range_start)s AND answered_at < %(range_end)s
            OR updated_at >= %(range_start)s AND updated_at < %(range_end)s
        UNION ALL
        SELECT session_id,
               least(CASE WHEN submitted_at >= %(range_start)s AND submitted_at < %(range_end)s THEN submitted_at END,
                     CASE WHEN updated_at >= %(range_start)s AND updated_at < %(range_end)s THEN updated_at END)
          FROM submissions
         WHERE submitted_at >= %(range_start)s AND submitted_at < %(range_end)s
            OR updated_at >= %(range_start)s AND updated_at < %(range_end)s
        UNION ALL
        SELECT s.session_id, r.ts FROM regraded r JOIN sessions s USING (test_id)
    ) t GROUP BY session_id
), work AS (
    SELECT date_trunc('hour', f.ts AT TIME ZONE 'UTC') AS hour_utc, count(*) AS n
      FROM firsts f JOIN answers a USING (session_id)
     GROUP BY 1
)
SELECT h AT TIME ZONE 'UTC' AS hour_start, coalesce(w.n, 0)::bigint AS affected_answers
  FROM generate_series(date_trunc('hour', %(range_start)s AT TIME ZONE 'UTC'),
                       (%(range_end)s AT TIME ZONE 'UTC') - interval '1 microsecond', interval '1 hour') h
  LEFT JOIN work w ON w.hour_utc = h
 ORDER BY 1

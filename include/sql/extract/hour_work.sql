-- The work of each UTC hour of [%(range_start)s, %(range_end)s): every hour in which any source row was
-- written or any event happened, with the answer rows of the sessions that hour affects (the affected
-- sessions of extract/affected_sessions.sql, hour by hour; an hour with only a regrade of a test without
-- sessions counts 0). The range planner (mcq_analytics.planning) cuts ranges into windows by these counts,
-- and MCQ_ENGINE=auto sums them over a window's change scan: one definition of "affected answers".
WITH touched AS (
    SELECT updated_at AS ts, session_id FROM sessions    WHERE updated_at   >= %(range_start)s AND updated_at   < %(range_end)s
    UNION ALL
    SELECT started_at,       session_id FROM sessions    WHERE started_at   >= %(range_start)s AND started_at   < %(range_end)s
    UNION ALL
    SELECT updated_at,       session_id FROM answers     WHERE updated_at   >= %(range_start)s AND updated_at   < %(range_end)s
    UNION ALL
    SELECT answered_at,      session_id FROM answers     WHERE answered_at  >= %(range_start)s AND answered_at  < %(range_end)s
    UNION ALL
    SELECT updated_at,       session_id FROM submissions WHERE updated_at   >= %(range_start)s AND updated_at   < %(range_end)s
    UNION ALL
    SELECT submitted_at,     session_id FROM submissions WHERE submitted_at >= %(range_start)s AND submitted_at < %(range_end)s
), regraded AS (  -- a test, or a question of it, changed: every session of the test is affected
    SELECT updated_at AS ts, test_id FROM tests     WHERE updated_at >= %(range_start)s AND updated_at < %(range_end)s
    UNION ALL
    SELECT updated_at,       test_id FROM questions WHERE updated_at >= %(range_start)s AND updated_at < %(range_end)s
), pairs AS (
    SELECT date_trunc('hour', ts AT TIME ZONE 'UTC') AS hour_utc, session_id FROM touched
    UNION
    SELECT date_trunc('hour', r.ts AT TIME ZONE 'UTC'), s.session_id FROM regraded r JOIN sessions s USING (test_id)
), hours AS (
    SELECT hour_utc FROM pairs
    UNION
    SELECT date_trunc('hour', ts AT TIME ZONE 'UTC') FROM regraded
), answer_rows AS (
    SELECT session_id, count(*) AS n FROM answers WHERE session_id IN (SELECT session_id FROM pairs) GROUP BY session_id
)
SELECT h.hour_utc AT TIME ZONE 'UTC' AS hour_start, coalesce(sum(c.n), 0)::bigint AS affected_answers
  FROM hours h
  LEFT JOIN pairs p USING (hour_utc)
  LEFT JOIN answer_rows c USING (session_id)
 GROUP BY h.hour_utc
 ORDER BY 1

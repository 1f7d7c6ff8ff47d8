-- Every session sharing a (test_id, UTC start hour) cohort bucket with an affected session: the
-- test-level facts recompute each touched bucket completely. Reads the temp table etl_affected.
SELECT s.session_id
  FROM (SELECT DISTINCT s2.test_id, date_trunc('hour', s2.started_at AT TIME ZONE 'UTC') AS hour_utc
          FROM sessions s2
          JOIN etl_affected a ON a.session_id = s2.session_id) b
  JOIN sessions s
    ON s.test_id = b.test_id
   AND s.started_at >= (b.hour_utc AT TIME ZONE 'UTC')
   AND s.started_at < ((b.hour_utc + interval '1 hour') AT TIME ZONE 'UTC')

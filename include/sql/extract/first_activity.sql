-- The earliest source activity: where a pipeline without a watermark starts catching up. Only times
-- inside the contract's event-time range [2000-01-01, 2100-01-01) UTC count (section 2): a '-infinity' or
-- an ancient time never falls into a window, so it must not pull the first window back to it.
SELECT min(ts) FROM (
    SELECT min(updated_at) AS ts FROM sessions WHERE updated_at >= '2000-01-01 00:00+00'
    UNION ALL SELECT min(started_at) FROM sessions WHERE started_at >= '2000-01-01 00:00+00'
    UNION ALL SELECT min(updated_at) FROM answers WHERE updated_at >= '2000-01-01 00:00+00'
    UNION ALL SELECT min(answered_at) FROM answers WHERE answered_at >= '2000-01-01 00:00+00'
    UNION ALL SELECT min(updated_at) FROM submissions WHERE updated_at >= '2000-01-01 00:00+00'
    UNION ALL SELECT min(submitted_at) FROM submissions WHERE submitted_at >= '2000-01-01 00:00+00'
    UNION ALL SELECT min(updated_at) FROM tests WHERE updated_at >= '2000-01-01 00:00+00'
    UNION ALL SELECT min(updated_at) FROM questions WHERE updated_at >= '2000-01-01 00:00+00'
) firsts
 WHERE ts < '2100-01-01 00:00+00'

-- UTC hours in [%(range_start)s, %(range_end)s) in which any source row was written or any event
-- happened: catch-up runs these hour by hour and merges the quiet stretches between them into one window.
SELECT DISTINCT date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour_start
  FROM (SELECT updated_at AS ts FROM sessions    WHERE updated_at   >= %(range_start)s AND updated_at   < %(range_end)s
        UNION ALL
        SELECT started_at      FROM sessions    WHERE started_at   >= %(range_start)s AND started_at   < %(range_end)s
        UNION ALL
        SELECT updated_at      FROM answers     WHERE updated_at   >= %(range_start)s AND updated_at   < %(range_end)s
        UNION ALL
        SELECT answered_at     FROM answers     WHERE answered_at  >= %(range_start)s AND answered_at  < %(range_end)s
        UNION ALL
        SELECT updated_at      FROM submissions WHERE updated_at   >= %(range_start)s AND updated_at   < %(range_end)s
        UNION ALL
        SELECT submitted_at    FROM submissions WHERE submitted_at >= %(range_start)s AND submitted_at < %(range_end)s
        UNION ALL
        SELECT updated_at      FROM tests       WHERE updated_at   >= %(range_start)s AND updated_at   < %(range_end)s
        UNION ALL
        SELECT updated_at      FROM questions   WHERE updated_at   >= %(range_start)s AND updated_at   < %(range_end)s
       ) activity
 ORDER BY 1

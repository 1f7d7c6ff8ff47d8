-- run_etl.py items: each test's reliability over [%(range_start)s, %(range_end)s) (all tests, or one).
SELECT test_id, attempts, items, round(mean_pct::numeric, 1) AS mean_pct, round(sd_pct::numeric, 1) AS sd_pct,
       round(cronbach_alpha::numeric, 3) AS cronbach_alpha, round(sem_points::numeric, 2) AS sem_points,
       array_to_string(flags, ', ') AS flags
  FROM analytics.test_reliability(%(range_start)s, %(range_end)s, %(min_attempts)s)
 WHERE %(test_id)s::bigint IS NULL OR test_id = %(test_id)s
 ORDER BY test_id

-- One test's reliability over the range (analytics.test_reliability is inlined, so test_id reaches the
-- item_statistics_fact primary key). Needs the item-analysis facts.
SELECT test_id, attempts, items, mean_pct, sd_pct, cronbach_alpha, sem_points, flags
  FROM analytics.test_reliability(%(start)s, %(end)s, %(min_attempts)s)
 WHERE test_id = %(test_id)s

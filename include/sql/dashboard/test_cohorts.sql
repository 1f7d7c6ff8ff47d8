-- One test's cohorts over time (primary key range scan on (test_id, hour_start)).
SELECT hour_start, sessions_started, submissions, passed, pass_rate,
       avg_score_pct, median_score_pct, min_score_pct, max_score_pct, avg_duration_seconds
  FROM analytics.test_summary_fact
 WHERE test_id = %(test_id)s AND hour_start >= %(start)s AND hour_start < %(end)s
 ORDER BY hour_start

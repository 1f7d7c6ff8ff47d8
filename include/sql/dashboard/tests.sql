-- The tests with sessions in the range, busiest first: the test filter's choices (tsf_hour_idx range scan).
SELECT test_id, sum(sessions_started)::bigint AS sessions
  FROM analytics.test_summary_fact
 WHERE hour_start >= %(start)s AND hour_start < %(end)s
 GROUP BY test_id
 ORDER BY sessions DESC, test_id

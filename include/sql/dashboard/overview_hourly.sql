-- Sessions and pass rate per cohort hour for a range, optionally one test.
SELECT hour_start,
       sum(sessions_started)::bigint AS sessions,
       sum(submissions)::bigint      AS submissions,
       sum(passed)::float8 / nullif(sum(submissions), 0)::float8 AS pass_rate
  FROM analytics.test_summary_fact
 WHERE hour_start >= %(start)s AND hour_start < %(end)s
   AND (%(test_id)s::bigint IS NULL OR test_id = %(test_id)s::bigint)
 GROUP BY hour_start
 ORDER BY hour_start

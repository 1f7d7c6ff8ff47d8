-- Demo summary: one line per cohort hour over all tests.
SELECT to_char(hour_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:00') AS hour_utc,
       count(*) AS tests,
       sum(sessions_started) AS sessions,
       sum(submissions) AS submitted,
       round((sum(avg_score_pct * submissions) / nullif(sum(submissions), 0))::numeric, 1) AS avg_score_pct,
       round((100.0 * sum(passed) / nullif(sum(submissions), 0))::numeric, 1) AS pass_rate_pct,
       round((sum(avg_duration_seconds * submissions) / nullif(sum(submissions), 0) / 60)::numeric, 1)
           AS approx_avg_minutes
  FROM analytics.test_summary_fact
 GROUP BY hour_start
 ORDER BY hour_start

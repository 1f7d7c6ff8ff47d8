-- Demo summary: the funnel over all tests and hours, and where sessions drop off most.
SELECT 'started → engaged → submitted → passed' AS measure,
       sum(started) || ' → ' || sum(engaged) || ' → ' || sum(submitted) || ' → ' || sum(passed) AS value
  FROM analytics.test_funnel_fact
UNION ALL SELECT 'rates of started',
       round(100.0 * sum(engaged) / nullif(sum(started), 0), 1) || ' % → '
       || round(100.0 * sum(submitted) / nullif(sum(started), 0), 1) || ' % → '
       || round(100.0 * sum(passed) / nullif(sum(started), 0), 1) || ' %'
  FROM analytics.test_funnel_fact
UNION ALL SELECT 'completed every question', sum(completed) || ' ('
       || round(100.0 * sum(completed) / nullif(sum(started), 0), 1) || ' %)'
  FROM analytics.test_funnel_fact
UNION ALL SELECT 'buckets by drop-off stage', string_agg(stage || ': ' || n, ', ' ORDER BY n DESC, stage)
  FROM (SELECT coalesce(drop_off_stage, 'none') AS stage, count(*) AS n
          FROM analytics.test_funnel_fact GROUP BY 1) s

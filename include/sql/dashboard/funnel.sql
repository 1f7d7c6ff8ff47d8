-- The funnel started → engaged → submitted → passed summed over a range, optionally one test; completion
-- (completed / started) and the most common drop-off stage of the range's cohorts (ties: the earliest stage).
WITH f AS (
    SELECT started, engaged, submitted, passed, completed, drop_off_stage
      FROM analytics.test_funnel_fact
     WHERE hour_start >= %(start)s AND hour_start < %(end)s
       AND (%(test_id)s::bigint IS NULL OR test_id = %(test_id)s::bigint)
)
SELECT coalesce(sum(started), 0)::bigint   AS started,
       coalesce(sum(engaged), 0)::bigint   AS engaged,
       coalesce(sum(submitted), 0)::bigint AS submitted,
       coalesce(sum(passed), 0)::bigint    AS passed,
       coalesce(sum(completed), 0)::bigint AS completed,
       sum(completed)::float8 / nullif(sum(started), 0)::float8 AS completion_rate,
       (SELECT drop_off_stage
          FROM f
         WHERE drop_off_stage IS NOT NULL
         GROUP BY drop_off_stage
         ORDER BY count(*) DESC, array_position(ARRAY['engaged', 'submitted', 'passed'], drop_off_stage)
         LIMIT 1) AS top_drop_off_stage
  FROM f

-- Overview headline figures for a range, optionally one test. Students are summed over (test, hour)
-- cohorts: a student in two cohorts counts twice (the facts hold distinct students per cohort only).
-- Pass rate = passed / submissions, as test_summary_fact.pass_rate (docs/data_contract.md section 4).
SELECT coalesce(sum(sessions_started), 0)::bigint AS sessions,
       coalesce(sum(students), 0)::bigint         AS students,
       coalesce(sum(submissions), 0)::bigint      AS submissions,
       coalesce(sum(passed), 0)::bigint           AS passed,
       sum(passed)::float8 / nullif(sum(submissions), 0)::float8 AS pass_rate
  FROM analytics.test_summary_fact
 WHERE hour_start >= %(start)s AND hour_start < %(end)s
   AND (%(test_id)s::bigint IS NULL OR test_id = %(test_id)s::bigint)

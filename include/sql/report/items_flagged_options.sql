-- run_etl.py items (no --test) and the demo: the answer options that attract strong students (a likely wrong
-- key or an ambiguous question) over [%(range_start)s, %(range_end)s); non-functional distractors are listed
-- per test (run_etl.py items --test N).
SELECT test_id, question_id, option, CASE WHEN is_key THEN 'key' ELSE '' END AS key, chosen,
       round(share::numeric, 3) AS share, round(point_biserial::numeric, 3) AS point_biserial,
       array_to_string(flags, ', ') AS flags
  FROM analytics.option_analysis(%(range_start)s, %(range_end)s, %(min_attempts)s)
 WHERE 'attracts_strong_students' = ANY(flags)
 ORDER BY test_id, question_id, option

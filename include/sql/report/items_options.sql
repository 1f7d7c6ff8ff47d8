-- run_etl.py items --test N: the options of the test's questions over [%(range_start)s, %(range_end)s)
-- (option 0 = no final answer), for the questions any flag names.
SELECT question_id, option, CASE WHEN is_key THEN 'key' ELSE '' END AS key, chosen,
       round(share::numeric, 3) AS share, round(mean_total_pct::numeric, 1) AS mean_total_pct,
       round(point_biserial::numeric, 3) AS point_biserial, array_to_string(flags, ', ') AS flags
  FROM analytics.option_analysis(%(range_start)s, %(range_end)s, %(min_attempts)s)
 WHERE test_id = %(test_id)s AND question_id = ANY(%(question_ids)s)
 ORDER BY question_id, option

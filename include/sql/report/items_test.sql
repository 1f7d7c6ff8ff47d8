-- run_etl.py items --test N: the item analysis of one test over [%(range_start)s, %(range_end)s).
SELECT question_id, attempts, answered, correct,
       round(facility::numeric, 3) AS facility,
       round(discrimination_index::numeric, 3) AS discrimination,
       round(point_biserial::numeric, 3) AS point_biserial,
       array_to_string(flags, ', ') AS flags
  FROM analytics.item_analysis(%(range_start)s, %(range_end)s, %(min_attempts)s)
 WHERE test_id = %(test_id)s
 ORDER BY question_id

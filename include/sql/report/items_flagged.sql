-- run_etl.py items (no --test) and the demo: every flagged question over [%(range_start)s, %(range_end)s).
SELECT test_id, question_id, attempts, round(facility::numeric, 3) AS facility,
       round(discrimination_index::numeric, 3) AS discrimination, array_to_string(flags, ', ') AS flags
  FROM analytics.item_analysis(%(range_start)s, %(range_end)s, %(min_attempts)s)
 WHERE cardinality(flags) > 0
 ORDER BY test_id, question_id

-- The item-analysis table of one test over the range, with flags (docs/item_analysis.md).
SELECT question_id, attempts, answered, correct, facility, sd_fraction, discrimination_index,
       point_biserial, flags
  FROM analytics.item_analysis(%(start)s, %(end)s, %(min_attempts)s)
 WHERE test_id = %(test_id)s
 ORDER BY question_id

-- The distractor analysis of one question: share per option, the key, the mean total score (percent) of each
-- option's choosers (option 0 = left unanswered).
SELECT option, is_key, attempts, chosen, share, mean_total_pct, point_biserial, flags
  FROM analytics.option_analysis(%(start)s, %(end)s, %(min_attempts)s)
 WHERE test_id = %(test_id)s AND question_id = %(question_id)s
 ORDER BY option

-- The notices still owed: new flags not yet announced, and resolved flags whose resolution is not announced.
SELECT review_id, test_id, question_id, option, flag, attempts, facility, discrimination_index, point_biserial,
       share, range_start, range_end, resolved_at IS NOT NULL AS resolved
  FROM analytics.item_review
 WHERE (resolved_at IS NULL AND announced_at IS NULL)
    OR (resolved_at IS NOT NULL AND announced_at IS NOT NULL AND resolution_announced_at IS NULL)
 ORDER BY test_id, question_id, option NULLS FIRST, flag, review_id

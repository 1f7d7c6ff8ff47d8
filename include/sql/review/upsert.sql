-- The flags of the review range (mcq_analytics.item_review): insert each new one, refresh the figures and
-- last_seen_at of each still open. Every row this statement touches gets last_seen_at = now() (the
-- transaction's time), which resolve.sql uses to find the flags that no longer hold.
WITH flagged AS (
    SELECT i.test_id, i.question_id, NULL::smallint AS option, f.flag, i.attempts, i.facility,
           i.discrimination_index, i.point_biserial, NULL::double precision AS share
      FROM analytics.item_analysis(%(range_start)s, %(range_end)s, %(min_attempts)s) AS i
     CROSS JOIN LATERAL unnest(i.flags) AS f(flag)
    UNION ALL
    SELECT o.test_id, o.question_id, o.option, f.flag, o.attempts, NULL, NULL, o.point_biserial, o.share
      FROM analytics.option_analysis(%(range_start)s, %(range_end)s, %(min_attempts)s) AS o
     CROSS JOIN LATERAL unnest(o.flags) AS f(flag)
)
INSERT INTO analytics.item_review AS r (test_id, question_id, option, flag, attempts, facility, discrimination_index,
                                        point_biserial, share, range_start, range_end, first_flagged_at, last_seen_at)
SELECT test_id, question_id, option, flag, attempts, facility, discrimination_index, point_biserial, share,
       %(range_start)s, %(range_end)s, now(), now()
  FROM flagged
ON CONFLICT (test_id, question_id, (COALESCE(option, -1)), flag) WHERE resolved_at IS NULL
DO UPDATE SET attempts = EXCLUDED.attempts, facility = EXCLUDED.facility,
              discrimination_index = EXCLUDED.discrimination_index, point_biserial = EXCLUDED.point_biserial,
              share = EXCLUDED.share, range_start = EXCLUDED.range_start, range_end = EXCLUDED.range_end,
              last_seen_at = EXCLUDED.last_seen_at

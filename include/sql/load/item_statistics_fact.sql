-- Swap in the item statistics of one window: {keys}(test_id, hour_start_us) lists every bucket an affected
-- session falls in; each is replaced as a whole (every question of it) by the rows staged in {stage}.
-- The sums of squares and products are staged as NUMERIC (exact digits, never float8).
DELETE FROM analytics.item_statistics_fact f
 USING {keys} k
 WHERE f.test_id = k.test_id AND f.hour_start = analytics.ts_from_us(k.hour_start_us);

INSERT INTO analytics.item_statistics_fact
       (test_id, hour_start, question_id, attempts, answered, correct, max_points_cents, sum_score,
        sum_score_sq, sum_total, sum_total_sq, sum_score_total, etl_run_id, etl_loaded_at)
SELECT test_id, analytics.ts_from_us(hour_start_us), question_id, attempts, answered, correct,
       max_points_cents, sum_score, sum_score_sq, sum_total, sum_total_sq, sum_score_total, %(run_id)s, now()
  FROM {stage};

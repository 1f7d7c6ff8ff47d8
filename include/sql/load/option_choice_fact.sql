-- Swap in the option choices of one window: {keys}(test_id, hour_start_us) lists every bucket an affected
-- session falls in; each is replaced as a whole (every option of every question) by the rows in {stage}.
DELETE FROM analytics.option_choice_fact f
 USING {keys} k
 WHERE f.test_id = k.test_id AND f.hour_start = analytics.ts_from_us(k.hour_start_us);

INSERT INTO analytics.option_choice_fact
       (test_id, hour_start, question_id, option, is_key, attempts, chosen, sum_total, sum_total_sq,
        etl_run_id, etl_loaded_at)
SELECT test_id, analytics.ts_from_us(hour_start_us), question_id, option, is_key, attempts, chosen,
       sum_total, sum_total_sq, %(run_id)s, now()
  FROM {stage};

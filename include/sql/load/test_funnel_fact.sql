-- Swap in the funnel buckets of one window: {keys}(test_id, hour_start_us) lists every bucket an
-- affected session falls in; each is replaced as a whole by the rows staged in {stage}.
DELETE FROM analytics.test_funnel_fact f
 USING {keys} k
 WHERE f.test_id = k.test_id AND f.hour_start = analytics.ts_from_us(k.hour_start_us);

INSERT INTO analytics.test_funnel_fact
       (test_id, hour_start, started, engaged, submitted, passed, completed, engaged_rate,
        submitted_rate, passed_rate, completed_rate, drop_off_stage, etl_run_id, etl_loaded_at)
SELECT test_id, analytics.ts_from_us(hour_start_us), started, engaged, submitted, passed, completed,
       engaged_rate, submitted_rate, passed_rate, completed_rate, drop_off_stage, %(run_id)s, now()
  FROM {stage};

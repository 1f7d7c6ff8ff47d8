-- Swap in the cohort buckets of one window: {keys}(test_id, hour_start_us) lists every bucket an
-- affected session falls in; each is replaced as a whole by the rows staged in {stage}.
DELETE FROM analytics.test_summary_fact f
 USING {keys} k
 WHERE f.test_id = k.test_id AND f.hour_start = analytics.ts_from_us(k.hour_start_us);

INSERT INTO analytics.test_summary_fact
       (test_id, hour_start, sessions_started, students, submissions, avg_score_pct, median_score_pct,
        min_score_pct, max_score_pct, passed, pass_rate, avg_duration_seconds, avg_questions_answered,
        etl_run_id, etl_loaded_at)
SELECT test_id, analytics.ts_from_us(hour_start_us), sessions_started, students, submissions,
       avg_score_pct, median_score_pct, min_score_pct, max_score_pct, passed, pass_rate,
       avg_duration_seconds, avg_questions_answered, %(run_id)s, now()
  FROM {stage};

-- test_summary_fact (docs/data_contract.md section 4): every affected (test_id, hour_start) bucket,
-- recomputed completely from ref_cohort (buckets.sql). {schema}, {run_id} as in the other files.
--
-- Decisions:
-- * submissions, the score statistics, passed and pass_rate are over ALL sessions of the bucket with a
--   valid submission, engaged or not (the contract's text "submissions = sessions with a submission");
--   only the funnel restricts submitted/passed to engaged sessions.
-- * Averages are computed exactly (NUMERIC sums of NUMERIC score_pct, durations and counts) and rounded
--   to DOUBLE PRECISION once, so the reference is bit-for-bit the same whatever order rows arrive in
--   (a float sum is not: windows in another order would differ in the last bit). Engines agree to 1e-9.
-- * median_score_pct = percentile_cont(0.5) over score_pct as double precision (order-independent).
-- * avg_duration_seconds over submitted sessions whose duration is >= 0 (0 included), NULL when none.
-- * avg_questions_answered over all sessions of the bucket, 0 for a session without valid answers.
-- * A bucket left with no valid session loses its row (DELETE without re-INSERT).
DELETE FROM {schema}.test_summary_fact AS f
 USING ref_buckets AS b
 WHERE f.test_id = b.test_id AND f.hour_start = b.hour_start;

INSERT INTO {schema}.test_summary_fact (
    test_id, hour_start, sessions_started, students, submissions, avg_score_pct, median_score_pct,
    min_score_pct, max_score_pct, passed, pass_rate, avg_duration_seconds, avg_questions_answered,
    etl_run_id)
SELECT test_id, hour_start,
       count(*),
       count(DISTINCT student_id),
       count(*) FILTER (WHERE submitted),
       avg(score_pct)::double precision,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY score_pct::double precision),
       min(score_pct)::double precision,
       max(score_pct)::double precision,
       count(*) FILTER (WHERE passed),
       count(*) FILTER (WHERE passed)::double precision / NULLIF(count(*) FILTER (WHERE submitted), 0),
       (avg(duration_seconds) FILTER (WHERE duration_seconds >= 0))::double precision,
       avg(questions_answered)::double precision,
       {run_id}
  FROM ref_cohort
 GROUP BY test_id, hour_start;

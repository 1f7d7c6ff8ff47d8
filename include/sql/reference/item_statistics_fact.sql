-- item_statistics_fact (docs/data_contract.md section 6): every recomputed (test_id, hour_start) bucket,
-- one row per current question of the test, from ref_item_scores (item_scores.sql). {schema}, {run_id} as
-- in the other files.
--
-- Decisions:
-- * Sums are exact: x, X and m are integers (hundredths); the squares and products are summed as NUMERIC.
-- * A bucket without scored attempts (or a test without questions) has no rows; its old rows are deleted.
DELETE FROM {schema}.item_statistics_fact AS f
 USING ref_buckets AS b
 WHERE f.test_id = b.test_id AND f.hour_start = b.hour_start;

INSERT INTO {schema}.item_statistics_fact (
    test_id, hour_start, question_id, attempts, answered, correct, max_points_cents, sum_score, sum_score_sq,
    sum_total, sum_total_sq, sum_score_total, etl_run_id)
SELECT test_id, hour_start, question_id,
       count(*),
       count(final_option),
       count(*) FILTER (WHERE is_correct),
       max(m),
       sum(x),
       sum(x::numeric * x),
       sum(total),
       sum(total::numeric * total),
       sum(x::numeric * total),
       {run_id}
  FROM ref_item_scores
 GROUP BY test_id, hour_start, question_id;

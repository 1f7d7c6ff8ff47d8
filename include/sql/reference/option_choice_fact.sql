-- option_choice_fact (docs/data_contract.md section 6): every recomputed (test_id, hour_start) bucket, one
-- row per current question and option 0..option_count, from ref_item_scores (item_scores.sql).
--
-- Decisions:
-- * option 0 = no final answer (never answered, or the latest valid answer cleared it); every option of
--   the question has a row, chosen or not (chosen 0, sums 0).
-- * is_key = the option is the question's current correct_option; attempts = the bucket's scored attempts,
--   so Σchosen = attempts per question and bucket.
DELETE FROM {schema}.option_choice_fact AS f
 USING ref_buckets AS b
 WHERE f.test_id = b.test_id AND f.hour_start = b.hour_start;

INSERT INTO {schema}.option_choice_fact (
    test_id, hour_start, question_id, option, is_key, attempts, chosen, sum_total, sum_total_sq, etl_run_id)
SELECT qb.test_id, qb.hour_start, qb.question_id, o.option, o.option = qb.correct_option, qb.attempts,
       count(s.session_id),
       COALESCE(sum(s.total), 0),
       COALESCE(sum(s.total::numeric * s.total), 0),
       {run_id}
  FROM (SELECT test_id, hour_start, question_id, option_count, correct_option, count(*) AS attempts
          FROM ref_item_scores
         GROUP BY test_id, hour_start, question_id, option_count, correct_option) AS qb
 CROSS JOIN LATERAL generate_series(0, qb.option_count) AS o(option)
  LEFT JOIN ref_item_scores AS s
    ON s.test_id = qb.test_id AND s.hour_start = qb.hour_start AND s.question_id = qb.question_id
   AND COALESCE(s.final_option, 0) = o.option
 GROUP BY qb.test_id, qb.hour_start, qb.question_id, o.option, qb.correct_option, qb.attempts;

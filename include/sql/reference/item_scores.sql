-- The item scores of every scored attempt in the buckets being recomputed, shared by
-- item_statistics_fact.sql and option_choice_fact.sql (docs/data_contract.md section 6).
-- Input: ref_buckets and ref_cohort (buckets.sql), the reference question_interaction_fact as brought up to
-- date in this run. Output: temp table ref_item_scores, one row per (scored attempt, current question).
--
-- Decisions:
-- * A scored attempt is a session of the bucket with a valid submission (ref_cohort.submitted: its latest
--   valid one exists), scored on every CURRENT question of its test (questions.test_id), answered or not.
-- * x = points × 100 (integer hundredths) when the final answer is correct under the current key (the
--   fact's is_correct), else 0; m = points × 100; the final option is the fact's final_option, NULL when
--   the attempt has no valid answer to the question (option 0 in option_choice_fact).
-- * X = Σx over the attempt's questions: the pipeline's own score, not submissions.score.
CREATE TEMP TABLE ref_item_scores ON COMMIT DROP AS
SELECT per_question.*, sum(per_question.x) OVER (PARTITION BY per_question.session_id) AS total
  FROM (SELECT c.test_id, c.hour_start, c.session_id, q.question_id, q.option_count, q.correct_option,
               (q.points * 100)::bigint AS m,
               f.final_option,
               COALESCE(f.is_correct, false) AS is_correct,
               CASE WHEN f.is_correct THEN (q.points * 100)::bigint ELSE 0 END AS x
          FROM ref_cohort AS c
          JOIN questions AS q ON q.test_id = c.test_id
          LEFT JOIN {schema}.question_interaction_fact AS f
            ON f.session_id = c.session_id AND f.question_id = q.question_id
         WHERE c.submitted
           -- an unusable question (invalid_question, contract section 2) is not scored
           AND NOT (q.points = 'NaN' OR abs(q.points::float8) = 'Infinity' OR q.points < 0
                    OR q.correct_option < 1 OR q.correct_option > q.option_count)) AS per_question;
ANALYZE ref_item_scores;

-- question_interaction_fact (docs/data_contract.md section 4) for the affected sessions, each from its
-- complete answer history. Input: temp tables reference_scope and ref_answers (rejects.sql).
-- {schema} is the reference schema, {run_id} the etl_run_id literal.
--
-- Decisions:
-- * Only valid answer rows count, for every column (events, changes, first/last, final_option, time).
-- * final_option is the selected_option of the latest valid row by (answered_at, answer_id); a clear
--   (NULL) as the latest row gives final_option NULL, is_correct false and points_awarded 0.
-- * correct_option and points are the question's current values (a regrade applies to all history).
-- * time_spent_ms NULL or negative counts as 0.
DELETE FROM {schema}.question_interaction_fact AS f
 USING reference_scope AS sc
 WHERE f.session_id = sc.session_id;

INSERT INTO {schema}.question_interaction_fact (
    session_id, question_id, test_id, student_id, first_answered_at, last_answered_at, hour_start,
    answer_events, answer_changes, final_option, is_correct, points_awarded, time_spent_ms, etl_run_id)
SELECT session_id, question_id, test_id, student_id, first_answered_at, last_answered_at,
       date_trunc('hour', last_answered_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
       answer_events, answer_events - 1, final_option,
       COALESCE(final_option = correct_option, false),
       CASE WHEN final_option = correct_option THEN points ELSE 0 END,
       time_spent_ms, {run_id}
  FROM (SELECT session_id, question_id, test_id, student_id, correct_option, points,
               min(answered_at) AS first_answered_at,
               max(answered_at) AS last_answered_at,
               count(*) AS answer_events,
               (array_agg(selected_option ORDER BY answered_at DESC, answer_id DESC))[1] AS final_option,
               sum(time_spent_ms) AS time_spent_ms
          FROM ref_answers
         WHERE reason IS NULL
         GROUP BY session_id, question_id, test_id, student_id, correct_option, points) AS per_question;

-- Swap in the question facts of one window, inside the loader's transaction (after its advisory lock):
-- every fact row of an affected session goes, the freshly computed rows of those sessions come in.
-- {keys}(session_id) holds the affected sessions; {stage} the computed rows (timestamps as epoch µs).
DELETE FROM analytics.question_interaction_fact f
 USING {keys} k
 WHERE f.session_id = k.session_id;

INSERT INTO analytics.question_interaction_fact
       (session_id, question_id, test_id, student_id, first_answered_at, last_answered_at, hour_start,
        answer_events, answer_changes, final_option, is_correct, points_awarded, time_spent_ms,
        etl_run_id, etl_loaded_at)
SELECT session_id, question_id, test_id, student_id,
       analytics.ts_from_us(first_answered_us), analytics.ts_from_us(last_answered_us),
       analytics.ts_from_us(hour_start_us), answer_events, answer_changes, final_option, is_correct,
       points_awarded, time_spent_ms, %(run_id)s, now()
  FROM {stage};

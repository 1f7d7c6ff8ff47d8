-- Swap in the question facts of one window, inside the loader's transaction (after its advisory lock):
-- every fact row of an affected session goes, the freshly computed rows of those sessions come in.
-- {keys}(session_id) holds the affected sessions; {stage} the computed rows (timestamps as epoch µs).
DELETE FROM analytics.question_interaction_fact f
 USING {keys} k
 WHERE f.session_id = k.session_id;

-- The µs → timestamptz conversion is analytics.ts_from_us written out: PostgreSQL does not inline that
-- function (declared IMMUTABLE, its body is only STABLE), and calling it costs ~2 µs per value, 3 values a
-- row: 5-7 s of a 1M-answer window (docs/performance.md). Same arithmetic, so the same timestamps
-- (%% is the modulo operator escaped for the bound parameters).
INSERT INTO analytics.question_interaction_fact
       (session_id, question_id, test_id, student_id, first_answered_at, last_answered_at, hour_start,
        answer_events, answer_changes, final_option, is_correct, points_awarded, time_spent_ms,
        etl_run_id, etl_loaded_at)
SELECT session_id, question_id, test_id, student_id,
       timestamptz 'epoch' + (first_answered_us / 1000000) * interval '1 second'
                           + (first_answered_us %% 1000000) * interval '1 microsecond',
       timestamptz 'epoch' + (last_answered_us / 1000000) * interval '1 second'
                           + (last_answered_us %% 1000000) * interval '1 microsecond',
       timestamptz 'epoch' + (hour_start_us / 1000000) * interval '1 second'
                           + (hour_start_us %% 1000000) * interval '1 microsecond',
       answer_events, answer_changes, final_option, is_correct, points_awarded, time_spent_ms,
       %(run_id)s, now()
  FROM {stage};

-- The complete answer history of every session id in scope.
SELECT a.answer_id, a.session_id, a.question_id, a.selected_option,
       (extract(epoch FROM a.answered_at) * 1000000)::bigint AS answered_us,
       a.time_spent_ms
  FROM answers a
  JOIN etl_scope USING (session_id)

-- The complete answer history of every session id in scope.
-- The scope placeholder (filled by paths.read_extract) restricts the rows to the window's scope: the
-- Pandas engine joins its etl_scope temp table, each Spark JDBC partition adds its own session_id predicate.
SELECT a.answer_id, a.session_id, a.question_id, a.selected_option,
       (extract(epoch FROM a.answered_at) * 1000000)::bigint AS answered_us,
       a.time_spent_ms
  FROM answers a
  {scope}

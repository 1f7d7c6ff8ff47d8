-- The complete answer history of every session id in scope.
-- The scope placeholder (filled by paths.read_extract) restricts the rows to the window's scope: the
-- Pandas engine joins its etl_scope temp table, each Spark JDBC partition adds its own session_id predicate.
-- Timestamps outside [2000-01-01, 2100-01-01) UTC (infinity included, which has no epoch) arrive as 0,
-- the epoch, itself outside the range: the engines reject the row as invalid_timestamp (contract section 2).
SELECT a.answer_id, a.session_id, a.question_id, a.selected_option,
       CASE WHEN a.answered_at >= '2000-01-01 00:00+00' AND a.answered_at < '2100-01-01 00:00+00'
            THEN (extract(epoch FROM a.answered_at) * 1000000)::bigint ELSE 0 END AS answered_us,
       a.time_spent_ms
  FROM answers a
  {scope}

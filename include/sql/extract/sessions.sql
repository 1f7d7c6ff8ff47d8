-- Sessions in scope; timestamps as epoch microseconds (exact, and fast to parse).
-- The scope placeholder (filled by paths.read_extract) restricts the rows to the window's scope: the
-- Pandas engine joins its etl_scope temp table, each Spark JDBC partition adds its own session_id predicate.
SELECT s.session_id, s.test_id, s.student_id,
       (extract(epoch FROM s.started_at) * 1000000)::bigint AS started_us
  FROM sessions s
  {scope}

-- Every submission of every session id in scope.
-- The scope placeholder (filled by paths.read_extract) restricts the rows to the window's scope: the
-- Pandas engine joins its etl_scope temp table, each Spark JDBC partition adds its own session_id predicate.
SELECT b.submission_id, b.session_id,
       (extract(epoch FROM b.submitted_at) * 1000000)::bigint AS submitted_us,
       b.score::float8 AS score, b.max_score::float8 AS max_score
  FROM submissions b
  {scope}

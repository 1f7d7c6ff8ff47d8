-- Every submission of every session id in scope.
-- The scope placeholder (filled by paths.read_extract) restricts the rows to the window's scope: the
-- Pandas engine joins its etl_scope temp table, each Spark JDBC partition adds its own session_id predicate.
-- Timestamps outside [2000-01-01, 2100-01-01) UTC (infinity included, which has no epoch) arrive as 0,
-- the epoch, itself outside the range: the engines reject the row as invalid_timestamp (contract section 2).
SELECT b.submission_id, b.session_id,
       CASE WHEN b.submitted_at >= '2000-01-01 00:00+00' AND b.submitted_at < '2100-01-01 00:00+00'
            THEN (extract(epoch FROM b.submitted_at) * 1000000)::bigint ELSE 0 END AS submitted_us,
       b.score::float8 AS score, b.max_score::float8 AS max_score
  FROM submissions b
  {scope}

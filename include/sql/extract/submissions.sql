-- Every submission of every session id in scope.
SELECT b.submission_id, b.session_id,
       (extract(epoch FROM b.submitted_at) * 1000000)::bigint AS submitted_us,
       b.score::float8 AS score, b.max_score::float8 AS max_score
  FROM submissions b
  JOIN etl_scope USING (session_id)

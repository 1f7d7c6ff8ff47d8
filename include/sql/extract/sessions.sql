-- Sessions in scope; timestamps as epoch microseconds (exact, and fast to parse).
SELECT s.session_id, s.test_id, s.student_id,
       (extract(epoch FROM s.started_at) * 1000000)::bigint AS started_us
  FROM sessions s
  JOIN etl_scope USING (session_id)

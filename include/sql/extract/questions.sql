-- Questions the answers in scope point at (whatever test they belong to, to tell question_not_in_test).
SELECT q.question_id, q.test_id, q.option_count, q.correct_option, q.points::float8 AS points
  FROM questions q
 WHERE q.question_id IN (SELECT a.question_id FROM answers a JOIN etl_scope USING (session_id))

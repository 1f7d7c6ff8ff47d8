-- Questions the answers in scope point at (whatever test they belong to, to tell question_not_in_test), and
-- every question of the tests in scope: item analysis scores a scored attempt on every current question of
-- its test, answered or not (contract section 6). The Spark job's twin of questions_by_id.sql.
SELECT q.question_id, q.test_id, q.option_count, q.correct_option, q.points::float8 AS points
  FROM questions q
 WHERE q.question_id IN (SELECT a.question_id FROM answers a JOIN etl_scope USING (session_id))
    OR q.test_id IN (SELECT s.test_id FROM sessions s JOIN etl_scope USING (session_id))

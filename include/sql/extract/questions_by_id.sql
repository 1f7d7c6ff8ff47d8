-- The Pandas engine's questions.sql: the same rows (the questions the answers in scope point at), looked
-- up by the question_ids parameter, the distinct question_id of the answers just extracted in the same
-- snapshot, instead of joining the scope's answers a second time (1.3 s of a 1.9M-row window, 0.06 s so).
-- The Spark job, which reads the answers on its executors, keeps questions.sql.
-- Also every question of the tests in scope (%(test_ids)s, the extracted sessions' tests): item analysis
-- scores a scored attempt on every current question of its test, answered or not (contract section 6).
SELECT q.question_id, q.test_id, q.option_count, q.correct_option, q.points::float8 AS points
  FROM questions q
 WHERE q.question_id = ANY(%(question_ids)s::bigint[])
    OR q.test_id = ANY(%(test_ids)s::bigint[])

-- Tests of the sessions in scope, with their number of questions (for "completed").
SELECT t.test_id, t.pass_score_pct::float8 AS pass_score_pct,
       (SELECT count(*) FROM questions q WHERE q.test_id = t.test_id) AS question_count
  FROM tests t
 WHERE t.test_id IN (SELECT s.test_id FROM sessions s JOIN etl_scope USING (session_id))

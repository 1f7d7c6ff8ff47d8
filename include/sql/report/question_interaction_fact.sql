-- Demo summary: the question facts at a glance, and the hardest and easiest questions (share correct).
WITH f AS (SELECT * FROM analytics.question_interaction_fact),
     per_question AS (SELECT question_id, avg(is_correct::int) AS correct, count(*) AS n
                        FROM f GROUP BY question_id HAVING count(*) >= 20)
SELECT measure, value FROM (
          SELECT 1 AS ord, 'rows' AS measure, to_char(count(*), 'FM999,999,999') AS value FROM f
UNION ALL SELECT 2, 'sessions', to_char(count(DISTINCT session_id), 'FM999,999,999') FROM f
UNION ALL SELECT 3, 'questions', to_char(count(DISTINCT question_id), 'FM999,999,999') FROM f
UNION ALL SELECT 4, 'answered correctly', round(100.0 * avg(is_correct::int), 1) || ' %' FROM f
UNION ALL SELECT 5, 'final answer cleared', round(100.0 * avg((final_option IS NULL)::int), 1) || ' %' FROM f
UNION ALL SELECT 6, 'answer changes per question', round(avg(answer_changes), 2)::text FROM f
UNION ALL SELECT 7, 'time per question', round(avg(time_spent_ms) / 1000.0, 1) || ' s' FROM f
UNION ALL SELECT 8, 'hardest question (≥ 20 answers)',
          (SELECT question_id || ': ' || round(100.0 * correct, 1) || ' % correct of ' || n
             FROM per_question ORDER BY correct, question_id LIMIT 1)
UNION ALL SELECT 9, 'easiest question (≥ 20 answers)',
          (SELECT question_id || ': ' || round(100.0 * correct, 1) || ' % correct of ' || n
             FROM per_question ORDER BY correct DESC, question_id LIMIT 1)
) summary
ORDER BY ord

-- Demo summary: the question facts at a glance, and the hardest questions (lowest share correct).
SELECT 'rows' AS measure, count(*)::text AS value FROM analytics.question_interaction_fact
UNION ALL SELECT 'sessions', count(DISTINCT session_id)::text FROM analytics.question_interaction_fact
UNION ALL SELECT 'questions', count(DISTINCT question_id)::text FROM analytics.question_interaction_fact
UNION ALL SELECT 'share answered correctly', round(100.0 * avg(is_correct::int), 1)::text || ' %'
            FROM analytics.question_interaction_fact
UNION ALL SELECT 'final answer cleared', round(100.0 * avg((final_option IS NULL)::int), 1)::text || ' %'
            FROM analytics.question_interaction_fact
UNION ALL SELECT 'avg answer changes', round(avg(answer_changes), 2)::text FROM analytics.question_interaction_fact
UNION ALL SELECT 'avg time per question', round(avg(time_spent_ms) / 1000.0, 1)::text || ' s'
            FROM analytics.question_interaction_fact
UNION ALL SELECT 'hardest question (≥ 20 answers)', (
    SELECT question_id || ': ' || round(100.0 * avg(is_correct::int), 1) || ' % correct of ' || count(*)
      FROM analytics.question_interaction_fact GROUP BY question_id HAVING count(*) >= 20
     ORDER BY avg(is_correct::int), question_id LIMIT 1)
UNION ALL SELECT 'easiest question (≥ 20 answers)', (
    SELECT question_id || ': ' || round(100.0 * avg(is_correct::int), 1) || ' % correct of ' || count(*)
      FROM analytics.question_interaction_fact GROUP BY question_id HAVING count(*) >= 20
     ORDER BY avg(is_correct::int) DESC, question_id LIMIT 1)

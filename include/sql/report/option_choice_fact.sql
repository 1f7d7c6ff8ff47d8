-- Demo summary: distractor analysis over all history (analytics.option_analysis, default thresholds).
WITH options AS (SELECT * FROM analytics.option_analysis('-infinity', 'infinity'))
SELECT measure, value FROM (
          SELECT 1 AS ord, 'options analysed (excluding "no answer")' AS measure,
                 to_char(count(*) FILTER (WHERE option >= 1), 'FM999,999,999') AS value FROM options
UNION ALL SELECT 2, 'share with no final answer',
          round(100.0 * sum(chosen) FILTER (WHERE option = 0) / nullif(sum(chosen), 0), 1) || ' %'
  FROM options
UNION ALL SELECT 3, 'non-functional distractors (< 5 %)',
          count(*) FILTER (WHERE 'non_functional' = ANY (flags))::text FROM options
UNION ALL SELECT 4, 'distractors attracting strong students',
          count(*) FILTER (WHERE 'attracts_strong_students' = ANY (flags))::text FROM options
) summary
ORDER BY ord

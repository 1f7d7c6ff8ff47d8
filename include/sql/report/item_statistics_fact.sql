-- Demo summary: item analysis over all history (analytics.item_analysis / test_reliability, default
-- thresholds): how many questions carry each flag, and the tests' reliability.
WITH items AS (SELECT * FROM analytics.item_analysis('-infinity', 'infinity')),
     tests AS (SELECT * FROM analytics.test_reliability('-infinity', 'infinity'))
SELECT measure, value FROM (
          SELECT 1 AS ord, 'questions analysed' AS measure, to_char(count(*), 'FM999,999,999') AS value FROM items
UNION ALL SELECT 2, 'scored attempts', to_char(coalesce(sum(attempts), 0), 'FM999,999,999') FROM tests
UNION ALL SELECT 3, 'mean facility', round(avg(facility)::numeric, 3)::text FROM items
UNION ALL SELECT 4, 'mean discrimination index', round(avg(discrimination_index)::numeric, 3)::text FROM items
UNION ALL SELECT 5, 'flagged questions',
          coalesce((SELECT string_agg(flag || ': ' || n, ', ' ORDER BY flag)
                      FROM (SELECT unnest(flags) AS flag, count(*) AS n FROM items GROUP BY 1) f), 'none')
UNION ALL SELECT 6, 'tests with alpha', count(cronbach_alpha)::text FROM tests
UNION ALL SELECT 7, 'median Cronbach alpha',
          round((percentile_cont(0.5) WITHIN GROUP (ORDER BY cronbach_alpha))::numeric, 3)::text FROM tests
UNION ALL SELECT 8, 'unreliable tests (alpha < 0.64)',
          count(*) FILTER (WHERE 'unreliable' = ANY (flags))::text FROM tests
) summary
ORDER BY ord

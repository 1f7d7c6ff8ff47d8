-- Which parts of the warehouse exist (catalog lookups only). Every page starts here: no schema or no facts →
-- "no data yet — run the pipeline"; no item-analysis facts or range functions → "item analysis not built yet".
SELECT to_regclass('analytics.test_summary_fact') IS NOT NULL AS has_schema,
       to_regclass('analytics.item_statistics_fact') IS NOT NULL
           AND to_regclass('analytics.option_choice_fact') IS NOT NULL
           AND (SELECT count(DISTINCT p.proname)
                  FROM pg_catalog.pg_proc AS p
                 WHERE p.pronamespace = to_regnamespace('analytics')
                   AND p.proname IN ('item_analysis', 'option_analysis', 'test_reliability')) = 3
           AS has_item_analysis

-- Which parts of the warehouse exist and the hour range the facts cover (min/max use the hour index).
-- Every dashboard page starts here: no schema or no facts → "no data yet — run the pipeline".
SELECT to_regclass('analytics.test_summary_fact') IS NOT NULL                AS has_schema,
       to_regclass('analytics.item_statistics_fact') IS NOT NULL
           AND to_regprocedure('analytics.item_analysis(timestamptz, timestamptz, integer, double precision, '
                               'double precision, double precision)') IS NOT NULL AS has_item_analysis

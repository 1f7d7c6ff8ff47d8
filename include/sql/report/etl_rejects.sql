-- Demo summary: quarantined source rows by pipeline, table and reason.
SELECT pipeline_name, source_table, reason, count(*) AS rows
  FROM analytics.etl_rejects
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3

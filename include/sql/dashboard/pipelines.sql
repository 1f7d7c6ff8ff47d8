-- etl_metadata per pipeline, with the watermark's lag behind the last full hour and consecutive failures.
SELECT pipeline_name, status, engine, last_run_time, watermark,
       date_trunc('hour', now()) - watermark AS watermark_lag,
       consecutive_failures, last_error, rows_read, rows_written, rows_rejected
  FROM analytics.etl_metadata
 ORDER BY pipeline_name

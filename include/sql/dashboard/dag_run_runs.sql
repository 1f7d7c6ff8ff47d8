-- The etl_run_log attempts one Airflow DAG run recorded (triggered_by = 'airflow:<dag_id>/<run_id>'), of one
-- pipeline or (pipeline NULL) of all — the Airflow task instance's "Pipeline run" tab. etl_run_log_pipeline_idx
-- narrows to the pipelines first.
SELECT r.run_id, r.pipeline_name, r.engine, r.window_start, r.window_end, r.status, r.started_at,
       r.finished_at, date_part('epoch', r.finished_at - r.started_at) AS duration_seconds,
       r.rows_read, r.rows_written, r.rows_rejected, r.error, r.triggered_by
  FROM analytics.etl_metadata AS m
  JOIN analytics.etl_run_log AS r ON r.pipeline_name = m.pipeline_name
 WHERE r.triggered_by = %(triggered_by)s
   AND (%(pipeline)s::text IS NULL OR m.pipeline_name = %(pipeline)s::text)
 ORDER BY r.pipeline_name, r.started_at

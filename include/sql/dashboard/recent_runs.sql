-- The latest runs of each pipeline (etl_run_log_pipeline_idx: one index range scan per pipeline).
SELECT r.run_id, r.pipeline_name, r.engine, r.window_start, r.window_end, r.status, r.started_at,
       r.finished_at, date_part('epoch', r.finished_at - r.started_at) AS duration_seconds,
       r.rows_read, r.rows_written, r.rows_rejected, r.error, r.triggered_by
  FROM analytics.etl_metadata AS m
 CROSS JOIN LATERAL (SELECT *
                       FROM analytics.etl_run_log AS l
                      WHERE l.pipeline_name = m.pipeline_name
                      ORDER BY l.started_at DESC
                      LIMIT %(limit)s) AS r
 ORDER BY r.started_at DESC, r.pipeline_name

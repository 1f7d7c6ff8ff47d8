-- Quarantine the rows rejected by one window: at most once per (pipeline, table, key, reason); a row
-- seen again keeps the window and time it was first rejected in.
INSERT INTO analytics.etl_rejects
       (pipeline_name, source_table, source_key, reason, window_start, window_end, rejected_at)
SELECT %(pipeline)s, source_table, source_key, reason, %(window_start)s, %(window_end)s, now()
  FROM {stage}
    ON CONFLICT (pipeline_name, source_table, source_key, reason) DO NOTHING;

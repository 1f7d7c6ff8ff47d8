-- Data-quality rules of analytics.test_summary_fact (docs/data_contract.md section 4), run by the DAGs'
-- `checks` task (beside the registry's checks, dag_factory.checks_sql): one row of named booleans; the task fails when any is false.
-- Scope: the rows this DAG run wrote (etl_run_id = <fact>__<dag_id>__<run_id>__try<n>); an empty scope passes.
SELECT
    count(*) FILTER (WHERE (hour_start = date_trunc('hour', hour_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
                     IS NOT TRUE) = 0
        AS hour_start_on_a_utc_hour,
    count(*) FILTER (WHERE (sessions_started >= 1) IS NOT TRUE) = 0
        AS bucket_has_sessions,
    count(*) FILTER (WHERE (CASE WHEN submissions = 0 THEN pass_rate IS NULL
                                 ELSE abs(pass_rate - passed::float8 / submissions) <= 1e-9 END) IS NOT TRUE) = 0
        AS pass_rate_is_passed_over_submissions,
    count(*) FILTER (WHERE (CASE WHEN submissions = 0
                                 THEN avg_score_pct IS NULL AND median_score_pct IS NULL
                                      AND min_score_pct IS NULL AND max_score_pct IS NULL
                                 ELSE min_score_pct <= median_score_pct + 1e-9 AND median_score_pct <= max_score_pct + 1e-9
                                      AND min_score_pct <= avg_score_pct + 1e-9 AND avg_score_pct <= max_score_pct + 1e-9
                            END) IS NOT TRUE) = 0
        AS score_statistics_ordered
FROM analytics.test_summary_fact
WHERE starts_with(etl_run_id, '{{ params.fact }}__{{ dag.dag_id }}__{{ run_id | replace("'", "''") }}__')

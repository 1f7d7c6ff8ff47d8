-- Data-quality rules of analytics.test_funnel_fact (docs/data_contract.md section 4), run by the DAGs'
-- `checks` task (beside the registry's checks, dag_factory.checks_sql): one row of named booleans; the task fails when any is false.
-- Scope: the rows this DAG run wrote (etl_run_id = <fact>__<dag_id>__<run_id>__try<n>); an empty scope passes.
SELECT
    count(*) FILTER (WHERE (started >= engaged AND engaged >= submitted AND submitted >= passed AND passed >= 0)
                     IS NOT TRUE) = 0
        AS stages_non_increasing,
    count(*) FILTER (WHERE (completed >= 0 AND completed <= engaged) IS NOT TRUE) = 0
        AS completed_within_engaged,
    count(*) FILTER (WHERE (started >= 1
                            AND abs(engaged_rate - engaged::float8 / started) <= 1e-9
                            AND abs(submitted_rate - submitted::float8 / started) <= 1e-9
                            AND abs(passed_rate - passed::float8 / started) <= 1e-9
                            AND abs(completed_rate - completed::float8 / started) <= 1e-9) IS NOT TRUE) = 0
        AS rates_are_counts_over_started,
    count(*) FILTER (WHERE drop_off_stage IS DISTINCT FROM
                           CASE WHEN started = passed THEN NULL
                                WHEN started - engaged >= engaged - submitted
                                 AND started - engaged >= submitted - passed THEN 'engaged'
                                WHEN engaged - submitted >= submitted - passed THEN 'submitted'
                                ELSE 'passed' END) = 0
        AS drop_off_is_largest_earliest_loss
FROM analytics.test_funnel_fact
WHERE starts_with(etl_run_id, '{{ params.fact }}__{{ dag.dag_id }}__{{ run_id | replace("'", "''") }}__')

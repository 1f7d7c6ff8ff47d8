-- Data-quality rules of analytics.question_interaction_fact (docs/data_contract.md section 4), run by the
-- DAGs' `checks` task (beside the registry's checks, dag_factory.checks_sql): one row of named booleans; the task fails when any is false.
-- Scope: the rows this DAG run wrote (etl_run_id = <fact>__<dag_id>__<run_id>__try<n>); an empty scope passes.
SELECT
    count(*) FILTER (WHERE (answer_events >= 1 AND answer_changes = answer_events - 1) IS NOT TRUE) = 0
        AS changes_are_events_minus_one,
    count(*) FILTER (WHERE (first_answered_at <= last_answered_at) IS NOT TRUE) = 0
        AS first_answer_not_after_last,
    count(*) FILTER (WHERE (hour_start = date_trunc('hour', last_answered_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
                     IS NOT TRUE) = 0
        AS hour_is_utc_hour_of_last_answer,
    count(*) FILTER (WHERE (is_correct OR points_awarded = 0) IS NOT TRUE) = 0
        AS points_only_when_correct,
    count(*) FILTER (WHERE (NOT is_correct OR final_option IS NOT NULL) IS NOT TRUE) = 0
        AS correct_needs_a_final_option
FROM analytics.question_interaction_fact
WHERE starts_with(etl_run_id, '{{ params.fact }}__{{ dag.dag_id }}__{{ run_id | replace("'", "''") }}__')

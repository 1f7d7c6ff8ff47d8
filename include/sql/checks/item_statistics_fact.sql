-- Data-quality rules of analytics.item_statistics_fact (docs/data_contract.md section 6), run by the DAGs'
-- `checks` task (beside the registry's checks, dag_factory.checks_sql): one row of named booleans; the task fails when any is false.
-- Scope: the rows this DAG run wrote (etl_run_id = <fact>__<dag_id>__<run_id>__try<n>); an empty scope passes.
-- An item score is m (max_points_cents) when correct and 0 otherwise, so Σx = correct·m and Σx² = correct·m²;
-- the attempt totals are the bucket's, so attempts and the Σ X sums agree across the questions of a bucket.
WITH run AS (
    SELECT * FROM analytics.item_statistics_fact
     WHERE starts_with(etl_run_id, '{{ params.fact }}__{{ dag.dag_id }}__{{ run_id | replace("'", "''") }}__')
),
per_bucket AS (
    SELECT test_id, hour_start,
           count(DISTINCT attempts) = 1 AND count(DISTINCT sum_total) = 1 AND count(DISTINCT sum_total_sq) = 1
               AS bucket_consistent
      FROM run GROUP BY test_id, hour_start
)
SELECT
    (SELECT count(*) FILTER (WHERE (hour_start = date_trunc('hour', hour_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
                             IS NOT TRUE) = 0 FROM run)
        AS hour_start_on_a_utc_hour,
    (SELECT count(*) FILTER (WHERE (attempts >= 1) IS NOT TRUE) = 0 FROM run)
        AS bucket_has_scored_attempts,
    (SELECT count(*) FILTER (WHERE (sum_score = correct::numeric * max_points_cents
                                    AND sum_score_sq = correct::numeric * max_points_cents * max_points_cents)
                             IS NOT TRUE) = 0 FROM run)
        AS scores_are_correct_times_max,
    (SELECT count(*) FILTER (WHERE (sum_score_total <= sum_total_sq AND sum_score_total >= 0
                                    AND attempts::numeric * sum_total_sq >= sum_total::numeric * sum_total
                                    AND sum_score <= sum_total) IS NOT TRUE) = 0 FROM run)
        AS sums_consistent,
    (SELECT count(*) FILTER (WHERE NOT bucket_consistent) = 0 FROM per_bucket)
        AS bucket_totals_shared_by_its_questions

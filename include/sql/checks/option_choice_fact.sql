-- Data-quality rules of analytics.option_choice_fact (docs/data_contract.md section 6), run by the DAGs'
-- `checks` task (beside the registry's checks, dag_factory.checks_sql): one row of named booleans; the task fails when any is false.
-- Scope: the rows this DAG run wrote (etl_run_id = <fact>__<dag_id>__<run_id>__try<n>); an empty scope passes.
WITH run AS (
    SELECT * FROM analytics.option_choice_fact
     WHERE starts_with(etl_run_id, '{{ params.fact }}__{{ dag.dag_id }}__{{ run_id | replace("'", "''") }}__')
),
per_question AS (
    SELECT test_id, hour_start, question_id,
           sum(chosen) = min(attempts) AND min(attempts) = max(attempts) AS chosen_partitions_attempts,
           -- at most one: a question whose correct_option lies outside 1..option_count has no key row
           count(*) FILTER (WHERE is_key) <= 1 AND bool_and(NOT is_key OR option >= 1) AS one_key,
           min(option) = 0 AND max(option) = count(*) - 1 AS options_complete
      FROM run GROUP BY test_id, hour_start, question_id
),
per_bucket AS (
    -- every question of a bucket partitions the same attempts, so the totals summed over options agree
    SELECT test_id, hour_start, count(DISTINCT (total, total_sq)) = 1 AS totals_agree
      FROM (SELECT test_id, hour_start, question_id, sum(sum_total) AS total, sum(sum_total_sq) AS total_sq
              FROM run GROUP BY test_id, hour_start, question_id) q
     GROUP BY test_id, hour_start
)
SELECT
    (SELECT count(*) FILTER (WHERE (attempts >= 1) IS NOT TRUE) = 0 FROM run)
        AS bucket_has_scored_attempts,
    (SELECT count(*) FILTER (WHERE NOT chosen_partitions_attempts) = 0 FROM per_question)
        AS chosen_sums_to_attempts,
    (SELECT count(*) FILTER (WHERE NOT one_key) = 0 FROM per_question)
        AS at_most_one_key_per_question,
    (SELECT count(*) FILTER (WHERE NOT options_complete) = 0 FROM per_question)
        AS every_option_from_0_present,
    (SELECT count(*) FILTER (WHERE (chosen > 0 OR (sum_total = 0 AND sum_total_sq = 0)) IS NOT TRUE) = 0
       FROM run)
        AS unchosen_options_have_zero_sums,
    (SELECT count(*) FILTER (WHERE NOT totals_agree) = 0 FROM per_bucket)
        AS questions_of_a_bucket_share_totals

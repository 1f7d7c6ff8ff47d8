-- test_funnel_fact (docs/data_contract.md section 4): the same affected buckets and cohort as
-- test_summary_fact.sql, from ref_cohort (buckets.sql). {schema}, {run_id} as in the other files.
--
-- Decisions:
-- * The chain: started = sessions; engaged = sessions with a valid answer row; submitted = engaged
--   sessions with a valid submission; passed = submitted (hence engaged) sessions that passed. So
--   started >= engaged >= submitted >= passed, and funnel.submitted/passed can be below the summary's
--   submissions/passed (a session submitted without a valid answer is not in the funnel's stage).
-- * completed = engaged sessions that answered (non-NULL final_option) every question of the test;
--   a side count, not a chain stage.
-- * Rates are count / started, NULL when started is 0 (cannot happen for a stored bucket).
-- * drop_off_stage = the stage with the largest loss from the stage before it (engaged: started -
--   engaged, submitted: engaged - submitted, passed: submitted - passed); ties go to the earliest
--   stage; NULL when every loss is 0.
DELETE FROM {schema}.test_funnel_fact AS f
 USING ref_buckets AS b
 WHERE f.test_id = b.test_id AND f.hour_start = b.hour_start;

INSERT INTO {schema}.test_funnel_fact (
    test_id, hour_start, started, engaged, submitted, passed, completed, engaged_rate, submitted_rate,
    passed_rate, completed_rate, drop_off_stage, etl_run_id)
SELECT test_id, hour_start, started, engaged, submitted, passed, completed,
       engaged::double precision / NULLIF(started, 0),
       submitted::double precision / NULLIF(started, 0),
       passed::double precision / NULLIF(started, 0),
       completed::double precision / NULLIF(started, 0),
       CASE GREATEST(started - engaged, engaged - submitted, submitted - passed)
           WHEN 0 THEN NULL
           WHEN started - engaged THEN 'engaged'
           WHEN engaged - submitted THEN 'submitted'
           ELSE 'passed'
       END,
       {run_id}
  FROM (SELECT test_id, hour_start,
               count(*) AS started,
               count(*) FILTER (WHERE engaged) AS engaged,
               count(*) FILTER (WHERE engaged AND submitted) AS submitted,
               count(*) FILTER (WHERE engaged AND submitted AND passed) AS passed,
               count(*) FILTER (WHERE completed) AS completed
          FROM ref_cohort
         GROUP BY test_id, hour_start) AS stages;

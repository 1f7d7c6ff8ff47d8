-- First and last cohort hour in the facts (two index end-point lookups on tsf_hour_idx).
SELECT min(hour_start) AS first_hour, max(hour_start) AS last_hour
  FROM analytics.test_summary_fact

-- The cohort buckets to recompute and one row per session in them, shared by test_summary_fact.sql
-- and test_funnel_fact.sql. Input: reference_scope, ref_sessions (rejects.sql), and the reference
-- question_interaction_fact and rejects as already brought up to date in this run.
-- Output: temp tables ref_buckets(test_id, hour_start), ref_bucket_sessions and ref_cohort (one row per
-- session of those buckets, from ALL sessions of the bucket, not only the affected ones), and
-- {schema}.session_bucket brought up to date for the scope.
--
-- Decisions:
-- * A session belongs to (test_id, UTC hour of started_at) and only a valid session (its test exists)
--   belongs to a bucket.
-- * The buckets to recompute are the current buckets of the affected sessions AND the buckets they were
--   last counted in ({schema}.session_bucket): a session whose started_at or test_id was edited, or that
--   became an orphan, must also leave its old bucket (which is deleted when it becomes empty).
-- * Per-session figures are taken from the facts of this run: engaged = the session has a
--   question_interaction_fact row (= at least one valid answer row); questions_answered = its rows
--   with non-NULL final_option; completed = engaged and questions_answered = the test's current number
--   of questions (count of questions rows with that test_id).
-- * The session's submission is its latest valid submission by (submitted_at, submission_id); valid =
--   not in the quarantine.
-- * score_pct = score * 100 / max_score and duration_seconds stay NUMERIC here (exact, so the
--   aggregates of the facts do not depend on row order; they round to DOUBLE PRECISION once), and the
--   pass decision is the exact decimal comparison score * 100 >= pass_score_pct * max_score, which is
--   score_pct >= pass_score_pct without binary floating-point rounding (score 29 of 100 with a pass
--   mark of 29 passes; 29.0 / 100.0 * 100 in float64 is 28.999999999999996 and would not).
-- * duration_seconds = epoch seconds of (latest valid submission's submitted_at - started_at).
CREATE TEMP TABLE ref_buckets ON COMMIT DROP AS
SELECT test_id, date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour_start
  FROM ref_sessions
 WHERE reason IS NULL
UNION
SELECT m.test_id, m.hour_start
  FROM {schema}.session_bucket AS m
  JOIN reference_scope AS sc ON sc.session_id = m.session_id;
ANALYZE ref_buckets;

DELETE FROM {schema}.session_bucket AS m
 USING reference_scope AS sc
 WHERE m.session_id = sc.session_id;
INSERT INTO {schema}.session_bucket (session_id, test_id, hour_start)
SELECT session_id, test_id, date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
  FROM ref_sessions
 WHERE reason IS NULL;

-- Every session of the buckets, through the membership just brought up to date (an equality join on
-- the bucket key, so it is an index lookup for a window and a hash join for a full recompute).
CREATE TEMP TABLE ref_bucket_sessions ON COMMIT DROP AS
SELECT m.test_id, m.hour_start, s.session_id, s.student_id, s.started_at, t.pass_score_pct
  FROM ref_buckets AS b
  JOIN {schema}.session_bucket AS m ON m.test_id = b.test_id AND m.hour_start = b.hour_start
  JOIN sessions AS s ON s.session_id = m.session_id
  JOIN tests AS t ON t.test_id = m.test_id;
ANALYZE ref_bucket_sessions;

CREATE TEMP TABLE ref_cohort ON COMMIT DROP AS
WITH answered AS (
    SELECT f.session_id, count(*) FILTER (WHERE f.final_option IS NOT NULL) AS questions_answered
      FROM {schema}.question_interaction_fact AS f
     WHERE f.session_id IN (SELECT session_id FROM ref_bucket_sessions)
     GROUP BY f.session_id
),
latest_submission AS (
    SELECT DISTINCT ON (u.session_id) u.session_id, u.submitted_at, u.score, u.max_score
      FROM submissions AS u
     WHERE u.session_id IN (SELECT session_id FROM ref_bucket_sessions)
       AND NOT EXISTS (SELECT 1 FROM {schema}.rejects AS r
                        WHERE r.source_table = 'submissions' AND r.source_key = u.submission_id::text)
     ORDER BY u.session_id, u.submitted_at DESC, u.submission_id DESC
),
question_count AS (
    SELECT test_id, count(*) AS questions
      FROM questions
     WHERE test_id IN (SELECT test_id FROM ref_buckets)
     GROUP BY test_id
)
SELECT bs.test_id, bs.hour_start, bs.session_id, bs.student_id,
       a.session_id IS NOT NULL AS engaged,
       COALESCE(a.questions_answered, 0) AS questions_answered,
       COALESCE(a.questions_answered = qc.questions, false) AS completed,
       ls.session_id IS NOT NULL AS submitted,
       ls.score * 100 / ls.max_score AS score_pct,
       ls.score * 100 >= bs.pass_score_pct * ls.max_score AS passed,
       extract(epoch FROM ls.submitted_at - bs.started_at) AS duration_seconds
  FROM ref_bucket_sessions AS bs
  LEFT JOIN answered AS a ON a.session_id = bs.session_id
  LEFT JOIN latest_submission AS ls ON ls.session_id = bs.session_id
  LEFT JOIN question_count AS qc ON qc.test_id = bs.test_id;

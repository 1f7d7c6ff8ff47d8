-- Validity and quarantine (docs/data_contract.md section 2) for the rows of the affected sessions.
-- Input: temp table reference_scope(session_id). {schema} is the reference schema.
-- Output: temp tables ref_sessions and ref_answers (every row of the scope with its first reason,
-- NULL = valid; later steps read them), and {schema}.rejects brought up to date for the scope.
--
-- Decisions:
-- * The reference quarantine is the rejects of the CURRENT source: the scope's previous reject rows
--   are deleted and re-derived, so a row that a later edit makes valid (its session or test appears, a
--   regrade widens option_count) leaves the quarantine, and windowed runs converge to a full recompute.
-- * A session rejected orphan_test or invalid_timestamp counts as missing, so its answers and submissions
--   are orphan_session (the first reason), whatever else is wrong with them.
-- * Event times must lie in [2000-01-01, 2100-01-01) UTC (fixed bounds, never now(): any window order
--   converges); NaN is tested explicitly (PostgreSQL orders NaN above every number, numpy and Spark
--   comparisons differ), so the three implementations agree.
-- * source_key is the row's primary key as text (session_id, answer_id, submission_id).
-- * Rejections are checked against the rows as they are now: a regrade of a question's option_count or
--   test_id re-judges every answer of the test's sessions (they are all in the scope of that window).
CREATE TEMP TABLE ref_sessions ON COMMIT DROP AS
SELECT s.session_id, s.test_id, s.student_id, s.started_at,
       CASE WHEN t.test_id IS NULL THEN 'orphan_test'
            WHEN NOT (s.started_at >= '2000-01-01 00:00+00' AND s.started_at < '2100-01-01 00:00+00')
                THEN 'invalid_timestamp'
       END AS reason
  FROM reference_scope AS sc
  JOIN sessions AS s ON s.session_id = sc.session_id
  LEFT JOIN tests AS t ON t.test_id = s.test_id;
ANALYZE ref_sessions;

CREATE TEMP TABLE ref_answers ON COMMIT DROP AS
SELECT a.answer_id, a.session_id, a.question_id, a.selected_option, a.answered_at,
       GREATEST(COALESCE(a.time_spent_ms, 0), 0) AS time_spent_ms,
       s.test_id, s.student_id, q.correct_option, q.points,
       CASE
           WHEN s.session_id IS NULL OR s.reason IS NOT NULL THEN 'orphan_session'
           WHEN NOT (a.answered_at >= '2000-01-01 00:00+00' AND a.answered_at < '2100-01-01 00:00+00')
               THEN 'invalid_timestamp'
           WHEN q.question_id IS NULL THEN 'orphan_question'
           WHEN q.test_id <> s.test_id THEN 'question_not_in_test'
           WHEN q.points = 'NaN' OR abs(q.points::float8) = 'Infinity' OR q.points < 0
                OR q.correct_option < 1 OR q.correct_option > q.option_count THEN 'invalid_question'
           WHEN a.selected_option IS NOT NULL
                AND (a.selected_option < 1 OR a.selected_option > q.option_count) THEN 'option_out_of_range'
       END AS reason
  FROM reference_scope AS sc
  JOIN answers AS a ON a.session_id = sc.session_id
  LEFT JOIN ref_sessions AS s ON s.session_id = a.session_id
  LEFT JOIN questions AS q ON q.question_id = a.question_id;
ANALYZE ref_answers;

CREATE TEMP TABLE ref_submissions ON COMMIT DROP AS
SELECT u.submission_id,
       CASE
           WHEN s.session_id IS NULL OR s.reason IS NOT NULL THEN 'orphan_session'
           WHEN NOT (u.submitted_at >= '2000-01-01 00:00+00' AND u.submitted_at < '2100-01-01 00:00+00')
               THEN 'invalid_timestamp'
           WHEN u.score = 'NaN' OR u.max_score = 'NaN' OR abs(u.score::float8) = 'Infinity'
                OR abs(u.max_score::float8) = 'Infinity'
                OR u.max_score <= 0 OR u.score < 0 OR u.score > u.max_score THEN 'invalid_score'
       END AS reason
  FROM reference_scope AS sc
  JOIN submissions AS u ON u.session_id = sc.session_id
  LEFT JOIN ref_sessions AS s ON s.session_id = u.session_id;

DELETE FROM {schema}.rejects AS r
 USING reference_scope AS sc
 WHERE r.source_table = 'sessions' AND r.source_key = sc.session_id::text;
DELETE FROM {schema}.rejects AS r
 USING ref_answers AS a
 WHERE r.source_table = 'answers' AND r.source_key = a.answer_id::text;
DELETE FROM {schema}.rejects AS r
 USING ref_submissions AS u
 WHERE r.source_table = 'submissions' AND r.source_key = u.submission_id::text;

INSERT INTO {schema}.rejects (source_table, source_key, reason)
SELECT 'sessions', session_id::text, reason FROM ref_sessions WHERE reason IS NOT NULL
UNION ALL
SELECT 'answers', answer_id::text, reason FROM ref_answers WHERE reason IS NOT NULL
UNION ALL
SELECT 'submissions', submission_id::text, reason FROM ref_submissions WHERE reason IS NOT NULL;

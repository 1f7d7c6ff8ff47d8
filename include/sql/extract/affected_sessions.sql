-- The affected sessions of the window [%(window_start)s, %(window_end)s) (docs/data_contract.md section 3).
-- Session ids, not sessions: an answer or submission of a missing session makes its id affected, so the
-- orphan is found and quarantined. Every branch is an index range scan; UNION removes duplicates.
SELECT session_id FROM sessions
 WHERE started_at >= %(window_start)s AND started_at < %(window_end)s
UNION
SELECT session_id FROM sessions
 WHERE updated_at >= %(window_start)s AND updated_at < %(window_end)s
UNION
SELECT session_id FROM answers
 WHERE answered_at >= %(window_start)s AND answered_at < %(window_end)s
UNION
SELECT session_id FROM answers
 WHERE updated_at >= %(window_start)s AND updated_at < %(window_end)s
UNION
SELECT session_id FROM submissions
 WHERE submitted_at >= %(window_start)s AND submitted_at < %(window_end)s
UNION
SELECT session_id FROM submissions
 WHERE updated_at >= %(window_start)s AND updated_at < %(window_end)s
UNION
-- a regrade: the test, or a question of the test, changed in the window
SELECT s.session_id FROM sessions s
 WHERE s.test_id IN (
       SELECT test_id FROM tests
        WHERE updated_at >= %(window_start)s AND updated_at < %(window_end)s
       UNION
       SELECT test_id FROM questions
        WHERE updated_at >= %(window_start)s AND updated_at < %(window_end)s)

-- Affected sessions of the window [window_start, window_end): docs/data_contract.md section 3.
-- Parameters: window_start, window_end (named, psycopg style).
--
-- A single SELECT returning DISTINCT session_id, reusable as-is by any engine:
--   cursor.execute(read_sql("reference/scope.sql"), {"window_start": ..., "window_end": ...})
-- reference.py wraps it in CREATE TEMP TABLE ... AS. Each branch is a range predicate on one indexed
-- column (the *_updated_at, started_at, answered_at, submitted_at indexes), and the two regrade
-- branches reach sessions through sessions_test_started_idx, so a window costs index range scans only.
--
-- Decisions:
-- * session_id comes from answers and submissions as written, even when no such session exists: an
--   orphan answer or submission is "affected" in the window its own timestamps fall in, so it is
--   quarantined then (and re-judged if the session later appears: the session's own row is then in a
--   window through its started_at/updated_at).
-- * Full recompute = the window ('-infinity', 'infinity'): every session, answer and submission
--   matches a branch, so the scope is every session id known to the source.
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
SELECT s.session_id FROM sessions AS s
 WHERE s.test_id IN (SELECT test_id FROM tests
                      WHERE updated_at >= %(window_start)s AND updated_at < %(window_end)s)
UNION
SELECT s.session_id FROM sessions AS s
 WHERE s.test_id IN (SELECT test_id FROM questions
                      WHERE updated_at >= %(window_start)s AND updated_at < %(window_end)s)

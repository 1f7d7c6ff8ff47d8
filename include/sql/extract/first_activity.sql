-- The earliest source activity: where a pipeline without a watermark starts catching up.
SELECT min(ts) FROM (
    SELECT min(updated_at) AS ts FROM sessions
    UNION ALL SELECT min(started_at) FROM sessions
    UNION ALL SELECT min(updated_at) FROM answers
    UNION ALL SELECT min(answered_at) FROM answers
    UNION ALL SELECT min(updated_at) FROM submissions
    UNION ALL SELECT min(submitted_at) FROM submissions
    UNION ALL SELECT min(updated_at) FROM tests
    UNION ALL SELECT min(updated_at) FROM questions
) firsts

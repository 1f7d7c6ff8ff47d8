-- Source (operational) schema of the MCQ test platform: docs/data_contract.md section 1.
-- Idempotent: safe to apply again. Event tables deliberately carry no foreign keys, because a read
-- replica or an extract can hold orphans, and the pipeline must quarantine them rather than fail.
CREATE TABLE IF NOT EXISTS teachers (
    teacher_id  BIGINT PRIMARY KEY,
    full_name   TEXT NOT NULL,
    email       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS students (
    student_id  BIGINT PRIMARY KEY,
    full_name   TEXT NOT NULL,
    email       TEXT NOT NULL,
    grade_level SMALLINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tests (
    test_id            BIGINT PRIMARY KEY,
    teacher_id         BIGINT NOT NULL,
    title              TEXT NOT NULL,
    subject            TEXT,
    pass_score_pct     NUMERIC(5,2) NOT NULL DEFAULT 50,
    time_limit_seconds INT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS questions (
    question_id    BIGINT PRIMARY KEY,
    test_id        BIGINT NOT NULL,
    position       INT NOT NULL,
    option_count   SMALLINT NOT NULL,
    correct_option SMALLINT NOT NULL,
    points         NUMERIC(6,2) NOT NULL DEFAULT 1,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS sessions (
    session_id BIGINT PRIMARY KEY,
    test_id    BIGINT NOT NULL,
    student_id BIGINT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    client     TEXT,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Append-only event log: every selection, change or clearing (selected_option NULL) is a new row.
CREATE TABLE IF NOT EXISTS answers (
    answer_id       BIGINT PRIMARY KEY,
    session_id      BIGINT NOT NULL,
    question_id     BIGINT NOT NULL,
    selected_option SMALLINT,
    answered_at     TIMESTAMPTZ NOT NULL,
    time_spent_ms   INT,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS submissions (
    submission_id BIGINT PRIMARY KEY,
    session_id    BIGINT NOT NULL,
    submitted_at  TIMESTAMPTZ NOT NULL,
    score         NUMERIC(8,2) NOT NULL,
    max_score     NUMERIC(8,2) NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- updated_at and event-time indexes: the affected-session query of a window is index range scans only.
CREATE INDEX IF NOT EXISTS teachers_updated_at_idx    ON teachers (updated_at);
CREATE INDEX IF NOT EXISTS students_updated_at_idx    ON students (updated_at);
CREATE INDEX IF NOT EXISTS tests_updated_at_idx       ON tests (updated_at);
CREATE INDEX IF NOT EXISTS questions_updated_at_idx   ON questions (updated_at);
CREATE INDEX IF NOT EXISTS questions_test_id_idx      ON questions (test_id);
CREATE INDEX IF NOT EXISTS sessions_updated_at_idx    ON sessions (updated_at);
CREATE INDEX IF NOT EXISTS sessions_started_at_idx    ON sessions (started_at);
CREATE INDEX IF NOT EXISTS sessions_test_started_idx  ON sessions (test_id, started_at);
CREATE INDEX IF NOT EXISTS answers_updated_at_idx     ON answers (updated_at);
CREATE INDEX IF NOT EXISTS answers_answered_at_idx    ON answers (answered_at);
CREATE INDEX IF NOT EXISTS answers_session_id_idx     ON answers (session_id);
CREATE INDEX IF NOT EXISTS submissions_updated_at_idx ON submissions (updated_at);
CREATE INDEX IF NOT EXISTS submissions_submitted_idx  ON submissions (submitted_at);
CREATE INDEX IF NOT EXISTS submissions_session_id_idx ON submissions (session_id);

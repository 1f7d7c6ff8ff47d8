-- Scratch schema of the in-database reference implementation (src/mcq_analytics/reference.py).
-- It lives in the SOURCE database, so every fact is one set-based statement over the source tables.
-- {schema} is substituted by psycopg.sql.Identifier (default mcq_reference). Idempotent.
--
-- The facts have exactly the columns and types of analytics.* (audit columns included), so a
-- comparison with the warehouse is a plain column-for-column diff that skips etl_run_id/etl_loaded_at.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.question_interaction_fact (
    session_id        BIGINT NOT NULL,
    question_id       BIGINT NOT NULL,
    test_id           BIGINT NOT NULL,
    student_id        BIGINT NOT NULL,
    first_answered_at TIMESTAMPTZ NOT NULL,
    last_answered_at  TIMESTAMPTZ NOT NULL,
    hour_start        TIMESTAMPTZ NOT NULL,
    answer_events     INT NOT NULL,
    answer_changes    INT NOT NULL,
    final_option      SMALLINT,
    is_correct        BOOLEAN NOT NULL,
    points_awarded    NUMERIC(6,2) NOT NULL,
    time_spent_ms     BIGINT NOT NULL,
    etl_run_id        TEXT NOT NULL,
    etl_loaded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, question_id)
);

CREATE TABLE IF NOT EXISTS {schema}.test_summary_fact (
    test_id                BIGINT NOT NULL,
    hour_start             TIMESTAMPTZ NOT NULL,
    sessions_started       INT NOT NULL,
    students               INT NOT NULL,
    submissions            INT NOT NULL,
    avg_score_pct          DOUBLE PRECISION,
    median_score_pct       DOUBLE PRECISION,
    min_score_pct          DOUBLE PRECISION,
    max_score_pct          DOUBLE PRECISION,
    passed                 INT NOT NULL,
    pass_rate              DOUBLE PRECISION,
    avg_duration_seconds   DOUBLE PRECISION,
    avg_questions_answered DOUBLE PRECISION,
    etl_run_id             TEXT NOT NULL,
    etl_loaded_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (test_id, hour_start)
);

CREATE TABLE IF NOT EXISTS {schema}.test_funnel_fact (
    test_id        BIGINT NOT NULL,
    hour_start     TIMESTAMPTZ NOT NULL,
    started        INT NOT NULL,
    engaged        INT NOT NULL,
    submitted      INT NOT NULL,
    passed         INT NOT NULL,
    completed      INT NOT NULL,
    engaged_rate   DOUBLE PRECISION,
    submitted_rate DOUBLE PRECISION,
    passed_rate    DOUBLE PRECISION,
    completed_rate DOUBLE PRECISION,
    drop_off_stage TEXT CHECK (drop_off_stage IN ('engaged', 'submitted', 'passed')),
    etl_run_id     TEXT NOT NULL,
    etl_loaded_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (test_id, hour_start)
);

CREATE TABLE IF NOT EXISTS {schema}.item_statistics_fact (
    test_id          BIGINT NOT NULL,
    hour_start       TIMESTAMPTZ NOT NULL,
    question_id      BIGINT NOT NULL,
    attempts         INT NOT NULL,
    answered         INT NOT NULL,
    correct          INT NOT NULL,
    max_points_cents INT NOT NULL,
    sum_score        BIGINT NOT NULL,
    sum_score_sq     NUMERIC NOT NULL,
    sum_total        BIGINT NOT NULL,
    sum_total_sq     NUMERIC NOT NULL,
    sum_score_total  NUMERIC NOT NULL,
    etl_run_id       TEXT NOT NULL,
    etl_loaded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (test_id, hour_start, question_id),
    CHECK (attempts >= answered AND answered >= correct AND correct >= 0)
);
CREATE TABLE IF NOT EXISTS {schema}.option_choice_fact (
    test_id       BIGINT NOT NULL,
    hour_start    TIMESTAMPTZ NOT NULL,
    question_id   BIGINT NOT NULL,
    option        SMALLINT NOT NULL CHECK (option >= 0),
    is_key        BOOLEAN NOT NULL,
    attempts      INT NOT NULL,
    chosen        INT NOT NULL CHECK (chosen >= 0 AND chosen <= attempts),
    sum_total     BIGINT NOT NULL,
    sum_total_sq  NUMERIC NOT NULL,
    etl_run_id    TEXT NOT NULL,
    etl_loaded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (test_id, hour_start, question_id, option)
);

-- The quarantine as of the current source: one row per rejected source row, with its first reason.
-- No pipeline or window columns: the reference is one pipeline-independent truth.
CREATE TABLE IF NOT EXISTS {schema}.rejects (
    source_table TEXT NOT NULL CHECK (source_table IN ('sessions', 'answers', 'submissions')),
    source_key   TEXT NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (source_table, source_key)
);

-- Bookkeeping, not a fact: the (test_id, hour_start) cohort bucket each valid session was last counted
-- in. A session whose started_at or test_id is edited leaves its old bucket; without this record a
-- windowed run could not know that bucket must be recomputed, and would never converge.
CREATE TABLE IF NOT EXISTS {schema}.session_bucket (
    session_id BIGINT PRIMARY KEY,
    test_id    BIGINT NOT NULL,
    hour_start TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS session_bucket_bucket_idx ON {schema}.session_bucket (test_id, hour_start);

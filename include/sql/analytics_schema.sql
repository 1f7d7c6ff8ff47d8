-- Warehouse schema: the facts, the quarantine and the run bookkeeping (docs/data_contract.md
-- sections 2, 4 and 5). Idempotent: safe to apply again.
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS analytics.question_interaction_fact (
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
-- No secondary indexes: no query of the project reads this fact by test/hour or by question (the dashboard and
-- item analysis read the bucket facts; the checks filter by etl_run_id), and maintaining the two it had was
-- 58 % of the window's biggest statement, the insert of ~685k rows a 1M-answer window (docs/performance.md).
-- Dropped where an older schema created them; a team that queries the fact so can create its own.
DROP INDEX IF EXISTS analytics.qif_test_hour_idx;
DROP INDEX IF EXISTS analytics.qif_question_idx;

CREATE TABLE IF NOT EXISTS analytics.test_summary_fact (
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
CREATE INDEX IF NOT EXISTS tsf_hour_idx ON analytics.test_summary_fact (hour_start);

CREATE TABLE IF NOT EXISTS analytics.test_funnel_fact (
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
CREATE INDEX IF NOT EXISTS tff_hour_idx ON analytics.test_funnel_fact (hour_start);

-- Item analysis (docs/data_contract.md section 6): exact sufficient statistics per (test, cohort hour) of the
-- scored attempts. Scores are integer hundredths of a point; first-order sums are BIGINT (at most
-- 10^6 x questions x attempts of one hour), squares and products NUMERIC (unbounded, exact).
CREATE TABLE IF NOT EXISTS analytics.item_statistics_fact (
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
-- The primary key leads with (test_id, hour_start): a window deletes whole buckets by its prefix, and
-- analytics.item_analysis for one test over any range is one index range scan. Ranges over all tests read
-- the hour index.
CREATE INDEX IF NOT EXISTS isf_hour_idx ON analytics.item_statistics_fact (hour_start);

CREATE TABLE IF NOT EXISTS analytics.option_choice_fact (
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
CREATE INDEX IF NOT EXISTS ocf_hour_idx ON analytics.option_choice_fact (hour_start);

-- Quarantine: a rejected source row, at most once per (pipeline, table, key, reason).
CREATE TABLE IF NOT EXISTS analytics.etl_rejects (
    pipeline_name TEXT NOT NULL,
    source_table  TEXT NOT NULL,
    source_key    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    window_start  TIMESTAMPTZ NOT NULL,
    window_end    TIMESTAMPTZ NOT NULL,
    rejected_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_name, source_table, source_key, reason)
);
CREATE INDEX IF NOT EXISTS etl_rejects_window_idx ON analytics.etl_rejects (window_start);

-- One row per pipeline (= fact table); the seed's columns first.
CREATE TABLE IF NOT EXISTS analytics.etl_metadata (
    pipeline_name        TEXT PRIMARY KEY,
    last_run_time        TIMESTAMPTZ,
    status               TEXT NOT NULL CHECK (status IN ('running', 'success', 'failed')),
    engine               TEXT,
    last_window_start    TIMESTAMPTZ,
    last_window_end      TIMESTAMPTZ,
    watermark            TIMESTAMPTZ,
    consecutive_failures INT NOT NULL DEFAULT 0,
    last_error           TEXT,
    rows_read            BIGINT,
    rows_written         BIGINT,
    rows_rejected        BIGINT,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per attempt, for audit and the UI.
CREATE TABLE IF NOT EXISTS analytics.etl_run_log (
    run_id        TEXT PRIMARY KEY,
    pipeline_name TEXT NOT NULL,
    engine        TEXT,
    window_start  TIMESTAMPTZ NOT NULL,
    window_end    TIMESTAMPTZ NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('running', 'success', 'failed')),
    started_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at   TIMESTAMPTZ,
    rows_read     BIGINT,
    rows_written  BIGINT,
    rows_rejected BIGINT,
    error         TEXT,
    triggered_by  TEXT
);
CREATE INDEX IF NOT EXISTS etl_run_log_pipeline_idx ON analytics.etl_run_log (pipeline_name, started_at DESC);

-- Engines hand timestamps over as epoch microseconds (exact and fast); integer arithmetic only, so no
-- float rounding on the way back to TIMESTAMPTZ.
CREATE OR REPLACE FUNCTION analytics.ts_from_us(us BIGINT) RETURNS TIMESTAMPTZ
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT timestamptz 'epoch' + (us / 1000000) * interval '1 second' + (us % 1000000) * interval '1 microsecond' $$;

-- Alert bookkeeping (docs/alerting.md), owned by mcq_analytics.alerts and changed only under the row lock:
-- alerted_failures = consecutive_failures when the last alert or reminder of the current streak went out
-- (NULL: none sent); alerted_at = when; alert_streak_failures = the streak's length as the alert policy
-- last saw it (for the recovery notice, since a success resets consecutive_failures).
ALTER TABLE analytics.etl_metadata ADD COLUMN IF NOT EXISTS alerted_failures INT;
ALTER TABLE analytics.etl_metadata ADD COLUMN IF NOT EXISTS alerted_at TIMESTAMPTZ;
ALTER TABLE analytics.etl_metadata ADD COLUMN IF NOT EXISTS alert_streak_failures INT;

-- Reconciliation (docs/operations.md): the fingerprint of each source hour as a pipeline last processed
-- it, taken before its extract. `run_etl.py reconcile` recomputes them and reprocesses every hour whose
-- fingerprint changed since (rows that committed late, behind a replica, or were updated in place).
CREATE TABLE IF NOT EXISTS analytics.etl_source_hours (
    pipeline_name  TEXT NOT NULL,
    hour_start     TIMESTAMPTZ NOT NULL,
    fingerprint    TEXT NOT NULL,
    source_rows    BIGINT NOT NULL,
    max_updated_at TIMESTAMPTZ,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_name, hour_start)
);

-- A run killed before it recorded its end is closed as 'abandoned' by the next run of its pipeline.
ALTER TABLE analytics.etl_run_log DROP CONSTRAINT IF EXISTS etl_run_log_status_check;
ALTER TABLE analytics.etl_run_log ADD CONSTRAINT etl_run_log_status_check
    CHECK (status IN ('running', 'success', 'failed', 'abandoned'));

-- Item review (docs/item_analysis.md "The review DAG"): one row per flag of an item (option NULL) or of a
-- distractor, as analytics.item_analysis / analytics.option_analysis report it over the review's trailing
-- range. A row is open while resolved_at IS NULL (at most one open row per item, option and flag); when the
-- flag no longer holds it is resolved, and a later recurrence opens a new row. announced_at /
-- resolution_announced_at record the one notice of each (the review never announces twice).
CREATE TABLE IF NOT EXISTS analytics.item_review (
    review_id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    test_id                 BIGINT NOT NULL,
    question_id             BIGINT NOT NULL,
    option                  SMALLINT,
    flag                    TEXT NOT NULL,
    attempts                BIGINT NOT NULL,
    facility                DOUBLE PRECISION,
    discrimination_index    DOUBLE PRECISION,
    point_biserial          DOUBLE PRECISION,
    share                   DOUBLE PRECISION,
    range_start             TIMESTAMPTZ NOT NULL,
    range_end               TIMESTAMPTZ NOT NULL,
    first_flagged_at        TIMESTAMPTZ NOT NULL,
    last_seen_at            TIMESTAMPTZ NOT NULL,
    resolved_at             TIMESTAMPTZ,
    announced_at            TIMESTAMPTZ,
    resolution_announced_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX IF NOT EXISTS item_review_open
    ON analytics.item_review (test_id, question_id, (COALESCE(option, -1)), flag) WHERE resolved_at IS NULL;

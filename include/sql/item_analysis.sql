-- Item analysis range functions (docs/data_contract.md section 6, docs/item_analysis.md), applied with the
-- warehouse schema. They read only analytics.item_statistics_fact and analytics.option_choice_fact, so
-- every engine shares them. A range [range_start, range_end) selects cohort buckets by hour_start.
--
-- Exactness: the facts hold integer sums, so the centred sums are computed exactly as
--   Cxx = n·Σx² − (Σx)²,  CXX = n·ΣX² − (ΣX)²,  CxX = n·ΣxX − Σx·ΣX   (= n·Sxx, n·SXX, n·SxX)
-- in NUMERIC; every statistic is a ratio in which the factor n cancels, and the one rounding to float8
-- happens after the exact subtraction (no cancellation error, whatever the range).
-- NULL where a denominator is 0 or n < 2. Flags are empty below min_attempts.
--
-- The functions are LANGUAGE sql, STABLE, not STRICT and one SELECT each, so PostgreSQL inlines them: a
-- caller's `WHERE test_id = 12` reaches the facts' (test_id, hour_start, …) primary key.

CREATE OR REPLACE FUNCTION analytics.item_analysis(
    range_start         TIMESTAMPTZ,
    range_end           TIMESTAMPTZ,
    min_attempts        INT DEFAULT 30,
    poor_discrimination DOUBLE PRECISION DEFAULT 0.20,
    too_hard            DOUBLE PRECISION DEFAULT 0.20,
    too_easy            DOUBLE PRECISION DEFAULT 0.90)
RETURNS TABLE (
    test_id              BIGINT,
    question_id          BIGINT,
    attempts             BIGINT,
    answered             BIGINT,
    correct              BIGINT,
    max_points_cents     INT,
    facility             DOUBLE PRECISION,
    sd_fraction          DOUBLE PRECISION,
    discrimination_index DOUBLE PRECISION,
    point_biserial       DOUBLE PRECISION,
    flags                TEXT[])
LANGUAGE sql STABLE PARALLEL SAFE AS
$$
SELECT s.test_id, s.question_id, s.n, s.answered, s.correct, s.m, s.facility, s.sd_fraction, s.disc, s.pbis,
       CASE WHEN s.n < item_analysis.min_attempts THEN '{}'::text[]
            ELSE array_remove(ARRAY[
                CASE WHEN s.disc < 0 THEN 'negative_discrimination' END,
                CASE WHEN s.disc >= 0 AND s.disc < item_analysis.poor_discrimination THEN 'poor_discrimination' END,
                CASE WHEN s.facility < item_analysis.too_hard THEN 'too_hard' END,
                CASE WHEN s.facility > item_analysis.too_easy THEN 'too_easy' END], NULL)
       END
  FROM (SELECT c.test_id, c.question_id, c.n, c.answered, c.correct, c.m,
               c.sum_x::float8 / NULLIF(c.n * c.m, 0)::float8 AS facility,
               CASE WHEN c.n >= 2 AND c.m > 0
                    THEN sqrt(c.cxx::float8 / (c.n * (c.n - 1))::float8) / c.m END AS sd_fraction,
               CASE WHEN c.n >= 2
                    THEN (c.cxt - c.cxx)::float8 / NULLIF(sqrt((c.cxx * (c.ctt - 2 * c.cxt + c.cxx))::float8), 0)
               END AS disc,
               CASE WHEN c.n >= 2 THEN c.cxt::float8 / NULLIF(sqrt((c.cxx * c.ctt)::float8), 0) END AS pbis
          FROM (SELECT f.test_id, f.question_id,
                       sum(f.attempts) AS n, sum(f.answered) AS answered, sum(f.correct) AS correct,
                       max(f.max_points_cents) AS m, sum(f.sum_score) AS sum_x,
                       sum(f.attempts) * sum(f.sum_score_sq) - sum(f.sum_score)::numeric * sum(f.sum_score) AS cxx,
                       sum(f.attempts) * sum(f.sum_total_sq) - sum(f.sum_total)::numeric * sum(f.sum_total) AS ctt,
                       sum(f.attempts) * sum(f.sum_score_total) - sum(f.sum_score)::numeric * sum(f.sum_total)
                           AS cxt
                  FROM analytics.item_statistics_fact AS f
                 WHERE f.hour_start >= item_analysis.range_start AND f.hour_start < item_analysis.range_end
                 GROUP BY f.test_id, f.question_id) AS c) AS s
$$;

-- An earlier signature (without strong_distractor) would otherwise stay beside this one: calls become ambiguous.
DROP FUNCTION IF EXISTS analytics.option_analysis(timestamptz, timestamptz, integer, double precision);
CREATE OR REPLACE FUNCTION analytics.option_analysis(
    range_start          TIMESTAMPTZ,
    range_end            TIMESTAMPTZ,
    min_attempts         INT DEFAULT 30,
    non_functional_share DOUBLE PRECISION DEFAULT 0.05,
    strong_distractor    DOUBLE PRECISION DEFAULT 0)
RETURNS TABLE (
    test_id           BIGINT,
    question_id       BIGINT,
    option            SMALLINT,
    is_key            BOOLEAN,
    attempts          BIGINT,
    chosen            BIGINT,
    share             DOUBLE PRECISION,
    mean_total_pct    DOUBLE PRECISION,
    point_biserial    DOUBLE PRECISION,
    flags             TEXT[])
LANGUAGE sql STABLE PARALLEL SAFE AS
$$
SELECT o.test_id, o.question_id, o.option, o.is_key, o.n, o.c,
       o.c::float8 / NULLIF(o.n, 0)::float8,
       o.s::float8 / NULLIF(o.c, 0)::float8 / NULLIF(t.max_total, 0)::float8 * 100,
       -- (M_chosen − M_others) / σ_X · √(p(1−p)) with σ_X the population SD, which is (n·S − c·T) / √(c(n−c)·CXX)
       CASE WHEN o.c > 0 AND o.c < o.n
            THEN (o.n * o.s - o.c * o.t)::float8 / NULLIF(sqrt((o.c * (o.n - o.c) * o.ctt)::float8), 0) END,
       CASE WHEN o.n < option_analysis.min_attempts OR o.option = 0 OR o.is_key THEN '{}'::text[]
            ELSE array_remove(ARRAY[
                CASE WHEN o.c::float8 / o.n::float8 < option_analysis.non_functional_share THEN 'non_functional' END,
                -- the sign from the exact numerator; a raised threshold compares the float value
                CASE WHEN o.c > 0 AND o.c < o.n AND o.n * o.s - o.c * o.t > 0 AND o.ctt > 0
                          AND (o.n * o.s - o.c * o.t)::float8 / sqrt((o.c * (o.n - o.c) * o.ctt)::float8)
                              > option_analysis.strong_distractor
                     THEN 'attracts_strong_students' END], NULL)
       END
  FROM (SELECT p.*,
               sum(p.s) OVER w AS t,
               p.n * sum(p.ss) OVER w - sum(p.s) OVER w * sum(p.s) OVER w AS ctt
          FROM (SELECT f.test_id, f.question_id, f.option, bool_or(f.is_key) AS is_key,
                       sum(f.attempts)::numeric AS n, sum(f.chosen)::numeric AS c,
                       sum(f.sum_total)::numeric AS s, sum(f.sum_total_sq) AS ss
                  FROM analytics.option_choice_fact AS f
                 WHERE f.hour_start >= option_analysis.range_start AND f.hour_start < option_analysis.range_end
                 GROUP BY f.test_id, f.question_id, f.option) AS p
        WINDOW w AS (PARTITION BY p.test_id, p.question_id)) AS o
  LEFT JOIN (SELECT q.test_id, sum(q.m) AS max_total
               FROM (SELECT i.test_id, i.question_id, max(i.max_points_cents) AS m
                       FROM analytics.item_statistics_fact AS i
                      WHERE i.hour_start >= option_analysis.range_start AND i.hour_start < option_analysis.range_end
                      GROUP BY i.test_id, i.question_id) AS q
              GROUP BY q.test_id) AS t ON t.test_id = o.test_id
$$;

CREATE OR REPLACE FUNCTION analytics.test_reliability(
    range_start      TIMESTAMPTZ,
    range_end        TIMESTAMPTZ,
    min_attempts     INT DEFAULT 30,
    unreliable_alpha DOUBLE PRECISION DEFAULT 0.64)
RETURNS TABLE (
    test_id        BIGINT,
    attempts       BIGINT,
    items          BIGINT,
    mean_pct       DOUBLE PRECISION,
    sd_pct         DOUBLE PRECISION,
    cronbach_alpha DOUBLE PRECISION,
    sem_points     DOUBLE PRECISION,
    flags          TEXT[])
LANGUAGE sql STABLE PARALLEL SAFE AS
$$
SELECT r.test_id, r.n, r.k, r.mean_pct, r.sd_pct, r.alpha, r.sem_points,
       CASE WHEN r.n < test_reliability.min_attempts OR r.alpha IS NULL
                 OR r.alpha >= test_reliability.unreliable_alpha THEN '{}'::text[]
            ELSE ARRAY['unreliable'] END
  FROM (SELECT x.test_id, x.n, x.k,
               x.sum_t::float8 / x.n::float8 / NULLIF(x.max_total, 0)::float8 * 100 AS mean_pct,
               CASE WHEN x.n >= 2 THEN sqrt(x.ctt::float8 / (x.n * (x.n - 1))::float8)
                                       / NULLIF(x.max_total, 0)::float8 * 100 END AS sd_pct,
               -- α = k/(k−1)·(1 − ΣCxx/CXX) = k·(CXX − ΣCxx) / ((k−1)·CXX), exact up to the last division
               CASE WHEN x.n >= 2 AND x.k >= 2
                    THEN (x.k * (x.ctt - x.sum_cxx))::float8 / NULLIF(((x.k - 1) * x.ctt)::float8, 0) END AS alpha,
               -- SD(X)·√(1 − α) / 100 with 1 − α = (k·ΣCxx − CXX) / ((k−1)·CXX) ≥ 0 exactly
               CASE WHEN x.n >= 2 AND x.k >= 2 AND x.ctt > 0
                    THEN sqrt(x.ctt::float8 / (x.n * (x.n - 1))::float8)
                         * sqrt((x.k * x.sum_cxx - x.ctt)::float8 / ((x.k - 1) * x.ctt)::float8) / 100 END
                   AS sem_points
          FROM (SELECT b.test_id, b.n, b.sum_t, b.n * b.sum_tt - b.sum_t * b.sum_t AS ctt,
                       q.k, q.max_total, q.sum_cxx
                  FROM (SELECT bk.test_id, sum(bk.n)::numeric AS n, sum(bk.t)::numeric AS sum_t,
                               sum(bk.tt) AS sum_tt
                          FROM (SELECT f.test_id, f.hour_start, max(f.attempts) AS n, max(f.sum_total) AS t,
                                       max(f.sum_total_sq) AS tt
                                  FROM analytics.item_statistics_fact AS f
                                 WHERE f.hour_start >= test_reliability.range_start
                                   AND f.hour_start < test_reliability.range_end
                                 GROUP BY f.test_id, f.hour_start) AS bk
                         GROUP BY bk.test_id) AS b
                  JOIN (SELECT i.test_id, count(*) AS k, sum(i.m) AS max_total, sum(i.cxx) AS sum_cxx
                          FROM (SELECT f.test_id, f.question_id, max(f.max_points_cents) AS m,
                                       sum(f.attempts) * sum(f.sum_score_sq)
                                       - sum(f.sum_score)::numeric * sum(f.sum_score) AS cxx
                                  FROM analytics.item_statistics_fact AS f
                                 WHERE f.hour_start >= test_reliability.range_start
                                   AND f.hour_start < test_reliability.range_end
                                 GROUP BY f.test_id, f.question_id) AS i
                         GROUP BY i.test_id) AS q ON q.test_id = b.test_id) AS x) AS r
$$;

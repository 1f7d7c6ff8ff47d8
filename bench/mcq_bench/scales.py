"""What the benchmark measures: its scales, targets, data layout and the tables it touches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mcq_analytics.facts import BOOKKEEPING_TABLES, FACT_NAMES
from mcq_analytics.paths import PROJECT_ROOT

ENGINES = ("reference", "pandas", "spark")
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
#: The history starts here; the window data sets follow it, two hours apart.
HISTORY_START = datetime(2024, 6, 3, tzinfo=UTC)
#: Where the catalogue rows of every data set are moved: an hour no measured window contains.
CATALOG_AT = HISTORY_START - timedelta(days=1)
ID_STRIDE = 10**9
STAGE_SCHEMA = "mcq_bench_stage"
REFERENCE_SCHEMA = "mcq_reference"
SOURCE_TABLES = ("teachers", "students", "tests", "questions", "sessions", "answers", "submissions")
#: Id columns shifted when a data set is copied into the source tables.
ID_COLUMNS = {
    "teachers": ("teacher_id",),
    "students": ("student_id",),
    "tests": ("test_id", "teacher_id"),
    "questions": ("question_id", "test_id"),
    "sessions": ("session_id", "test_id", "student_id"),
    "answers": ("answer_id", "session_id", "question_id"),
    "submissions": ("submission_id", "session_id"),
}
WAREHOUSE_TABLES = (*FACT_NAMES, *BOOKKEEPING_TABLES)
#: The event tables whose scans EXPLAIN reports; answers must never be scanned sequentially for a small
#: window (the planner may rightly scan a few-thousand-row sessions or submissions table).
BIG_TABLES = ("answers", "sessions", "submissions")
SAMPLE_SECONDS = 0.2
MIB = 1024 * 1024

#: The Spark start-up job: a session, one trivial action (so the executor is really up), stop.
SPARK_NOOP_JOB = """\
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("mcq-bench-noop").getOrCreate()
spark.range(1).count()
spark.stop()
"""

# Targets (issue 8): checked on the printed figures, never by a timed unit test.
TARGET_PANDAS_VS_REFERENCE = 2.0
TARGET_PANDAS_RSS_MIB = 2048
TARGET_HISTORY_GROWTH = 1.5
#: Below this history the planner rightly prefers sequential scans, so EXPLAIN is reported, not judged.
EXPLAIN_MIN_HISTORY = 1_000_000


@dataclass(frozen=True)
class Scale:
    """The sizes of one benchmark scale (answers per history and window) and how often it repeats."""

    name: str
    history_small: int  # answers of the small history
    history_large: int  # answers of the large history (also the backfill)
    history_hours: int
    window_small: int  # answers of the small window, measured on both histories
    window_large: int  # answers of the big window
    extra_windows: tuple[int, ...] = ()  # more window sizes for the Pandas/Spark crossover
    repeat: int = 1  # measured runs per engine of the small window (the median is reported)
    spark_backfill_windows: int = 0  # Spark backfills the first N windows only (one spark-submit each)
    spark_startup_runs: int = 1
    prime: bool = True  # load each measured window once first, so every measured run is a re-run
    warm_warehouse: bool = True  # backfill the small history too, so its warehouse holds its facts


SCALES = {
    "tiny": Scale("tiny", 2_000, 20_000, 3, 500, 10_000, prime=False, warm_warehouse=False),
    "small": Scale("small", 100_000, 1_000_000, 12, 10_000, 1_000_000, (100_000,), repeat=3,
                   spark_backfill_windows=2, spark_startup_runs=2),
    "full": Scale("full", 100_000, 10_000_000, 24, 10_000, 1_000_000, (250_000, 3_000_000), repeat=3,
                  spark_backfill_windows=3, spark_startup_runs=3),
}

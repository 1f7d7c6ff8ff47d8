"""One run of a pipeline at a time, from extract to swap.

Each fact's swap already takes a transaction-level advisory lock, which keeps two writers from
interleaving but not a slow run from committing an older snapshot after a faster one. A run therefore
holds a session-level advisory lock per pipeline for its whole life, on a connection of its own: a second
run of the same pipeline waits at most ``lock_timeout`` seconds and then fails with one line. A killed
run's connection closes, which releases its locks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg


class PipelineBusy(RuntimeError):
    """Another run of the pipeline held its run lock for longer than the lock timeout."""


def run_lock_key(pipeline: str) -> str:
    """Advisory-lock name of a pipeline's runs (distinct from the swap's ``load.lock_key``)."""
    return f"mcq_analytics.run.{pipeline}"


@contextmanager
def pipeline_run_locks(warehouse_url: str, pipelines: Sequence[str], lock_timeout_seconds: int) -> Iterator[None]:
    """Hold the run locks of ``pipelines`` (taken in sorted order, so two runs never deadlock)."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"SET lock_timeout = '{int(lock_timeout_seconds)}s'")
        for pipeline in sorted(pipelines):
            try:
                conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (run_lock_key(pipeline),))
            except psycopg.errors.LockNotAvailable:
                raise PipelineBusy(
                    f"not run: another run of {pipeline} is still in progress (waited {lock_timeout_seconds} s, "
                    "MCQ_LOCK_TIMEOUT_SECONDS)"
                ) from None
        try:
            yield
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock_all()")

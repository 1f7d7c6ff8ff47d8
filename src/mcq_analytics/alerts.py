"""Failure alerts (issue 6 fills this in): the Airflow callbacks the DAGs attach through default_args."""

from __future__ import annotations

from typing import Any


def on_task_failure(context: dict[str, Any]) -> None:
    """Task-level ``on_failure_callback`` (final failures only; retries call ``on_retry_callback``)."""


def on_task_success(context: dict[str, Any]) -> None:
    """Task-level ``on_success_callback``: sends the recovery notice after an alerted failure streak."""

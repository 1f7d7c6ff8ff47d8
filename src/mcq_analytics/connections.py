"""Turning settings into reachable database URLs: the configured ones, or the embedded PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from mcq_analytics.config import Settings, redact_url
from mcq_analytics.embedded_pg import SOURCE_DB, WAREHOUSE_DB, EmbeddedPostgres


class ConnectionFailed(RuntimeError):
    """A database could not be reached; the message names it without its password."""


@dataclass(frozen=True)
class Databases:
    source_url: str
    warehouse_url: str


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.state_dir / "pgdata")


def resolve_databases(settings: Settings) -> Databases:
    """Configured URLs win; otherwise (dev) start the embedded server and its two databases."""
    if settings.source_url and settings.warehouse_url:
        return Databases(settings.source_url, settings.warehouse_url)
    server = embedded_server(settings).start()
    return Databases(
        settings.source_url or server.create_database(SOURCE_DB),
        settings.warehouse_url or server.create_database(WAREHOUSE_DB),
    )


def check_reachable(role: str, url: str) -> None:
    """Fail with one clear line if ``url`` does not answer."""
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = (str(exc).strip().splitlines() or ["unknown error"])[0]
        raise ConnectionFailed(f"cannot connect to the {role} database {redact_url(url)}: {first_line}") from None

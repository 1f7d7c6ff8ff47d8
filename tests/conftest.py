"""Shared fixtures: a real PostgreSQL server (throwaway, or the one in MCQ_TEST_DATABASE_URL) and fresh
source/warehouse database pairs with the project's schema applied."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from mcq_analytics.embedded_pg import EmbeddedPostgres
from mcq_analytics.schema import ANALYTICS_DDL, SOURCE_DDL, apply_ddl

#: The ``spark_cluster`` session fixture (a standalone master and two workers) and its cost summary.
pytest_plugins = ("spark_cluster",)


@dataclass
class PgServer:
    """Creates databases on one server; ``admin_url`` points at a database that always exists."""

    admin_url: str

    def url(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + database))

    def create_database(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                stmt = stmt + sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(stmt)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class DatabasePair:
    source_url: str
    warehouse_url: str


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    given = os.environ.get("MCQ_TEST_DATABASE_URL")
    if given:
        yield PgServer(given)
        return
    # Not under pytest's basetemp: a concurrent pytest session prunes old basetemps, server data included.
    base = Path(tempfile.mkdtemp(prefix="mcq-test-pg-"))
    server = EmbeddedPostgres(base / "data", ephemeral=True).start()
    try:
        yield PgServer(server.url("postgres"))
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def schema_templates(pg_server: PgServer) -> Iterator[tuple[str, str]]:
    """Template databases with the DDL applied once; each test clones them (fast)."""
    suffix = uuid.uuid4().hex[:8]
    names = (f"tmpl_source_{suffix}", f"tmpl_warehouse_{suffix}")
    apply_ddl(pg_server.create_database(names[0]), SOURCE_DDL)
    apply_ddl(pg_server.create_database(names[1]), ANALYTICS_DDL)
    yield names
    for name in names:
        pg_server.drop_database(name)


@pytest.fixture
def dbs(pg_server: PgServer, schema_templates: tuple[str, str]) -> Iterator[DatabasePair]:
    """A fresh, empty source database and warehouse database with the schema applied."""
    suffix = uuid.uuid4().hex[:8]
    source, warehouse = f"t_source_{suffix}", f"t_warehouse_{suffix}"
    pair = DatabasePair(
        source_url=pg_server.create_database(source, template=schema_templates[0]),
        warehouse_url=pg_server.create_database(warehouse, template=schema_templates[1]),
    )
    yield pair
    pg_server.drop_database(source)
    pg_server.drop_database(warehouse)

"""A throwaway or persistent local PostgreSQL server for the embedded default and the tests.

Uses the server binaries already installed (``pg_ctl`` on PATH or Debian's ``/usr/lib/postgresql/*/bin``).
PostgreSQL refuses to run as root, so as root the data folder is handed to the ``postgres`` system user
and the server commands run through ``runuser``; as an ordinary user they run directly.
The server listens on 127.0.0.1 only and trusts local connections: it is a developer sandbox.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

SOURCE_DB = "mcq_source"
WAREHOUSE_DB = "mcq_warehouse"


class EmbeddedPostgresError(RuntimeError):
    """The local PostgreSQL server could not be found, initialised or started."""


def _find_bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    raise EmbeddedPostgresError(
        "no PostgreSQL server binaries found (pg_ctl); install them (Debian: apt-get install postgresql) "
        "or set MCQ_SOURCE_URL and MCQ_WAREHOUSE_URL to an existing server"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in ``data_dir``; ``start()`` is idempotent and reuses a running server."""

    data_dir: Path
    ephemeral: bool = False

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.bin_dir = _find_bin_dir()
        self._as_root = os.geteuid() == 0

    # -- process helpers -------------------------------------------------------------------------
    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if proc.returncode != 0:
            raise EmbeddedPostgresError(
                f"{args[0]} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-500:]}"
            )
        return proc

    @property
    def port_file(self) -> Path:
        return self.data_dir.parent / (self.data_dir.name + ".port")

    @property
    def port(self) -> int:
        return int(self.port_file.read_text().strip())

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def is_running(self) -> bool:
        if not self.port_file.exists() or not (self.data_dir / "postmaster.pid").exists():
            return False
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> EmbeddedPostgres:
        if self.is_running():
            return self
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            # The postgres user must be able to reach the data folder: open the parents for traversal.
            for parent in [self.data_dir.parent, *self.data_dir.parent.parents]:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o011)
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.data_dir, 0o700)
            if self._as_root:
                shutil.chown(self.data_dir, "postgres", "postgres")
            self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                      "--encoding=UTF8", "--locale=C.UTF-8")
        port = _free_port()
        self.port_file.write_text(str(port))
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        options += " -c max_connections=200"
        if self.ephemeral:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log_file = self.data_dir / "server.log"
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(log_file), "-o", options, "-w", "-t", "60",
                  "start")
        deadline = time.monotonic() + 30
        while not self.is_running():
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(f"PostgreSQL did not accept connections; see {log_file}")
            time.sleep(0.2)
        return self

    def create_database(self, name: str) -> str:
        """Create ``name`` unless it exists; return its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        if self.ephemeral:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.port_file.unlink(missing_ok=True)

"""What the Spark job needs to reach PostgreSQL over JDBC, tested without starting Spark: the JDBC URL and
properties of a libpq URL, and the scope split into balanced read partitions."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from psycopg.conninfo import conninfo_to_dict

from mcq_analytics.config import ConfigError

JDBC_DRIVER_CLASS = "org.postgresql.Driver"


def jdbc_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL or DSN as a JDBC URL plus connection properties (user, password, TLS settings).

    The password goes into the properties (which Spark redacts from its UI and logs), never into the URL.
    JDBC cannot use Unix sockets: a socket-only URL is an error.
    """
    params = conninfo_to_dict(url)
    host = (params.get("host") or os.environ.get("PGHOST") or "localhost").split(",")[0]
    if host.startswith("/"):
        raise ConfigError("the Spark engine connects over JDBC and needs a TCP host, not a Unix socket")
    port = (str(params.get("port") or os.environ.get("PGPORT") or "5432")).split(",")[0]
    user = params.get("user") or os.environ.get("PGUSER") or os.environ.get("USER") or "postgres"
    dbname = params.get("dbname") or os.environ.get("PGDATABASE") or user
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    props = {"user": user, "driver": JDBC_DRIVER_CLASS}
    password = params.get("password") or os.environ.get("PGPASSWORD")
    if password:
        props["password"] = password
    renames = {"sslmode": "sslmode", "sslrootcert": "sslrootcert", "sslcert": "sslcert", "sslkey": "sslkey",
               "application_name": "ApplicationName", "connect_timeout": "connectTimeout",
               "target_session_attrs": "targetServerType"}
    for key, jdbc_key in renames.items():
        if params.get(key):
            props[jdbc_key] = str(params[key])
    return f"jdbc:postgresql://{host}:{port}/{dbname}", props


def scope_predicates(ids: Sequence[int], partitions: int, column: str = "session_id",
                     min_run: int = 16) -> list[str]:
    """One JDBC read partition per predicate, splitting the sorted scope ids into equal-count chunks.

    Each predicate restricts to exactly its chunk: runs of at least ``min_run`` consecutive ids become
    ``BETWEEN`` ranges (a full-history window is a handful of ranges), the rest one ``= ANY(array)``; both
    are index scans. Unlike ``partitionColumn``/``lowerBound``/``upperBound`` strides, partitions stay
    balanced when the scope is a dense block of new sessions plus a few old ids (late answers, regrades).
    An empty scope gives one predicate that matches nothing (an empty frame with the right schema).
    """
    ordered = sorted(set(int(i) for i in ids))
    if not ordered:
        return ["false"]
    partitions = max(1, min(partitions, len(ordered)))
    size = math.ceil(len(ordered) / partitions)
    predicates = []
    for start in range(0, len(ordered), size):
        chunk = ordered[start:start + size]
        ranges: list[str] = []
        singles: list[int] = []
        run_start = 0
        for i in range(1, len(chunk) + 1):
            if i == len(chunk) or chunk[i] != chunk[i - 1] + 1:
                run = chunk[run_start:i]
                if len(run) >= min_run:
                    ranges.append(f"{column} BETWEEN {run[0]} AND {run[-1]}")
                else:
                    singles.extend(run)
                run_start = i
        if singles:
            ranges.append(f"{column} = ANY('{{{','.join(map(str, singles))}}}'::bigint[])")
        predicates.append("(" + " OR ".join(ranges) + ")")
    return predicates


def read_partitions(scope_sessions: int, sessions_per_partition: int = 20_000, max_partitions: int = 32) -> int:
    """JDBC read partitions for a scope: about ``sessions_per_partition`` sessions (~200k answers) each."""
    return max(1, min(max_partitions, math.ceil(scope_sessions / max(1, sessions_per_partition))))

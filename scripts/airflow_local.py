#!/usr/bin/env python
"""Local Airflow 3 for MCQ analytics on the embedded PostgreSQL (docs/airflow.md).

    scripts/airflow_local.sh                 # start; UI on http://localhost:8080; Ctrl-C stops everything
    scripts/airflow_local.sh --check         # start, verify health and both DAGs through the REST API, stop
    scripts/airflow_local.sh --port 8081 --env dev --parallelism 4
    scripts/airflow_local.sh stop            # from another shell: stop Airflow and the embedded PostgreSQL

Starts ``airflow api-server``, ``airflow dag-processor``, ``airflow scheduler`` (LocalExecutor) and
``airflow triggerer`` (so the UI's Triggerer badge is not red; no task defers today), each in
its own process group, with AIRFLOW_HOME in ``.mcq/airflow`` and the metadata database ``airflow`` on the
embedded PostgreSQL server of ``.mcq/pgdata`` (the one ``run_etl.py --env dev`` uses). The DAGs come from
this repository's ``dags/`` and import the installed package (``plugins/`` declares the pipeline-health view); the
connections ``mcq_source``, ``mcq_warehouse`` and ``spark_default`` are set through ``AIRFLOW_CONN_*``
environment variables (ones you exported win). ``MCQ_ENV`` and ``MCQ_ENGINE`` reach the workers, so
``MCQ_ENGINE=auto`` makes the batch DAG choose Pandas or Spark per interval.
The embedded PostgreSQL keeps running afterwards, like after ``run_etl.py``; ``stop`` (``make airflow-stop``)
stops a running local Airflow (through its pid file ``.mcq/airflow/airflow_local.pid``) and then the embedded
PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMPONENTS = ("api-server", "dag-processor", "scheduler", "triggerer")
#: Every DAG file is named after the DAG it declares; --check waits until all of them are listed.
DAG_IDS = tuple(sorted(path.stem for path in (REPO / "dags").glob("*.py")))
PID_FILE = "airflow_local.pid"
USER = "admin"


def say(text: str) -> None:
    print(f"[airflow-local] {text}", flush=True)


def prepare(env_name: str, port: int, host: str, parallelism: int) -> tuple[dict[str, str], Path]:
    """Start the embedded PostgreSQL, create the databases, and build the Airflow processes' environment."""
    from mcq_analytics.config import load_settings
    from mcq_analytics.connections import embedded_server, resolve_databases
    from mcq_analytics.schema import init_databases

    settings = load_settings(env_name)
    server = embedded_server(settings).start()
    metadata_url = server.create_database("airflow")
    dbs = resolve_databases(settings)
    if settings.use_embedded:
        init_databases(dbs.source_url, dbs.warehouse_url)
    home = settings.state_dir / "airflow"
    (home / "logs").mkdir(parents=True, exist_ok=True)

    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": urlunsplit(
            urlsplit(metadata_url)._replace(scheme="postgresql+psycopg2")),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "mcq_analytics.airflow.executor.PreloadedLocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "MCQ_ENV": env_name,
        "MCQ_ENGINE": settings.engine,
    })
    env.setdefault("AIRFLOW_CONN_MCQ_SOURCE", dbs.source_url)
    env.setdefault("AIRFLOW_CONN_MCQ_WAREHOUSE", dbs.warehouse_url)
    env.setdefault("AIRFLOW_CONN_SPARK_DEFAULT", json.dumps(
        {"conn_type": "spark", "host": settings.spark_master, "extra": {"deploy-mode": "client"}}))
    if settings.jdbc_jar or Path("/usr/share/java/postgresql.jar").is_file():
        env.setdefault("MCQ_JDBC_JAR", settings.jdbc_jar or "/usr/share/java/postgresql.jar")
    write_env_file(home / "env.sh", {k: v for k, v in env.items() if k.startswith(("AIRFLOW", "MCQ_"))})
    return env, home


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """``. .mcq/airflow/env.sh`` gives another shell the same Airflow (for ``airflow backfill create`` etc.)."""
    import shlex

    lines = ["# Written by scripts/airflow_local.py: `. .mcq/airflow/env.sh` to use this Airflow from a shell."]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in sorted(values.items())]
    lines.append(f"export PATH={shlex.quote(str(BIN))}:\"$PATH\"")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def start(name: str, args: list[str], env: dict[str, str], home: Path) -> subprocess.Popen:
    with open(home / "logs" / f"{name}.out", "w") as log:
        return subprocess.Popen([str(BIN / "airflow"), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=str(home), start_new_session=True)


def stop(procs: dict[str, subprocess.Popen], grace: float = 30) -> None:
    """SIGTERM every component's process group, SIGKILL what is left after ``grace`` seconds."""
    for proc in procs.values():
        if proc.poll() is None:
            with _quiet():
                os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs.values():
        with _quiet(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        with _quiet():
            os.killpg(proc.pid, signal.SIGKILL)  # children that outlived their leader
        with _quiet(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


class _quiet:
    def __init__(self, *extra: type[BaseException]) -> None:
        self.types = (ProcessLookupError, PermissionError, *extra)

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        return kind is not None and issubclass(kind, self.types)


def http_json(url: str, token: str | None = None, body: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as resp:
        return json.load(resp)


def wait_healthy(base: str, procs: dict[str, subprocess.Popen], home: Path, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}); see {home / 'logs' / (name + '.out')}")
        try:
            health = http_json(f"{base}/api/v2/monitor/health")
            if all(health[k]["status"] == "healthy"
                   for k in ("metadatabase", "scheduler", "dag_processor", "triggerer")):
                return health
        except (urllib.error.URLError, OSError, KeyError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"Airflow was not healthy after {timeout:.0f}s; logs in {home / 'logs'}")
        time.sleep(2)


def password(home: Path, timeout: float = 30) -> str:
    path = home / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())[USER]
        except (OSError, ValueError, KeyError):
            time.sleep(1)
    raise RuntimeError(f"no password for {USER!r} in {path}")


def check_dags(base: str, user_password: str, timeout: float) -> list[str]:
    """Log in through the REST API and wait until every DAG is listed without import errors."""
    token = http_json(f"{base}/auth/token", body={"username": USER, "password": user_password})["access_token"]
    deadline = time.monotonic() + timeout
    while True:
        listed = sorted(d["dag_id"] for d in http_json(f"{base}/api/v2/dags?limit=100", token)["dags"])
        errors = http_json(f"{base}/api/v2/importErrors", token)
        if errors.get("total_entries"):
            raise RuntimeError(f"DAG import errors: {json.dumps(errors)[:2000]}")
        if set(DAG_IDS) <= set(listed):
            return listed
        if time.monotonic() > deadline:
            raise RuntimeError(f"DAGs listed after {timeout:.0f}s: {listed}")
        time.sleep(3)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_all(env_name: str, grace: float = 60) -> int:
    """``stop``: SIGTERM the running ``airflow_local`` (it stops its components), SIGKILL the components'
    process groups left after ``grace`` seconds, then stop the embedded PostgreSQL. Safe when nothing runs."""
    from mcq_analytics.config import load_settings
    from mcq_analytics.connections import embedded_server

    settings = load_settings(env_name)
    pid_path = settings.state_dir / "airflow" / PID_FILE
    try:
        recorded = json.loads(pid_path.read_text())
    except (OSError, ValueError):
        recorded = None
    if recorded:
        runner, groups = int(recorded["runner"]), [int(g) for g in recorded.get("components", [])]
        if alive(runner):
            say(f"stopping the local Airflow (pid {runner})")
            with _quiet():
                os.kill(runner, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while (alive(runner) or any(alive(g) for g in groups)) and time.monotonic() < deadline:
            time.sleep(1)
        for group in groups:
            with _quiet():
                os.killpg(group, signal.SIGKILL)
        pid_path.unlink(missing_ok=True)
    else:
        say("no local Airflow recorded as running")
    server = embedded_server(settings)
    if server.is_running():
        server.stop()
        say("embedded PostgreSQL stopped")
    else:
        say("embedded PostgreSQL was not running")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local Airflow 3 for MCQ analytics on the embedded PostgreSQL")
    parser.add_argument("command", nargs="?", default="start", choices=("start", "stop"),
                        help="start (default): run Airflow in the foreground; stop: stop a running local Airflow "
                             "and the embedded PostgreSQL")
    parser.add_argument("--env", default="dev", help="environment (.env.ENV) for the connections (default: dev)")
    parser.add_argument("--port", type=int, default=8080, help="UI / API port (default: 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="address the UI listens on (default: 127.0.0.1)")
    parser.add_argument("--parallelism", type=int, default=8,
                        help="task slots (default: 8; tasks mostly wait on PostgreSQL, see docs/performance.md)")
    parser.add_argument("--check", action="store_true", help="start, verify health and DAGs, stop, exit 0/1")
    parser.add_argument("--timeout", type=float, default=240, help="seconds to wait for health and DAGs")
    args = parser.parse_args(argv)

    os.environ.setdefault("MCQ_HOME", str(REPO))
    if args.command == "stop":
        return stop_all(args.env)
    started = time.monotonic()
    env, home = prepare(args.env, args.port, args.host, args.parallelism)
    say(f"AIRFLOW_HOME={home}; metadata database: airflow on the embedded PostgreSQL")
    migrate = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True,
                             cwd=str(home))
    if migrate.returncode != 0:
        print(migrate.stdout[-2000:], migrate.stderr[-4000:], file=sys.stderr)
        return 1
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for name in COMPONENTS:
            extra = ["--port", str(args.port), "--host", args.host] if name == "api-server" else []
            procs[name] = start(name, [name, *extra], env, home)
        (home / PID_FILE).write_text(json.dumps({"runner": os.getpid(),
                                                 "components": [p.pid for p in procs.values()]}))
        base = f"http://127.0.0.1:{args.port}"
        wait_healthy(base, procs, home, args.timeout)
        user_password = password(home)
        say(f"healthy after {time.monotonic() - started:.0f}s")
        print(f"""
  Airflow UI   http://localhost:{args.port}   login: {USER} / {user_password}
  Health       http://localhost:{args.port}/plugin/pipeline-health   (Browse → Pipeline health)
  DAGs         {', '.join(DAG_IDS)}   (MCQ_ENGINE={env['MCQ_ENGINE']}; created paused; unpausing one
               also runs its current interval at once)
  CLI          . {home / 'env.sh'} && airflow dags unpause mcq_analytics_batch
  Connections  mcq_source, mcq_warehouse (embedded PostgreSQL), spark_default ({env['AIRFLOW_CONN_SPARK_DEFAULT']})
  Logs         {home / 'logs'}
""", flush=True)
        if args.check:
            listed = check_dags(base, user_password, args.timeout)
            say(f"REST API lists {listed}; health OK — stopping (--check)")
            return 0
        say("running; Ctrl-C (or `scripts/airflow_local.sh stop` elsewhere) stops Airflow")
        while all(p.poll() is None for p in procs.values()):
            time.sleep(2)
        dead = [n for n, p in procs.items() if p.poll() is not None]
        say(f"{', '.join(dead)} exited; stopping the rest (logs in {home / 'logs'})")
        return 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except RuntimeError as exc:
        say(f"error: {exc}")
        return 1
    finally:
        stop(procs)
        (home / PID_FILE).unlink(missing_ok=True)
        say("stopped" + (" (signal)" if stopping else ""))


if __name__ == "__main__":
    sys.exit(main())

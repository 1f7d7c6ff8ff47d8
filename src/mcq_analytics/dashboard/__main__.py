"""``python -m mcq_analytics.dashboard --env dev``: resolve the warehouse as ``run_etl.py`` does (starting the
embedded PostgreSQL on the dev default), print the URL, and serve the Streamlit app on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mcq_analytics.config import ConfigError
from mcq_analytics.connections import ConnectionFailed, check_reachable
from mcq_analytics.dashboard.settings import load_dashboard_settings
from mcq_analytics.embedded_pg import EmbeddedPostgresError

APP = Path(__file__).resolve().parent / "app.py"


class UsageError(Exception):
    """Bad arguments: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise UsageError(message)


def streamlit_command(host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line: headless (no browser opened), no usage statistics."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", host, "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false", "--global.developmentMode", "false",
            "--client.toolbarMode", "viewer"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m mcq_analytics.dashboard", description="Serve the MCQ analytics dashboard.")
    parser.add_argument("--env", default="dev", help="environment: loads .env.ENV (default: dev)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501, help="port (default: 8501)")
    try:
        args = parser.parse_args(argv)
        settings = load_dashboard_settings(args.env)
        check_reachable("warehouse", settings.warehouse_url)
    except UsageError as exc:
        print(f"dashboard: error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"dashboard: error: {exc}", file=sys.stderr)
        return 2
    except (ConnectionFailed, EmbeddedPostgresError) as exc:
        print(f"dashboard: error: {exc}", file=sys.stderr)
        return 1
    env = dict(os.environ, MCQ_DASHBOARD_ENV=args.env)
    if settings.warehouse_url and "MCQ_DASHBOARD_URL" not in env:
        env["MCQ_DASHBOARD_URL"] = settings.warehouse_url  # resolved once here (the embedded server's port)
    print(f"MCQ analytics dashboard ({args.env}): http://{args.host}:{args.port}  (Ctrl+C to stop)", flush=True)
    command = streamlit_command(args.host, args.port)
    os.execve(command[0], command, env)  # Streamlit replaces this process: signals reach the server directly
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())

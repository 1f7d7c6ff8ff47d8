"""Per-environment configuration: ``.env.<name>`` (or its committed ``.example``) overlaid by the process
environment, so a deployment sets real values through environment variables and never in the repo."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from mcq_analytics.paths import PROJECT_ROOT, STATE_DIR
from mcq_analytics.planning import DEFAULT_WINDOW_BUDGET
from mcq_analytics.redaction import redact, url_secrets

ENGINES = ("pandas", "spark", "auto")
_ENV_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class ConfigError(ValueError):
    """Configuration is missing or invalid; the message is one line meant for the user."""


@dataclass(frozen=True)
class Settings:
    env: str
    source_url: str | None
    warehouse_url: str | None
    use_embedded: bool
    engine: str
    auto_engine_threshold: int
    spark_master: str
    jdbc_jar: str | None
    alert_threshold: int
    alert_reminder_every: int
    slack_conn_id: str
    smtp_conn_id: str
    alert_email_to: str | None
    airflow_base_url: str
    state_dir: Path
    #: Late visibility (docs/operations.md): an hour runs only ``settle`` after its end; each window's change
    #: scan reaches ``lookback`` further back; ``reconcile`` re-checks the last ``reconcile_days``.
    settle: timedelta = timedelta(minutes=5)
    lookback: timedelta = timedelta(hours=1)
    reconcile_days: int = 7
    #: The item review's trailing range (``mcq_item_review``, docs/item_analysis.md).
    item_review_days: int = 30
    #: How long a run waits for another run of the same pipeline (or a foreign lock) before failing.
    lock_timeout_seconds: int = 600
    #: A ``running`` row older than this is shown as stale (the Airflow build's execution timeout).
    stale_after: timedelta = timedelta(minutes=45)
    #: A range (``run_etl.py --start/--end``, the reload DAG) is cut into windows of up to this many affected
    #: answers (``mcq_analytics.planning``; default from the Pandas memory model in docs/performance.md).
    window_budget: int = DEFAULT_WINDOW_BUDGET
    #: The windows of a range share one source snapshot for up to this long (``extract.RangeSnapshot``;
    #: zero: every window its own snapshot).
    range_snapshot_age: timedelta = timedelta(minutes=60)

    @property
    def shares_range_snapshot(self) -> bool:
        """Whether the windows of a range share a source snapshot (and are planned by first-touch work)."""
        return self.range_snapshot_age > timedelta(0)


def parse_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines (``#`` comments, optional quotes, optional ``export``)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a BOM must not hide the first key
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"{path.name}: cannot read line {raw!r} (expected KEY=VALUE)")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def env_file_for(env: str, root: Path = PROJECT_ROOT) -> Path:
    """``.env.<env>`` if the user made one, else the committed ``.env.<env>.example``."""
    if not _ENV_NAME.match(env):
        raise ConfigError(f"invalid environment name {env!r}")
    for candidate in (root / f".env.{env}", root / f".env.{env}.example"):
        if candidate.is_file():
            return candidate
    known = sorted({p.name.removeprefix(".env.").removesuffix(".example") for p in root.glob(".env.*")})
    raise ConfigError(f"unknown environment {env!r}: no .env.{env} file (known: {', '.join(known) or 'none'})")


def _int(values: dict[str, str], key: str, default: int, minimum: int | None = None) -> int:
    raw = values.get(key) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key} must be at least {minimum}, got {value}")
    return value


def load_settings(env: str, environ: dict[str, str] | None = None, root: Path = PROJECT_ROOT) -> Settings:
    values = parse_env_file(env_file_for(env, root))
    values.update({k: v for k, v in (os.environ if environ is None else environ).items() if k.startswith("MCQ_")})
    engine = values.get("MCQ_ENGINE") or "pandas"
    if engine not in ENGINES:
        raise ConfigError(f"MCQ_ENGINE must be one of {', '.join(ENGINES)}, got {engine!r}")
    source_url = values.get("MCQ_SOURCE_URL") or None
    warehouse_url = values.get("MCQ_WAREHOUSE_URL") or None
    use_embedded = (values.get("MCQ_EMBEDDED_POSTGRES") or "false").lower() in ("1", "true", "yes")
    if not use_embedded and not (source_url and warehouse_url):
        raise ConfigError(
            f"environment {env!r}: set MCQ_SOURCE_URL and MCQ_WAREHOUSE_URL, or MCQ_EMBEDDED_POSTGRES=true"
        )
    return Settings(
        env=env,
        source_url=source_url,
        warehouse_url=warehouse_url,
        use_embedded=use_embedded,
        engine=engine,
        auto_engine_threshold=_int(values, "MCQ_AUTO_ENGINE_THRESHOLD_ROWS", 10_000_000),
        spark_master=values.get("MCQ_SPARK_MASTER") or "local[*]",
        jdbc_jar=values.get("MCQ_JDBC_JAR") or None,
        alert_threshold=_int(values, "MCQ_ALERT_THRESHOLD", 2),
        alert_reminder_every=_int(values, "MCQ_ALERT_REMINDER_EVERY", 0),
        slack_conn_id=values.get("MCQ_SLACK_CONN_ID") or "slack_alerts",
        smtp_conn_id=values.get("MCQ_SMTP_CONN_ID") or "smtp_default",
        alert_email_to=values.get("MCQ_ALERT_EMAIL_TO") or None,
        airflow_base_url=values.get("MCQ_AIRFLOW_BASE_URL") or "http://localhost:8080",
        state_dir=Path(values.get("MCQ_STATE_DIR") or STATE_DIR),
        settle=timedelta(minutes=_int(values, "MCQ_SETTLE_MINUTES", 5, minimum=0)),
        lookback=timedelta(minutes=_int(values, "MCQ_LOOKBACK_MINUTES", 60, minimum=0)),
        reconcile_days=_int(values, "MCQ_RECONCILE_DAYS", 7, minimum=1),
        item_review_days=_int(values, "MCQ_ITEM_REVIEW_DAYS", 30, minimum=1),
        lock_timeout_seconds=_int(values, "MCQ_LOCK_TIMEOUT_SECONDS", 600, minimum=1),
        stale_after=timedelta(minutes=_int(values, "MCQ_STALE_RUN_MINUTES", 45, minimum=1)),
        window_budget=_int(values, "MCQ_WINDOW_BUDGET", DEFAULT_WINDOW_BUDGET, minimum=1),
        range_snapshot_age=timedelta(minutes=_int(values, "MCQ_RANGE_SNAPSHOT_MINUTES", 60, minimum=0)),
    )


def redact_url(url: str) -> str:
    """A connection string fit for logs and messages: every password form (URL user info of any scheme,
    ``?password=``, key=value DSNs) replaced by ``***``."""
    return redact(url, url_secrets(url))

"""Alerts after N consecutive failures and the recovery notice, on real parts only: real runs of the Pandas
engine on PostgreSQL, a real HTTP server standing in for the Slack incoming webhook, a real SMTP server
(aiosmtpd), connections through ``AIRFLOW_CONN_*`` and the providers' hooks, and ``dag.test()`` of the real
batch DAG (and of the project's operator hitting a real execution timeout) for the Airflow callbacks."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from aiosmtpd.controller import Controller
from helpers import at, free_port
from test_contract import seed_platform

from mcq_analytics import alerts, metadata
from mcq_analytics.airflow.callbacks import pipeline_of
from mcq_analytics.alerts import ALERT, RECOVERY, REMINDER, decide, notify_after_run, redact
from mcq_analytics.config import load_settings
from mcq_analytics.facts import FACT_NAMES
from mcq_analytics.pipeline import run_pandas_window
from mcq_analytics.windows import Window

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "test_funnel_fact"
# Secrets that a failing run's error carries; none may reach Slack or the mail.
DB_PASSWORD = "hunter2-db-pw"
SLACK_TOKEN = "xoxb-1234567890-abcdefSECRET"
API_TOKEN = "s3cr3t-api-token"
SECRETS = (DB_PASSWORD, SLACK_TOKEN, API_TOKEN, "T000/B000/XXXXSECRET")


# ----------------------------------------------------------------------------------- the stand-in servers


@dataclass
class Webhook:
    url: str
    posts: list[dict] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def webhook():
    hook = Webhook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hook.posts.append({"path": self.path, "raw": body.decode(), "json": json.loads(body)})
            payload = b"ok" if hook.status == 200 else b"internal_error"
            self.send_response(hook.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield hook
    server.shutdown()
    server.server_close()




@dataclass
class Mailbox:
    port: int
    mails: list[dict] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("html", "plain"))
        self.mails.append({"from": envelope.mail_from, "to": envelope.rcpt_tos, "subject": message["subject"],
                           "body": body.get_content() if body is not None else "",
                           "raw": envelope.content.decode("utf-8", "replace")})
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox():
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def slack_conn(url: str) -> str:
    """``AIRFLOW_CONN_SLACK_ALERTS`` with the whole webhook URL as the (URL-encoded) password: the form that
    keeps a port and a plain-http scheme (host + schema would drop the port)."""
    return f"slackwebhook://:{quote(url, safe='')}@"


def smtp_conn(port: int) -> str:
    return (f"smtp://127.0.0.1:{port}?disable_tls=true&disable_ssl=true&timeout=5&retry_limit=0"
            "&from_email=mcq-airflow%40example.com")


@pytest.fixture
def channels(webhook, mailbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_ALERTS", slack_conn(webhook.url + "/services/T000/B000/XXXXSECRET"))
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn(mailbox.port))
    return webhook, mailbox


@pytest.fixture
def settings(dbs):
    base = load_settings("dev", environ={})
    return replace(base, env="staging", source_url=dbs.source_url, warehouse_url=dbs.warehouse_url,
                   use_embedded=False, alert_threshold=2, alert_reminder_every=0,
                   alert_email_to="oncall@example.com, second@example.com",
                   airflow_base_url="https://airflow.example.com")


# ----------------------------------------------------------------------------------- failures on demand

FAIL_DDL = f"""
CREATE OR REPLACE FUNCTION analytics.fail_load() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'cannot reach postgresql://etl:{DB_PASSWORD}@replica.internal:5432/mcq'
    USING DETAIL = 'retry with password={DB_PASSWORD} token={API_TOKEN} slack {SLACK_TOKEN} '
                   'Authorization: Bearer {API_TOKEN} hook https://hooks.slack.com/services/T000/B000/XXXXSECRET';
END $$;
CREATE TRIGGER fail_load BEFORE INSERT ON analytics.{PIPELINE} FOR EACH STATEMENT
  EXECUTE FUNCTION analytics.fail_load();
"""


def break_pipeline(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(FAIL_DDL)


def repair_pipeline(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(f"DROP TRIGGER fail_load ON analytics.{PIPELINE}")


def hour(n: int) -> Window:
    return Window(at(60 * n), at(60 * n + 60))


def process_quiet_hours(dbs) -> None:
    """The catalogue rows date from 00:00: process the quiet hours before 10:00 so the tested hours are the
    pipelines' next ones (a window beyond a gap never resets a failure streak, docs/data_contract.md §5)."""
    results = run_pandas_window(dbs.source_url, dbs.warehouse_url, Window(at(-600), at(0)))
    assert {r.status for r in results} == {"success"}


def run_and_notify(dbs, settings, window: Window):
    """What run_etl.py does per window: a real run, then the alert policy on its recorded outcome."""
    (result,) = run_pandas_window(dbs.source_url, dbs.warehouse_url, window, [PIPELINE])
    report = notify_after_run(result.outcome, settings, dbs.warehouse_url, window=result.window,
                              error=result.error, run_id=result.run_id)
    return result, report


def meta(url: str, pipeline: str = PIPELINE) -> dict:
    return next(m for m in metadata.read_metadata(url) if m["pipeline_name"] == pipeline)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


# ----------------------------------------------------------------------------------- pure parts


def test_decide_alerts_once_then_reminds_every_n():
    assert [decide(n, None, 2, 0) for n in (0, 1, 2, 3)] == [None, None, ALERT, ALERT]
    assert [decide(n, 2, 2, 0) for n in (2, 3, 4, 10)] == [None, None, None, None]
    assert [decide(n, 2, 2, 3) for n in (3, 4, 5, 6)] == [None, None, REMINDER, REMINDER]
    assert decide(1, None, 0, 0) == ALERT  # a threshold below 1 means "every final failure starts a streak"


@pytest.mark.parametrize("text, kept", [
    ("connection to postgresql://etl:hunter2@db.internal:5432/mcq failed", "postgresql://etl:***@db.internal"),
    ("host=db user=etl password=hunter2 dbname=mcq", "password=***"),
    ("password='two words' port=5432", "password=*** port=5432"),
    ('{"password": "hunter2", "user": "etl"}', '"password": ***'),
    ("MCQ_DB_PASSWORD=hunter2 other", "MCQ_DB_PASSWORD=***"),
    ("token xoxb-1234-5678-abcdef used", "xox*-*** used"),
    ("Authorization: Bearer abc.def-ghi_jkl", "Bearer ***"),
    ("posting to https://hooks.slack.com/services/T0/B0/XYZ failed", "https://hooks.slack.com/***"),
    ("GET /x?api_key=abcdef&x=1", "api_key=***&x=1"),
])
def test_redact_hides_secrets(text, kept):
    out = redact(text)
    assert kept in out
    assert "hunter2" not in out and "abcdef" not in out and "XYZ" not in out and "two words" not in out


def test_redact_known_secrets_and_leaves_ordinary_text():
    secrets = alerts.url_secrets("postgresql://etl:Zq9x%40y@db.internal/mcq", None)
    assert redact("pw is Zq9x%40y or Zq9x@y", secrets) == "pw is *** or ***"
    plain = 'CheckViolation: new row violates check constraint "never"\nKey (test_id)=(1) already exists'
    assert redact(plain) == plain


def test_task_log_url_is_the_airflow_3_ui_path():
    url = alerts.task_log_url("https://airflow.example.com/", "mcq_analytics_batch",
                              "scheduled__2024-06-01T10:00:00+00:00", "test_funnel_fact.build", 2)
    assert url == ("https://airflow.example.com/dags/mcq_analytics_batch/runs/"
                   "scheduled__2024-06-01T10%3A00%3A00%2B00%3A00/tasks/test_funnel_fact.build?try_number=2")
    assert alerts.task_log_url("http://h", "d", "r", "t", 1, map_index=3) == "http://h/dags/d/runs/r/tasks/t/mapped/3?try_number=1"


def test_pipeline_of_reads_attribute_params_group_or_task_id():
    class Task:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    assert pipeline_of(Task(pipeline="test_summary_fact", task_id="x")) == "test_summary_fact"
    assert pipeline_of(Task(task_id="x", params={"pipeline": "test_funnel_fact"})) == "test_funnel_fact"
    group = Task(group_id="facts.question_interaction_fact")
    assert pipeline_of(Task(task_id="facts.question_interaction_fact.check_rules", task_group=group)) \
        == "question_interaction_fact"
    assert pipeline_of(Task(task_id="test_funnel_fact")) == "test_funnel_fact"
    assert pipeline_of(Task(task_id="cleanup")) is None


# ----------------------------------------------------------------------------------- real runs, run_etl.py path


def test_alert_on_second_failure_only_then_one_recovery(dbs, settings, channels, caplog):
    webhook, mailbox = channels
    seed_platform(dbs.source_url)
    process_quiet_hours(dbs)
    break_pipeline(dbs.warehouse_url)

    result, report = run_and_notify(dbs, settings, hour(0))
    assert (result.status, result.outcome.consecutive_failures, report) == ("failed", 1, None)
    assert webhook.posts == [] and mailbox.mails == []

    result, report = run_and_notify(dbs, settings, hour(1))
    assert result.outcome.consecutive_failures == 2
    assert report.claim.kind == ALERT and report.channels == {"slack": "sent", "email": "sent"}
    assert len(webhook.posts) == 1 and len(mailbox.mails) == 1
    post, mail = webhook.posts[0], mailbox.mails[0]
    assert post["path"] == "/services/T000/B000/XXXXSECRET"
    text = post["json"]["text"]
    for fragment in ("test_funnel_fact", "has failed 2 times in a row (staging)", "*Environment:* staging",
                     "*DAG / task:* run_etl.py on", "[2024-06-01 10:00, 2024-06-01 11:00) UTC, "
                     "[2024-06-01 11:00, 2024-06-01 12:00) UTC", "*Consecutive failures:* 2 (alert threshold 2",
                     "RaiseException: cannot reach postgresql://etl:***@replica.internal:5432/mcq",
                     "password=***", f"*Run:* {result.run_id}"):
        assert fragment in text
    assert mail["subject"] == "[MCQ staging] ALERT test_funnel_fact: 2 consecutive failures"
    assert mail["to"] == ["oncall@example.com", "second@example.com"]
    assert mail["from"] == "mcq-airflow@example.com"
    for fragment in ("test_funnel_fact", "staging", "[2024-06-01 11:00, 2024-06-01 12:00) UTC",
                     "2 (alert threshold 2", "postgresql://etl:***@replica.internal", "Bearer ***"):
        assert fragment in mail["body"]
    alert_logs = "\n".join(r.getMessage() for r in caplog.records if r.name == "mcq_analytics.alerts")
    assert_no_secret(post["raw"], mail["raw"], alert_logs)

    result, report = run_and_notify(dbs, settings, hour(2))
    assert (result.outcome.consecutive_failures, report) == (3, None)
    assert len(webhook.posts) == 1 and len(mailbox.mails) == 1

    repair_pipeline(dbs.warehouse_url)
    result, report = run_and_notify(dbs, settings, hour(0))
    assert result.status == "success" and report.claim.kind == RECOVERY
    assert len(webhook.posts) == 2 and len(mailbox.mails) == 2
    assert "recovered (staging)" in webhook.posts[1]["json"]["text"]
    assert "3 consecutive failures, now reset to 0" in webhook.posts[1]["json"]["text"]
    assert mailbox.mails[1]["subject"] == "[MCQ staging] RECOVERED test_funnel_fact after 3 consecutive failures"
    row = meta(dbs.warehouse_url)
    assert (row["consecutive_failures"], row["alerted_failures"], row["alerted_at"]) == (0, None, None)

    # A later success sends nothing; a new streak alerts again at the threshold.
    assert run_and_notify(dbs, settings, hour(1))[1] is None
    break_pipeline(dbs.warehouse_url)
    assert run_and_notify(dbs, settings, hour(2))[1] is None
    assert run_and_notify(dbs, settings, hour(3))[1].claim.kind == ALERT
    assert len(webhook.posts) == 3 and len(mailbox.mails) == 3


def test_run_etl_alerts_once_then_recovers_and_keeps_its_output_clean(dbs, channels):
    """run_etl.py as users call it: exit codes unchanged, one alert on the 2nd failed run, one recovery, and
    the first Airflow import (for the hooks) does not move log lines onto stdout."""
    webhook, mailbox = channels
    seed_platform(dbs.source_url)
    process_quiet_hours(dbs)
    break_pipeline(dbs.warehouse_url)
    env = {**os.environ, "MCQ_SOURCE_URL": dbs.source_url, "MCQ_WAREHOUSE_URL": dbs.warehouse_url,
           "MCQ_EMBEDDED_POSTGRES": "false", "MCQ_ALERT_THRESHOLD": "2", "MCQ_ALERT_EMAIL_TO": "oncall@example.com"}

    def run_etl(start: str, end: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "run_etl.py"), "--env", "dev", "--start", start, "--end",
                               end, "--pipeline", PIPELINE], capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=300)

    first = run_etl("2024:06:01 10", "2024:06:01 11")
    assert first.returncode == 1 and webhook.posts == [] and mailbox.mails == []
    second = run_etl("2024:06:01 11", "2024:06:01 12")
    assert second.returncode == 1, second.stderr
    assert "FAILED test_funnel_fact [2024-06-01 11:00, 2024-06-01 12:00) UTC: RaiseException" in second.stdout
    assert len(webhook.posts) == 1 and len(mailbox.mails) == 1
    assert "*DAG / task:* run_etl.py on" in webhook.posts[0]["json"]["text"]
    assert "alert sent to Slack (slack_alerts)" in second.stderr
    assert "alert" not in second.stdout and "[info" not in second.stdout and "[error" not in second.stdout
    repair_pipeline(dbs.warehouse_url)
    third = run_etl("2024:06:01 10", "2024:06:01 11")
    assert third.returncode == 0, third.stderr
    assert len(webhook.posts) == 2 and "recovered (dev)" in webhook.posts[1]["json"]["text"]
    assert mailbox.mails[1]["subject"] == "[MCQ dev] RECOVERED test_funnel_fact after 2 consecutive failures"


def record(url: str, pipeline: str, error: str | None, final: bool = True) -> metadata.RunOutcome:
    window = hour(0)
    run_id = f"{pipeline}__{uuid.uuid4().hex[:8]}"
    metadata.begin_run(url, pipeline, window, "pandas", run_id)
    return metadata.finish_run(url, pipeline, window, run_id, error=error, final=final)


def test_retries_do_not_count_and_reminders_follow_the_setting(dbs, settings, channels):
    webhook, mailbox = channels
    settings = replace(settings, alert_reminder_every=2)
    url = dbs.warehouse_url
    sent = []
    for final in (False, False, True, False, True, True, True, True, True):
        outcome = record(url, PIPELINE, "boom", final=final)
        report = notify_after_run(outcome, settings, url, error="boom")
        sent.append((outcome.consecutive_failures, report.claim.kind if report else None))
    assert sent == [(0, None), (0, None), (1, None), (1, None), (2, ALERT), (3, None), (4, REMINDER), (5, None),
                    (6, REMINDER)]
    assert len(webhook.posts) == 3 and len(mailbox.mails) == 3
    assert "reminder" in webhook.posts[1]["json"]["text"]
    assert mailbox.mails[2]["subject"] == "[MCQ staging] REMINDER test_funnel_fact: 6 consecutive failures"


def test_a_failing_webhook_never_hides_the_run_error(dbs, settings, channels, caplog):
    webhook, mailbox = channels
    webhook.status = 500
    seed_platform(dbs.source_url)
    process_quiet_hours(dbs)
    break_pipeline(dbs.warehouse_url)
    caplog.set_level(logging.INFO, logger="mcq_analytics.alerts")
    run_and_notify(dbs, settings, hour(0))
    result, report = run_and_notify(dbs, settings, hour(1))

    assert result.status == "failed" and "RaiseException" in result.error
    row = meta(dbs.warehouse_url)
    assert (row["status"], row["consecutive_failures"]) == ("failed", 2)
    assert DB_PASSWORD not in row["last_error"]  # redacted in the run's own record too (etl_metadata)
    assert report.channels == {"slack": "failed", "email": "sent"}
    assert len(webhook.posts) == 1 and len(mailbox.mails) == 1  # the webhook was tried once
    assert "alert channel Slack (slack_alerts) failed: AirflowException" in caplog.text
    assert "Status Code: 500" in caplog.text
    assert row["alerted_failures"] == 2  # e-mail went out: no second alert on the next failure
    assert run_and_notify(dbs, settings, hour(2))[1] is None


def test_unreachable_channels_are_logged_and_the_alert_retried_later(dbs, settings, monkeypatch, webhook, mailbox,
                                                                     caplog):
    dead = free_port()
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_ALERTS", slack_conn(f"http://127.0.0.1:{dead}/services/T/B/X"))
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn(dead))
    caplog.set_level(logging.INFO, logger="mcq_analytics.alerts")
    url = dbs.warehouse_url
    notify_after_run(record(url, PIPELINE, "boom"), settings, url)
    report = notify_after_run(record(url, PIPELINE, "boom"), settings, url)
    assert report.channels == {"slack": "failed", "email": "failed"}
    assert "alert channel Slack (slack_alerts) failed" in caplog.text
    assert "alert channel e-mail (smtp_default) failed: ConnectionRefusedError" in caplog.text
    assert meta(url)["alerted_failures"] is None  # nothing was delivered: the claim was given back

    monkeypatch.setenv("AIRFLOW_CONN_SLACK_ALERTS", slack_conn(webhook.url + "/services/T/B/X"))
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn(mailbox.port))
    report = notify_after_run(record(url, PIPELINE, "boom"), settings, url)
    assert report.claim.kind == ALERT and report.channels == {"slack": "sent", "email": "sent"}
    assert "3 times in a row" in webhook.posts[0]["json"]["text"]


def test_channels_without_a_connection_are_skipped_with_one_line(dbs, settings, monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_ALERTS", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    caplog.set_level(logging.INFO, logger="mcq_analytics.alerts")
    url = dbs.warehouse_url
    notify_after_run(record(url, PIPELINE, "boom"), settings, url)
    report = notify_after_run(record(url, PIPELINE, "boom"), settings, url)
    assert report.channels == {"slack": "skipped", "email": "skipped"}
    lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert lines == ["alert channel Slack skipped: no Airflow connection 'slack_alerts' is defined",
                     "alert channel e-mail skipped: no Airflow connection 'smtp_default' is defined"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_webhook_connection_as_host_and_token(dbs, settings, webhook, monkeypatch):
    """The JSON form: the endpoint with its scheme in ``host`` (the port kept), the token path as password."""
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_ALERTS", json.dumps({
        "conn_type": "slackwebhook", "host": webhook.url + "/services", "password": "T1/B1/SECRET1"}))
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    url = dbs.warehouse_url
    notify_after_run(record(url, PIPELINE, "boom"), settings, url)
    assert notify_after_run(record(url, PIPELINE, "boom"), settings, url).channels["slack"] == "sent"
    assert webhook.posts[0]["path"] == "/services/T1/B1/SECRET1"


def test_each_channel_sends_one_message_through_its_hook(channels):
    """The channel classes on their own: one call, one POST or one mail; a missing connection or recipient
    is "skipped", never an exception."""
    webhook, mailbox = channels
    message = alerts.AlertMessage(subject="[MCQ test] ALERT x", text="*x* failed", html="<p>x failed</p>")
    assert alerts.SlackChannel("slack_alerts").send(message) == "sent"
    assert alerts.EmailChannel("smtp_default", "oncall@example.com").send(message) == "sent"
    assert alerts.SlackChannel("no_such_connection").send(message) == "skipped"
    assert alerts.EmailChannel("smtp_default", None).send(message) == "skipped"
    assert [p["json"]["text"] for p in webhook.posts] == ["*x* failed"]
    assert [(m["subject"], m["to"]) for m in mailbox.mails] == [("[MCQ test] ALERT x", ["oncall@example.com"])]
    assert "<p>x failed</p>" in mailbox.mails[0]["body"]


@pytest.mark.parametrize("consecutive_before", [0, 1])
def test_two_failures_at_the_same_moment_send_exactly_one_alert(dbs, settings, channels, consecutive_before):
    webhook, mailbox = channels
    url = dbs.warehouse_url
    rounds = 6
    for r in range(rounds):
        pipeline = f"race_{r}"
        for _ in range(consecutive_before):
            record(url, pipeline, "boom")
        barrier = threading.Barrier(2)
        reports: list = []

        def fail_and_notify(pipeline=pipeline, barrier=barrier, reports=reports):
            window = hour(0)
            run_id = f"{pipeline}__{uuid.uuid4().hex[:8]}"
            metadata.begin_run(url, pipeline, window, "pandas", run_id)
            barrier.wait()
            outcome = metadata.finish_run(url, pipeline, window, run_id, error="boom")
            reports.append(notify_after_run(outcome, settings, url, error="boom"))

        threads = [threading.Thread(target=fail_and_notify) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(r is not None for r in reports) == [False, True], (r, reports)
        assert meta(url, pipeline)["consecutive_failures"] == consecutive_before + 2
    assert len(webhook.posts) == rounds and len(mailbox.mails) == rounds


# ----------------------------------------------------------------------------------- the Airflow callbacks

def run_dag_script(script_text: str, dbs, pg_server, tmp_path, base_dir) -> str:
    """Run a DAG file's own ``dag.test()`` in a child process on the session's migrated Airflow database
    (tests/airflow_harness.py); returns its output."""
    from airflow_harness import airflow_env

    airflow = airflow_env(pg_server, base_dir, "alerts")
    env = airflow.env(dbs.source_url, dbs.warehouse_url, AIRFLOW__CORE__DAGS_FOLDER=str(tmp_path),
                      AIRFLOW_CONN_SLACK_ALERTS=os.environ["AIRFLOW_CONN_SLACK_ALERTS"],
                      AIRFLOW_CONN_SMTP_DEFAULT=os.environ["AIRFLOW_CONN_SMTP_DEFAULT"], MCQ_ALERT_THRESHOLD="2",
                      MCQ_ALERT_EMAIL_TO="oncall@example.com", MCQ_AIRFLOW_BASE_URL="https://airflow.example.com")
    script = tmp_path / "mcq_alerts_e2e.py"
    script.write_text(script_text)
    proc = subprocess.run([sys.executable, str(script), dbs.source_url, dbs.warehouse_url], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert "DAGRUN" in proc.stdout, output[-5000:]
    return output


TIMEOUT_DAG_SCRIPT = textwrap.dedent('''
    """The project's FactBuildOperator hitting a real execution_timeout twice, then succeeding."""
    import sys
    from datetime import UTC, datetime, timedelta

    import psycopg
    from airflow.sdk import DAG, BaseOperator, CronDataIntervalTimetable

    from mcq_analytics.airflow.callbacks import on_task_failure, on_task_success
    from mcq_analytics.airflow.operators import FactBuildOperator

    WAREHOUSE = sys.argv[2]
    CALLBACKS = {"on_failure_callback": on_task_failure, "on_success_callback": on_task_success}


    class Repair(BaseOperator):
        def execute(self, context):
            with psycopg.connect(WAREHOUSE) as conn:
                conn.execute("DROP TRIGGER slow_load ON analytics.test_funnel_fact")


    with DAG("mcq_alerts_timeout", schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
             start_date=datetime(2024, 6, 1, tzinfo=UTC), catchup=False, default_args={"retries": 0}) as dag:
        slow_a = FactBuildOperator(task_id="build_a", pipeline="test_funnel_fact",
                                   execution_timeout=timedelta(seconds=2), **CALLBACKS)
        slow_b = FactBuildOperator(task_id="build_b", pipeline="test_funnel_fact", trigger_rule="all_done",
                                   execution_timeout=timedelta(seconds=2), **CALLBACKS)
        repair = Repair(task_id="repair", trigger_rule="all_done")
        ok = FactBuildOperator(task_id="build_c", pipeline="test_funnel_fact", **CALLBACKS)
        slow_a >> slow_b >> repair >> ok

    if __name__ == "__main__":
        dr = dag.test(logical_date=datetime(2024, 6, 1, 11, tzinfo=UTC))
        print("DAGRUN", dr.run_id, dr.state)
''')


def test_a_build_killed_by_its_execution_timeout_still_counts_and_alerts(dbs, pg_server, channels, tmp_path,
                                                                         tmp_path_factory):
    """``AirflowTaskTimeout`` is a BaseException: the build never reaches ``finish_run``; the failure
    callback records the orphaned final attempt (once) so the streak and the alert still happen."""
    webhook, mailbox = channels
    seed_platform(dbs.source_url)
    process_quiet_hours(dbs)
    with psycopg.connect(dbs.warehouse_url) as conn:
        conn.execute(f"""
            CREATE FUNCTION analytics.slow_load() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep(6); RETURN NULL; END $$;
            CREATE TRIGGER slow_load BEFORE INSERT ON analytics.{PIPELINE} FOR EACH STATEMENT
              EXECUTE FUNCTION analytics.slow_load();""")
    output = run_dag_script(TIMEOUT_DAG_SCRIPT, dbs, pg_server, tmp_path, tmp_path_factory.getbasetemp())

    assert len(webhook.posts) == 2 and len(mailbox.mails) == 2, output[-6000:]
    alert, recovery = (p["json"]["text"] for p in webhook.posts)
    assert "has failed 2 times in a row (dev)" in alert and "mcq_alerts_timeout / build_b" in alert
    assert "AirflowTaskTimeout" in alert
    assert "recovered (dev)" in recovery and "build_c" in recovery
    assert "2 consecutive failures, now reset to 0" in recovery  # each timed-out attempt counted once
    # Recorded by the operator (if it handles BaseException) or else by the failure callback, never by both:
    assert output.count("ended without bookkeeping; recording it as a failure") in (0, 2)
    # The timeout reached the alert (above); build_c's in-sequence success then cleared last_error.
    assert meta(dbs.warehouse_url)["last_error"] is None
    # (The three tasks share one run-log id, <pipeline>__<dag>__<run>__try1: one build task per pipeline
    # and DAG run is the operators' convention, so only the pipeline's row is checked here.)
    row = meta(dbs.warehouse_url)
    assert (row["status"], row["consecutive_failures"], row["alerted_failures"]) == ("success", 0, None)


def test_the_batch_dag_alerts_once_after_two_failed_runs_and_recovers(dbs, pg_server, channels, tmp_path_factory):
    """The real ``mcq_analytics_batch`` DAG (callbacks on its build tasks) under ``dag.test()``, every task
    with one retry: a retried attempt counts nothing, each run's final failure counts one, the 2nd run alerts
    once, the run after the repair sends the recovery notice; the other two pipelines never alert."""
    from airflow_harness import airflow_env, dag_test

    webhook, mailbox = channels
    seed_platform(dbs.source_url)
    process_quiet_hours(dbs)
    break_pipeline(dbs.warehouse_url)
    airflow = airflow_env(pg_server, tmp_path_factory.getbasetemp(), "alerts")
    env = airflow.env(dbs.source_url, dbs.warehouse_url,
                      AIRFLOW_CONN_SLACK_ALERTS=os.environ["AIRFLOW_CONN_SLACK_ALERTS"],
                      AIRFLOW_CONN_SMTP_DEFAULT=os.environ["AIRFLOW_CONN_SMTP_DEFAULT"], MCQ_ALERT_THRESHOLD="2",
                      MCQ_ALERT_EMAIL_TO="oncall@example.com", MCQ_AIRFLOW_BASE_URL="https://airflow.example.com")

    failed = dag_test(airflow, "mcq_analytics_batch", [at(60).isoformat(), at(120).isoformat()], proc_env=env,
                      retries=1)
    assert [r.tasks["test_funnel_fact.build"] for r in failed] == ["failed", "failed"]
    assert [r.tasks["test_summary_fact.build"] for r in failed] == ["success", "success"]
    assert len(webhook.posts) == 1 and len(mailbox.mails) == 1
    alert = webhook.posts[0]["json"]["text"]
    assert "*DAG / task:* mcq_analytics_batch / test_funnel_fact.build" in alert
    assert "[2024-06-01 10:00, 2024-06-01 11:00) UTC, [2024-06-01 11:00, 2024-06-01 12:00) UTC" in alert
    log_url = (f"https://airflow.example.com/dags/mcq_analytics_batch/runs/{quote(failed[1].run_id, safe='')}"
               "/tasks/test_funnel_fact.build?try_number=2")
    assert f"<{log_url}|task log in the Airflow UI>" in alert
    assert "FactBuildFailed" in alert and "postgresql://etl:***@replica.internal" in alert
    assert_no_secret(webhook.posts[0]["raw"], mailbox.mails[0]["raw"])
    with psycopg.connect(dbs.warehouse_url) as conn:
        attempts = conn.execute("SELECT status, count(*) FROM analytics.etl_run_log WHERE pipeline_name = %s"
                                " AND window_start >= %s GROUP BY status", (PIPELINE, at(0))).fetchall()
    assert attempts == [("failed", 4)]  # two runs x two tries, but only the final tries counted:
    assert meta(dbs.warehouse_url)["consecutive_failures"] == 2

    repair_pipeline(dbs.warehouse_url)
    # A later hour alone does not recover the pipeline: it is still stuck behind its two failed hours.
    (later,) = dag_test(airflow, "mcq_analytics_batch", [at(180).isoformat()], proc_env=env, retries=1)
    assert later.state == "success" and len(webhook.posts) == 1
    assert (meta(dbs.warehouse_url)["status"], meta(dbs.warehouse_url)["consecutive_failures"]) == ("failed", 2)
    # Re-running the failed hours (clearing their tasks) does, once.
    recovered = dag_test(airflow, "mcq_analytics_batch", [at(60).isoformat(), at(120).isoformat()], proc_env=env,
                         retries=1)
    assert [r.state for r in recovered] == ["success", "success"]
    assert len(webhook.posts) == 2 and len(mailbox.mails) == 2
    assert "recovered (dev)" in webhook.posts[1]["json"]["text"]
    assert mailbox.mails[1]["subject"] == "[MCQ dev] RECOVERED test_funnel_fact after 2 consecutive failures"
    assert {m["pipeline_name"]: m["alerted_failures"] for m in metadata.read_metadata(dbs.warehouse_url)} == {
        name: None for name in FACT_NAMES}

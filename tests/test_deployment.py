"""Static and small functional checks of the Docker deployment: Dockerfile, docker-compose.yaml,
.dockerignore, .env.example and deploy/. No Docker engine is needed: the compose file is parsed and
interpolated here the way Compose does it, scripts run against stubs or the test PostgreSQL, and the
alert sink receives real SMTP and webhook alerts from the Airflow providers' hooks."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from helpers import free_port
from psycopg.conninfo import conninfo_to_dict

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DEPLOY = ROOT / "deploy"
IMAGE_HOME = "/opt/mcq"  # MCQ_HOME in the image: the repository root

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}
REQUIRED_SERVICES = AIRFLOW_SERVICES | {"postgres", "mcq-db", "mcq-demo-data", "spark-master", "spark-worker"}
ONE_SHOT_SERVICES = {"airflow-init", "mcq-demo-data"}
CONNECTIONS = {"mcq_source", "mcq_warehouse", "spark_default", "slack_alerts", "smtp_default"}
MCQ_SETTINGS = {
    "MCQ_ENV",
    "MCQ_ENGINE",
    "MCQ_SPARK_MASTER",
    "MCQ_ALERT_THRESHOLD",
    "MCQ_AIRFLOW_BASE_URL",
    "MCQ_ALERT_EMAIL_TO",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|(^|_)KEY$|PRIVATE_KEY|API_KEY", re.IGNORECASE)
URI_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:(?P<password>[^@\s]+)@", re.IGNORECASE)
PLACEHOLDER = "change-me"
LOCALHOST = "127.0.0.1"


# --- Compose-style interpolation ------------------------------------------------------------------


class MissingVariable(LookupError):
    pass


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` whose body starts at ``start`` (nesting allowed)."""
    depth, i = 1, start
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unclosed ${{ in {text!r}")


def references(text: str) -> list[tuple[str, str | None]]:
    """Every ``(name, operator)`` in ``text``, nested ones too; operator is None, ':-', '?', ..."""
    found, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            name, op, arg = _split(text[i + 2 : end])
            found.append((name, op))
            found.extend(references(arg or ""))
            i = end + 1
        elif match := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", text[i:]):
            found.append((match[1], None))
            i += match.end()
        else:
            i += 1
    return found


def _split(body: str) -> tuple[str, str | None, str | None]:
    match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", body, re.DOTALL)
    assert match, f"unsupported interpolation ${{{body}}}"
    return match[1], match[2], match[3]


def interpolate(text: str, env: dict[str, str]) -> str:
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            out.append(_expand(text[i + 2 : end], env))
            i = end + 1
        elif match := re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", text[i:]):
            out.append(env.get(match[1], ""))
            i += match.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _expand(body: str, env: dict[str, str]) -> str:
    name, op, arg = _split(body)
    value = env.get(name)
    is_set, non_empty = value is not None, bool(value)
    if op in (":-", "-"):
        return value if (non_empty if op == ":-" else is_set) else interpolate(arg or "", env)
    if op in (":?", "?"):
        if not (non_empty if op == ":?" else is_set):
            raise MissingVariable(f"{name}: {arg}")
        return value or ""
    if op in (":+", "+"):
        return interpolate(arg or "", env) if (non_empty if op == ":+" else is_set) else ""
    return value or ""


def render(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [render(item, env) for item in node]
    if isinstance(node, dict):
        return {key: render(value, env) for key, value in node.items()}
    return node


def strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string value with its path in the document."""
    if isinstance(node, str):
        return [(path, node)]
    if isinstance(node, list):
        return [item for i, value in enumerate(node) for item in strings(value, f"{path}[{i}]")]
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in strings(value, f"{path}.{key}")]
    return []


def parse_env_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """(assignments, names that appear only in commented-out ``# NAME=`` examples)."""
    values, commented = {}, set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line.strip()):
            value = match[2].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[match[1]] = value
        elif match := re.fullmatch(r"#\s*([A-Z_][A-Z0-9_]*)=.*", line.strip()):
            commented.add(match[1])
    return values, commented - set(values)


# --- Fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose(raw_text: str) -> dict[str, Any]:
    data = yaml.safe_load(raw_text)
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE)[0]


@pytest.fixture(scope="module")
def rendered(compose: dict[str, Any], env_example: dict[str, str]) -> dict[str, Any]:
    """The compose file as `docker compose --env-file .env.example config` sees it."""
    return render(compose, dict(env_example))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def requirement_pin(name: str) -> str:
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(name)}==([^\s;#]+)", text, re.MULTILINE | re.IGNORECASE)
    assert match, f"requirements.txt pins no {name}"
    return match[1]


def project_python() -> str:
    """The project's Python minor version: pyproject's requires-python floor (requirements.txt agrees)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    floor = re.fullmatch(r">=\s*(\d+\.\d+)", pyproject["project"]["requires-python"].strip())
    assert floor, "requires-python should read '>=X.Y'"
    stated = re.search(r"Python (\d+\.\d+)", (ROOT / "requirements.txt").read_text(encoding="utf-8"))
    if stated:
        assert stated[1] == floor[1], "requirements.txt and pyproject.toml disagree on the Python version"
    return floor[1]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined, buffer = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        buffer += " " + stripped.rstrip("\\").strip() if buffer else stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            joined.append(buffer)
            buffer = ""
    out = []
    for item in joined:
        keyword, _, rest = item.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def dockerfile_args_before_from() -> dict[str, str]:
    args = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            args[name.strip()] = value.strip().strip("\"'")
    return args


def dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            for name, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\S+)", rest):
                env[name] = value.strip('"')
    return env


# --- Services and their wiring --------------------------------------------------------------------


def test_compose_has_every_service_airflow3_and_the_project_need(services):
    missing = REQUIRED_SERVICES - set(services)
    assert not missing, f"docker-compose.yaml lacks services: {sorted(missing)}"


def test_airflow_services_run_the_expected_commands(services):
    commands = {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }
    for name, command in commands.items():
        assert services[name].get("command") in (command, [command]), name


def test_every_depends_on_names_a_defined_service_with_a_valid_condition(services):
    valid = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        targets = depends if isinstance(depends, dict) else {t: {} for t in depends}
        for target, spec in targets.items():
            assert target in services, f"{name} depends on undefined service {target}"
            assert target != name
            condition = (spec or {}).get("condition", "service_started")
            assert condition in valid, f"{name} -> {target}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}, which has no healthcheck"
            if condition == "service_completed_successfully":
                assert target in ONE_SHOT_SERVICES, f"{target} never completes"


def test_startup_order_uses_health_and_completion_conditions(services):
    def condition(service: str, target: str) -> str | None:
        return ((services[service].get("depends_on") or {}).get(target) or {}).get("condition")

    for name in AIRFLOW_SERVICES | {"airflow-cli"}:
        assert condition(name, "postgres") == "service_healthy", name
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert condition(name, "airflow-init") == "service_completed_successfully", name
    # LocalExecutor tasks call the execution API.
    assert condition("airflow-scheduler", "airflow-apiserver") == "service_healthy"
    assert condition("mcq-demo-data", "mcq-db") == "service_healthy"
    assert condition("spark-worker", "spark-master") == "service_healthy"


def test_long_running_services_have_healthchecks_and_restart(services):
    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            assert str(service.get("restart", "no")) == "no", f"one-shot {name} must not restart"
            continue
        if service.get("profiles"):
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert service.get("restart") in ("always", "unless-stopped"), f"{name} does not restart"


def test_images_are_pinned(rendered):
    for name, service in rendered["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag and tag != "latest", f"{name}: image {image!r} is not pinned"
        if "build" in service:
            build = service["build"]
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            assert (context / dockerfile).resolve() == DOCKERFILE, f"{name} builds something else"


def test_services_on_the_project_image_share_it(services):
    images = {services[name]["image"] for name in AIRFLOW_SERVICES | {"mcq-demo-data", "spark-master", "spark-worker"}}
    assert len(images) == 1, f"one image for Airflow, Spark and the loader, found {images}"


# --- Dockerfile -----------------------------------------------------------------------------------


def test_dockerfile_airflow_and_python_versions_match_the_project():
    args = dockerfile_args_before_from()
    assert args.get("AIRFLOW_VERSION") == requirement_pin("apache-airflow")
    assert args.get("PYTHON_VERSION") == project_python()
    froms = [rest for keyword, rest in dockerfile_instructions() if keyword == "FROM"]
    assert len(froms) == 1, "a single-stage build on the official image"
    image = interpolate(froms[0].split()[0], args)
    expected = f"apache/airflow:{requirement_pin('apache-airflow')}-python{project_python()}"
    assert image == expected


def test_dockerfile_installs_java_the_jdbc_jar_and_the_requirements_as_documented():
    instructions = dockerfile_instructions()
    user, apt_as_root, pip_runs = "root", False, []
    for keyword, rest in instructions:
        if keyword == "USER":
            user = rest
        elif keyword == "RUN" and "apt-get install" in rest:
            assert user == "root", "apt-get must run as root"
            assert "libpostgresql-jdbc-java" in rest
            assert "JAVA_PACKAGE" in rest or "openjdk-17-jre-headless" in rest
            apt_as_root = True
        elif keyword == "RUN" and "pip install" in rest:
            assert user == "airflow", "pip must run as the airflow user (the image's documented way)"
            pip_runs.append(rest)
    assert apt_as_root
    assert user == "airflow", "the image must end as the airflow user"
    java_arg = re.search(r"^ARG JAVA_PACKAGE=(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert java_arg and java_arg[1] == "openjdk-17-jre-headless"
    assert any(
        re.search(r'pip install --no-cache-dir "apache-airflow==\$\{AIRFLOW_VERSION\}" -r \S*requirements\.txt', run)
        for run in pip_runs
    ), "requirements.txt is installed the way the Airflow image documents"
    assert any(re.search(r"pip install .*-e \"?\$\{MCQ_HOME\}\"?", run) for run in pip_runs)
    env = dockerfile_env()
    assert env.get("MCQ_JDBC_JAR") == "/usr/share/java/postgresql.jar"
    assert env.get("MCQ_HOME") == IMAGE_HOME
    assert env.get("JAVA_HOME", "").startswith("/usr/lib/jvm/")
    assert env.get("AIRFLOW__CORE__DAGS_FOLDER") == f"{IMAGE_HOME}/dags"
    assert env.get("SPARK_CONF_DIR") == f"{IMAGE_HOME}/deploy/spark"
    assert (DEPLOY / "spark" / "spark-defaults.conf").is_file()


def test_dockerfile_copies_only_existing_allowed_files():
    allowed = dockerignore_allowed()
    for keyword, rest in dockerfile_instructions():
        if keyword != "COPY":
            continue
        parts = [p for p in rest.split() if not p.startswith("--")]
        for source in parts[:-1]:
            if source == ".":
                continue
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
            assert source.rstrip("/") in allowed, f"COPY {source} is excluded by .dockerignore"


def dockerignore_allowed() -> set[str]:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert lines[0] == "*", ".dockerignore must start by excluding everything (allow-list)"
    return {line[1:].rstrip("/") for line in lines if line.startswith("!")}


def test_dockerignore_lets_the_project_in_and_keeps_secrets_out():
    allowed = dockerignore_allowed()
    needed = {"requirements.txt", "pyproject.toml", "README.md", "run_etl.py", "src", "include", "dags",
              "plugins", "deploy"}
    assert needed <= allowed, f"missing from the allow-list: {sorted(needed - allowed)}"
    for forbidden in (".env", ".venv", ".git", ".mcq", "airflow_home", "tests"):
        assert not any(entry == forbidden or entry.startswith(forbidden + "/") for entry in allowed), forbidden
    # Only the CLI's committed, secret-free per-environment examples (run_etl.py --env NAME needs them).
    env_entries = {entry for entry in allowed if entry.startswith(".env")}
    assert env_entries == {".env.*.example"}, env_entries


def test_dockerfile_bakes_in_no_secret():
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert PLACEHOLDER not in text
    for keyword, rest in dockerfile_instructions():
        if keyword in ("ENV", "ARG"):
            for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", rest) or [rest.split()[0]]:
                assert not SECRET_NAME.search(name), f"{keyword} {name} looks like a secret"
    assert not URI_PASSWORD.search(text)


# --- Environment, connections, secrets, ports ------------------------------------------------------


def test_airflow_common_environment_is_airflow3_local_executor(compose, rendered):
    env = environment(compose["x-airflow-common"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "mcq_analytics.airflow.executor.PreloadedLocalExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    for name in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY",
                 "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"):
        assert name in env, name
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith(".SimpleAuthManager")
    parallelism = int(environment(rendered["x-airflow-common"])["AIRFLOW__CORE__PARALLELISM"])
    assert 1 <= parallelism <= 8, "keep LocalExecutor small for small hosts"
    for name in AIRFLOW_SERVICES | {"airflow-cli"}:
        assert environment(compose["services"][name]).items() >= env.items(), f"{name} lost the common env"


def test_project_settings_reach_airflow_and_the_loader(compose, rendered):
    for name in AIRFLOW_SERVICES | {"mcq-demo-data"}:
        env = environment(compose["services"][name])
        assert env.keys() >= MCQ_SETTINGS, f"{name} lacks {sorted(MCQ_SETTINGS - env.keys())}"
    env = environment(rendered["services"]["airflow-scheduler"])
    assert env["MCQ_ENV"] == "docker"
    assert env["MCQ_ENGINE"] in ("pandas", "spark", "auto")
    assert env["MCQ_JDBC_JAR"] == "/usr/share/java/postgresql.jar"


def connection_ids_used_by_the_code() -> set[str]:
    """Connection ids written as literals in dags/, plugins/, src/ and include/ (conn_id=..., constants)."""
    pattern = re.compile(
        r"""(?i)\b\w*conn(?:ection)?_id\w*\s*(?::\s*[\w\[\]| ]+)?=\s*["']([A-Za-z0-9_.-]+)["']"""
        r"""|get_connection\(\s*["']([A-Za-z0-9_.-]+)["']"""
    )
    found = set()
    for folder in ("dags", "plugins", "src", "include"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in pattern.finditer(path.read_text(encoding="utf-8")):
                found.add(match[1] or match[2])
    return found


def test_every_connection_the_dags_use_is_defined_for_every_airflow_service(compose):
    wanted = CONNECTIONS | connection_ids_used_by_the_code()
    common = environment(compose["x-airflow-common"])
    for conn_id in sorted(wanted):
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in common, f"connection {conn_id} is not defined"


def test_connection_uris_parse_as_the_hooks_expect(rendered):
    from airflow.models.connection import Connection

    env = environment(rendered["x-airflow-common"])
    conns = {c: Connection(conn_id=c, uri=env[f"AIRFLOW_CONN_{c.upper()}"]) for c in CONNECTIONS}
    for name, database in (("mcq_source", "mcq_source"), ("mcq_warehouse", "mcq_warehouse")):
        conn = conns[name]
        assert (conn.conn_type, conn.host, conn.port, conn.schema) == ("postgres", "mcq-db", 5432, database)
        assert conn.login == "mcq" and conn.password
    spark = conns["spark_default"]
    assert (spark.conn_type, spark.host, spark.port) == ("spark", "spark-master", 7077)
    assert spark.extra_dejson.get("deploy-mode") == "client", "standalone cluster mode cannot be tracked"
    assert env["MCQ_SPARK_MASTER"] == f"spark://{spark.host}:{spark.port}"
    assert conns["slack_alerts"].conn_type == "slackwebhook" and conns["slack_alerts"].password
    smtp = conns["smtp_default"]
    assert smtp.conn_type == "smtp" and smtp.host and smtp.extra_dejson.get("from_email")
    # run_etl.py and mcq-generate see the same databases as the connections.
    assert env["MCQ_SOURCE_URL"] == env["AIRFLOW_CONN_MCQ_SOURCE"]
    assert env["MCQ_WAREHOUSE_URL"] == env["AIRFLOW_CONN_MCQ_WAREHOUSE"]


def test_database_passwords_are_shared_between_server_and_clients(rendered, env_example):
    services = rendered["services"]
    airflow_db = environment(services["postgres"])["POSTGRES_PASSWORD"]
    assert airflow_db == env_example["AIRFLOW_DB_PASSWORD"]
    sql_conn = environment(rendered["x-airflow-common"])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert f":{airflow_db}@postgres/" in sql_conn
    mcq_db = environment(services["mcq-db"])
    assert mcq_db["POSTGRES_DB"] == "mcq_source" and mcq_db["MCQ_WAREHOUSE_DB"] == "mcq_warehouse"
    assert f"mcq:{mcq_db['POSTGRES_PASSWORD']}@mcq-db:5432/" in environment(services["mcq-demo-data"])["MCQ_SOURCE_URL"]


def published_ports(services: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(service, host ip or None when the short syntax names none)."""
    out = []
    for name, service in services.items():
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                out.append((name, port.get("host_ip")))
                continue
            parts = re.split(r":(?![^{]*\})", str(port))  # ':' outside ${...}
            out.append((name, ":".join(parts[:-2]) if len(parts) >= 3 else None))
    return out


def test_no_port_is_published_on_all_interfaces(compose, rendered):
    ports = published_ports(compose["services"])
    assert ports, "the UI at least is published"
    allowed = re.compile(r"127\.0\.0\.1|\$\{[A-Za-z_][A-Za-z0-9_]*:-127\.0\.0\.1\}")
    for name, host_ip in ports:
        assert host_ip and allowed.fullmatch(host_ip), f"{name} publishes on {host_ip or 'every interface'}"
    for name, host_ip in published_ports(rendered["services"]):
        assert host_ip == LOCALHOST, f"{name} binds {host_ip} with .env.example"
    ui = [p for p in compose["services"]["airflow-apiserver"]["ports"] if str(p).endswith(":8080")]
    assert ui, "the api-server publishes port 8080"


def test_compose_holds_no_literal_secret(compose, raw_text):
    assert PLACEHOLDER not in raw_text
    reference_only = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}")
    for path, value in strings(compose):
        key = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(key) and not key.endswith(("_FILE", "_USERS")):
            assert reference_only.fullmatch(value), f"{path} must be a ${{VAR}} from .env, not {value!r}"
        for match in URI_PASSWORD.finditer(value):
            assert reference_only.fullmatch(match["password"]), f"{path} embeds a literal password"
        assert not re.search(r"PGPASSWORD=\w", value), path


def compose_references(compose: dict[str, Any]) -> list[tuple[str, str | None]]:
    found = []
    for _, value in strings(compose):
        found.extend(references(value))
    return found


def test_env_example_defines_every_required_variable(compose, env_example):
    required = {name for name, op in compose_references(compose) if op in (None, "?", ":?")}
    missing = {name for name in required if not env_example.get(name)}
    assert not missing, f".env.example must define {sorted(missing)}"


def test_env_example_documents_exactly_the_compose_variables(compose):
    values, commented = parse_env_file(ENV_EXAMPLE)
    used = {name for name, _ in compose_references(compose)}
    documented = values.keys() | commented
    assert not used - documented, f"undocumented in .env.example: {sorted(used - documented)}"
    assert not documented - used, f"unused in compose: {sorted(documented - used)}"


def test_env_example_holds_placeholders_only(env_example):
    for name, value in env_example.items():
        if SECRET_NAME.search(name):
            assert value == PLACEHOLDER, f"{name} must be the {PLACEHOLDER} placeholder in .env.example"
        for match in URI_PASSWORD.finditer(value):
            password = match["password"]
            assert password == PLACEHOLDER or "alert-sink" in password, f"{name} embeds a credential"
    assert "MCQ_BIND_ADDRESS" not in env_example or env_example["MCQ_BIND_ADDRESS"] == LOCALHOST


def test_rendering_fails_without_the_secrets(compose):
    with pytest.raises(MissingVariable):
        render(compose, {})


def airflow_config_options() -> set[tuple[str, str]]:
    spec = importlib.util.find_spec("airflow")
    assert spec and spec.submodule_search_locations
    template = Path(spec.submodule_search_locations[0]) / "config_templates" / "config.yml"
    config = yaml.safe_load(template.read_text(encoding="utf-8"))
    return {(section, option) for section, body in config.items() for option in (body.get("options") or {})}


def test_every_airflow_setting_is_a_real_airflow_option(compose):
    options = airflow_config_options()
    settings = set(dockerfile_env())
    for path, _ in strings(compose):
        settings.add(path.rsplit(".", 1)[-1])
    for name in sorted(settings):
        if match := re.fullmatch(r"AIRFLOW__([A-Z0-9_]+?)__([A-Z0-9_]+)", name):
            section, option = match[1].lower(), match[2].lower()
            version = requirement_pin("apache-airflow")
            assert (section, option) in options, f"{name}: Airflow {version} has no such option"


def test_auth_manager_class_exists(compose):
    dotted = environment(compose["x-airflow-common"])["AIRFLOW__CORE__AUTH_MANAGER"]
    module, _, cls = dotted.rpartition(".")
    assert importlib.util.find_spec(module) is not None, module
    source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
    assert f"class {cls}(" in source


# --- deploy/ scripts and mounts ---------------------------------------------------------------------


def test_mounted_and_executed_files_exist(services):
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
        command = service.get("entrypoint") or service.get("command") or []
        for part in command if isinstance(command, list) else command.split():
            if str(part).startswith(IMAGE_HOME + "/"):
                assert (ROOT / str(part)[len(IMAGE_HOME) + 1 :]).is_file(), f"{name} runs missing {part}"
    mounts = {str(v).split(":")[1] for v in services["mcq-db"]["volumes"] if str(v).startswith(".")}
    assert "/docker-entrypoint-initdb.d" in mounts
    assert environment(services["mcq-db"])["MCQ_SQL_DIR"] in mounts


@pytest.mark.parametrize("script", sorted(p.relative_to(ROOT).as_posix() for p in DEPLOY.rglob("*.sh")))
def test_shell_scripts_parse(script):
    subprocess.run(["bash", "-n", str(ROOT / script)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", str(ROOT / script)], check=True)


def test_demo_data_loader_runs_init_db_then_the_generator(compose):
    text = (DEPLOY / "demo-data.sh").read_text(encoding="utf-8")
    init = text.index('python run_etl.py --env "${MCQ_ENV:-docker}" init-db')
    generate = text.index('mcq-generate --url "${MCQ_SOURCE_URL}" --reset')
    assert init < generate
    assert compose["x-mcq-env"]["MCQ_ENV"] == "docker"
    assert compose["services"]["mcq-demo-data"]["entrypoint"][-1] == f"{IMAGE_HOME}/deploy/demo-data.sh"


def test_cli_reads_the_compose_databases_in_the_docker_environment(rendered):
    from mcq_analytics.config import load_settings

    env = environment(rendered["services"]["mcq-demo-data"])
    assert env["MCQ_ENV"] == "docker"
    settings = load_settings(env["MCQ_ENV"], environ=env)
    assert (settings.source_url, settings.warehouse_url) == (env["MCQ_SOURCE_URL"], env["MCQ_WAREHOUSE_URL"])
    assert not settings.use_embedded
    assert settings.engine == env["MCQ_ENGINE"] and settings.spark_master == env["MCQ_SPARK_MASTER"]
    assert settings.jdbc_jar == "/usr/share/java/postgresql.jar"
    assert settings.alert_threshold == int(env["MCQ_ALERT_THRESHOLD"])


def test_postgres_init_script_creates_both_databases_with_the_schema(pg_server):
    if not shutil.which("psql"):
        pytest.skip("psql not installed")
    suffix = uuid.uuid4().hex[:8]
    source, warehouse = f"init_source_{suffix}", f"init_warehouse_{suffix}"
    pg_server.create_database(source)  # the postgres image creates POSTGRES_DB itself
    url = conninfo_to_dict(pg_server.admin_url)
    env = {
        "PATH": os.environ["PATH"],
        "PGHOST": str(url.get("host", LOCALHOST)),
        "PGPORT": str(url.get("port", 5432)),
        "PGPASSWORD": str(url.get("password") or ""),
        "POSTGRES_USER": str(url.get("user", "postgres")),
        "POSTGRES_DB": source,
        "MCQ_WAREHOUSE_DB": warehouse,
        "MCQ_SQL_DIR": str(ROOT / "include" / "sql"),
    }
    try:
        for _ in range(2):  # the CREATE DATABASE guard makes a second run harmless
            subprocess.run(["bash", str(DEPLOY / "postgres-init" / "10-mcq-databases.sh")], env=env, check=True,
                           capture_output=True, timeout=60)
        with psycopg.connect(pg_server.url(source)) as conn:
            assert conn.execute("SELECT to_regclass('public.answers') IS NOT NULL").fetchone()[0]
        with psycopg.connect(pg_server.url(warehouse)) as conn:
            for table in ("question_interaction_fact", "test_summary_fact", "test_funnel_fact", "etl_metadata"):
                assert conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"analytics.{table}",)).fetchone()[0]
    finally:
        pg_server.drop_database(source)
        pg_server.drop_database(warehouse)


def load_make_env():
    spec = importlib.util.spec_from_file_location("make_env", DEPLOY / "make_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_env_replaces_every_placeholder_with_a_usable_secret(tmp_path, compose):
    from cryptography.fernet import Fernet

    env_file = tmp_path / ".env"
    assert load_make_env().main(["--env-file", str(env_file), "--example", str(ENV_EXAMPLE)]) == 0
    values = parse_env_file(env_file)[0]
    assert not [name for name, value in values.items() if PLACEHOLDER in value]
    assert values.keys() == parse_env_file(ENV_EXAMPLE)[0].keys()
    Fernet(values["AIRFLOW_FERNET_KEY"].encode())
    for name in ("AIRFLOW_DB_PASSWORD", "MCQ_DB_PASSWORD", "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD"):
        assert re.fullmatch(r"[0-9a-f]{32,}", values[name]), name
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    rendered = render(compose, values)
    assert PLACEHOLDER not in json.dumps(rendered)
    # A second run keeps the values.
    before = env_file.read_text(encoding="utf-8")
    load_make_env().main(["--env-file", str(env_file), "--example", str(ENV_EXAMPLE)])
    assert env_file.read_text(encoding="utf-8") == before


def run_airflow_init(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """deploy/airflow-init.sh with a stub `airflow` that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "airflow"
    stub.write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/airflow-calls"\n', encoding="utf-8")
    stub.chmod(0o755)
    python_dir = Path(sys.executable).parent
    full_env = {"PATH": f"{bin_dir}:{python_dir}:/usr/bin:/bin", **env}
    return subprocess.run(["bash", str(DEPLOY / "airflow-init.sh")], env=full_env, capture_output=True,
                          text=True, timeout=60)


def test_airflow_init_refuses_placeholders_and_writes_the_password_file(tmp_path, rendered):
    from cryptography.fernet import Fernet

    env = environment(rendered["services"]["airflow-init"])
    passwords = tmp_path / "config" / "passwords.json"
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(passwords)

    refused = run_airflow_init(tmp_path, env)  # .env.example as is
    assert refused.returncode != 0 and PLACEHOLDER in refused.stderr
    assert not (tmp_path / "airflow-calls").exists()

    filled = {k: v.replace(PLACEHOLDER, "s3cret-" + uuid.uuid4().hex) for k, v in env.items()}
    filled["AIRFLOW__CORE__FERNET_KEY"] = "not-a-fernet-key"
    bad_key = run_airflow_init(tmp_path, filled)
    assert bad_key.returncode != 0 and "Fernet" in bad_key.stderr

    filled["AIRFLOW__CORE__FERNET_KEY"] = Fernet.generate_key().decode()
    done = run_airflow_init(tmp_path, filled)
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "airflow-calls").read_text().splitlines()
    assert calls[0] == "db migrate"
    assert json.loads(passwords.read_text()) == {filled["AIRFLOW_ADMIN_USERNAME"]: filled["AIRFLOW_ADMIN_PASSWORD"]}
    assert oct(passwords.stat().st_mode & 0o777) == "0o600"
    users = filled["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    assert users == f"{filled['AIRFLOW_ADMIN_USERNAME']}:admin"


# --- The alert sink, fed by the real hooks --------------------------------------------------------




def wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((LOCALHOST, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def test_alert_sink_receives_the_example_smtp_and_slack_alerts(env_example, monkeypatch):
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    smtp_port, http_port = free_port(), free_port()
    sink = subprocess.Popen(
        [sys.executable, str(DEPLOY / "alert_sink.py")],
        env={**os.environ, "ALERT_SINK_HOST": LOCALHOST, "ALERT_SINK_SMTP_PORT": str(smtp_port),
             "ALERT_SINK_HTTP_PORT": str(http_port)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        wait_for_port(smtp_port, deadline)
        wait_for_port(http_port, deadline)
        # The .env.example connections, aimed at this sink instead of the alert-sink container.
        smtp_uri = env_example["AIRFLOW_CONN_SMTP_DEFAULT"].replace("alert-sink:1025", f"{LOCALHOST}:{smtp_port}")
        slack_uri = env_example["AIRFLOW_CONN_SLACK_ALERTS"].replace("alert-sink%3A8000", f"{LOCALHOST}%3A{http_port}")
        assert smtp_uri != env_example["AIRFLOW_CONN_SMTP_DEFAULT"]
        assert slack_uri != env_example["AIRFLOW_CONN_SLACK_ALERTS"]
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_uri)
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_ALERTS", slack_uri)

        with SmtpHook(smtp_conn_id="smtp_default") as hook:
            hook.send_email_smtp(to="data-team@example.com", subject="mcq alert test", html_content="<p>failed</p>")
        SlackWebhookHook(slack_webhook_conn_id="slack_alerts").send_text("mcq slack alert test")
    finally:
        sink.terminate()
        out, err = sink.communicate(timeout=20)
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    mails = [r for r in records if r["channel"] == "smtp"]
    posts = [r for r in records if r["channel"] == "webhook"]
    assert mails and mails[0]["subject"] == "mcq alert test" and mails[0]["to"] == ["data-team@example.com"], err
    assert posts and posts[0]["payload"]["text"] == "mcq slack alert test" and posts[0]["path"] == "/slack", err


# --- Optional: the real Compose CLI ----------------------------------------------------------------


def compose_cli() -> list[str] | None:
    for candidate in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(candidate[0]):
            probe = subprocess.run([*candidate, "version"], capture_output=True, text=True)
            if probe.returncode == 0 and "v2" in probe.stdout:
                return candidate
    return None


def test_docker_compose_config_accepts_the_file():
    cli = compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose v2 CLI here")
    ok = subprocess.run([*cli, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE), "config", "--quiet"],
                        capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    empty = subprocess.run([*cli, "--env-file", os.devnull, "-f", str(COMPOSE_FILE), "config", "--quiet"],
                           capture_output=True, text=True, cwd=ROOT)
    assert empty.returncode != 0 and "required variable" in empty.stderr

#!/usr/bin/env bash
# One-shot set-up of the airflow-init service. It runs through the image's /entrypoint, which has already
# waited for the metadata database. Refuses placeholder secrets, migrates the metadata database and writes
# the simple auth manager's password file (shared with the api-server through the airflow-config volume).
set -euo pipefail

fail() {
    echo "airflow-init: $*" >&2
    exit 1
}

# Any value still holding the .env.example placeholder means .env was not filled in.
placeholders=$(env | grep -E '^[A-Za-z_][A-Za-z0-9_]*=.*change-me' | cut -d= -f1 | sort || true)
if [[ -n "${placeholders}" ]]; then
    fail "these settings still contain the 'change-me' placeholder of .env.example:" \
        "$(echo "${placeholders}" | tr '\n' ' ')- run 'python3 deploy/make_env.py' or edit .env"
fi
[[ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ]] || fail "AIRFLOW_ADMIN_PASSWORD is empty: set it in .env"
python - <<'PY' || fail "AIRFLOW_FERNET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
import os

from cryptography.fernet import Fernet

Fernet(os.environ["AIRFLOW__CORE__FERNET_KEY"])
PY

airflow db migrate

python - <<'PY'
import json
import os

path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
os.makedirs(os.path.dirname(path), exist_ok=True)
user = os.environ.get("AIRFLOW_ADMIN_USERNAME") or "admin"
with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
    json.dump({user: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, handle)
os.chmod(path, 0o600)
print(f"airflow-init: UI user '{user}' gets the password AIRFLOW_ADMIN_PASSWORD from .env")
PY

airflow version

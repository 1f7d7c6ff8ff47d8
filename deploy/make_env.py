"""Fill the compose ``.env`` with fresh random secrets.

Copies .env.example to .env when .env is missing, then replaces every ``change-me`` placeholder value
with a random secret (a Fernet key for AIRFLOW_FERNET_KEY). Values already changed are kept, so running
it again is harmless. Standard library only: ``python3 deploy/make_env.py [--env-file PATH]``.
"""

from __future__ import annotations

import argparse
import base64
import re
import secrets
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "change-me"
LINE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


def new_secret(name: str) -> str:
    if name == "AIRFLOW_FERNET_KEY":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    # Hex: safe inside connection URIs and needs no quoting in .env.
    return secrets.token_hex(24)


def fill(text: str) -> tuple[str, list[str]]:
    out, changed = [], []
    for line in text.splitlines(keepends=True):
        match = LINE.match(line.rstrip("\r\n"))
        if match and match["value"].strip().strip("'\"") == PLACEHOLDER:
            line = f"{match['name']}={new_secret(match['name'])}\n"
            changed.append(match["name"])
        out.append(line)
    return "".join(out), changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env")
    parser.add_argument("--example", type=Path, default=ROOT / ".env.example")
    args = parser.parse_args(argv)
    if not args.env_file.exists():
        shutil.copyfile(args.example, args.env_file)
        print(f"created {args.env_file} from {args.example}")
    text, changed = fill(args.env_file.read_text(encoding="utf-8"))
    args.env_file.write_text(text, encoding="utf-8")
    args.env_file.chmod(0o600)
    done = ", ".join(changed) if changed else "nothing (no placeholder left)"
    print(f"{args.env_file}: new random values for {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

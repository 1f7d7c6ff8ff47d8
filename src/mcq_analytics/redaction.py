"""Keeping secrets out of messages, logs and etl_metadata: known secrets and secret-looking values → ``***``."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

_REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    # Slack incoming-webhook / workflow URLs: the path is the secret.
    (re.compile(r"(https?://hooks\.slack(?:-gov)?\.com/)[^\s'\"<>`]+", re.I), r"\1***"),
    # The password in any URL's user info: scheme://user:secret@host
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s:/@'\"<>]*:)[^\s@/'\"<>]+(@)", re.I), r"\1***\2"),
    # Slack tokens (bot, user, app, refresh, configuration).
    (re.compile(r"\bxox[a-z]-[A-Za-z0-9-]+", re.I), "xox*-***"),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+", re.I), "xapp-***"),
    # Authorization header values.
    (re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=\-]{6,}", re.I), r"\1 ***"),
    # key=value, key: value, "key": "value" (libpq DSNs, env dumps, JSON, query strings).
    (re.compile(
        r"""(\b(?:[a-z0-9]+_)*(?:password|passwd|pwd|secret|token|api_?key|access_?key|secret_?key|"""
        r"""private_?key|client_?secret)["']?\s*[=:]\s*)(?:'[^']*'|"[^"]*"|[^\s&;,'"()<>]+)""",
        re.I,
    ), r"\1***"),
]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` fit for a chat channel or an e-mail: known secrets and secret-looking values replaced by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
        if quote(secret, safe="") != secret:
            text = text.replace(quote(secret, safe=""), "***")
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def url_secrets(*urls: str | None) -> list[str]:
    """The passwords inside connection URLs, for :func:`redact`."""
    found = []
    for url in urls:
        if url:
            try:
                password = urlsplit(url).password
            except ValueError:
                continue
            if password:
                found += [password, unquote(password)]
    return found


class RedactingFormatter(logging.Formatter):
    """Wraps a handler's formatter so every line it writes — message, arguments and traceback alike — is
    redacted: one redaction for every path to a terminal or a log file."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Redact everything the handlers of ``logger`` (default: the root logger) write. Idempotent."""
    for handler in (logger or logging.getLogger()).handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))

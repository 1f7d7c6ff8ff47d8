"""Local stand-in for the alert channels of the Docker Compose demo.

An SMTP server (aiosmtpd) and a Slack-style incoming webhook that print every alert they receive as one
JSON line, so ``docker compose logs alert-sink`` shows what would have been mailed or posted. The
.env.example connections ``smtp_default`` and ``slack_alerts`` point here until real ones are set.
Not for production: it accepts anything from anyone on the compose network (it publishes no port).
"""

from __future__ import annotations

import json
import os
import signal
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

MAX_BODY = 4000


def emit(record: dict) -> None:
    print(json.dumps(record, default=str), flush=True)


class MailHandler:
    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain", "html"))
        emit({
            "channel": "smtp",
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": message["subject"],
            "body": body.get_content()[:MAX_BODY] if body is not None else "",
        })
        return "250 Message accepted for delivery"


class WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw.decode("utf-8", "replace")[:MAX_BODY]
        emit({"channel": "webhook", "path": self.path, "payload": payload})
        self._reply(200, b"ok")

    def do_GET(self) -> None:
        self._reply(200, b"ok")

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass


def main() -> None:
    host = os.environ.get("ALERT_SINK_HOST", "0.0.0.0")
    smtp_port = int(os.environ.get("ALERT_SINK_SMTP_PORT", "1025"))
    http_port = int(os.environ.get("ALERT_SINK_HTTP_PORT", "8000"))
    controller = Controller(MailHandler(), hostname=host, port=smtp_port)
    controller.start()
    httpd = ThreadingHTTPServer((host, http_port), WebhookHandler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=httpd.shutdown).start())
    emit({"channel": "sink", "smtp": f"{host}:{smtp_port}", "webhook": f"http://{host}:{http_port}/"})
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
        controller.stop()


if __name__ == "__main__":
    main()

"""Where notices land on one machine: a local SMTP server and an SMS gateway stand-in, for the
demo and for ``leitai up --sinks DIR``.

Both write what they accept to an outbox folder (one JSON object a line), so that every mail and
text message the notify service really sent over the wire can be read afterwards.
"""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SMS_API_KEY = "leitai-demo"


class _Outbox:
    """What a sink took: kept in memory and, with a path, one JSON object a line in that file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._taken: list[dict] = []
        self._lock = threading.Lock()
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

    @property
    def count(self) -> int:
        return len(self._taken)

    def taken(self) -> list[dict]:
        with self._lock:
            return list(self._taken)

    def write(self, record: dict) -> None:
        with self._lock:
            self._taken.append(record)
            if self.path:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


class SmsGateway:
    """An HTTP SMS gateway stand-in on a free local port: takes each POST that bears the API key."""

    def __init__(self, api_key: str, outbox: Path | None = None) -> None:
        self.outbox = _Outbox(outbox)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                authorised = self.headers.get("Authorization") == f"Bearer {api_key}"
                if authorised:
                    sink.outbox.write(body)
                self.send_response(200 if authorised else 401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"code": "OK"}')

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/sms"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def messages(self) -> list[dict]:
        return self.outbox.taken()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _SmtpSession(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    outbox: _Outbox

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 leitai-demo ESMTP")
        recipients: list[str] = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].decode("ascii", "replace").upper()
            if verb == "EHLO":
                self.reply("250-leitai-demo\r\n250-8BITMIME\r\n250 SMTPUTF8")
            elif verb in ("HELO", "NOOP"):
                self.reply("250 OK")
            elif verb == "MAIL":
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.decode().split(":", 1)[1].strip().strip("<>").split(">")[0])
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                self._take(recipients)
                self.reply("250 OK")
            elif verb == "RSET":
                recipients = []
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def _take(self, recipients: list[str]) -> None:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        message = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
        self.outbox.write(
            {
                "to": recipients,
                "subject": str(message["Subject"]),
                "kind": str(message["X-Leitai-Kind"]),
                "message_id": str(message["Message-ID"]),
                "body": message.get_content(),
            }
        )


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Sinks:
    """The SMTP server and the SMS gateway on free local ports, writing into ``outbox_dir``;
    ``settings()`` is the notify service's channel configuration for them."""

    def __init__(self, outbox_dir: Path) -> None:
        self.mail = _Outbox(outbox_dir / "mail.jsonl")
        self._smtp = _Server(("127.0.0.1", 0), type("SmtpSession", (_SmtpSession,), {"outbox": self.mail}))
        threading.Thread(target=self._smtp.serve_forever, daemon=True).start()
        self._sms = SmsGateway(SMS_API_KEY, outbox_dir / "sms.jsonl")
        self.sms = self._sms.outbox

    @property
    def smtp_port(self) -> int:
        return self._smtp.server_address[1]

    def environment(self) -> dict[str, str]:
        """The settings, as config/notify.yaml reads them from the environment."""
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp_port),
            "SMTP_FROM": "leitai@localhost",
            "SMTP_STARTTLS": "false",
            "SMS_URL": self._sms.url,
            "SMS_API_KEY": SMS_API_KEY,
        }

    def settings(self) -> dict:
        return {
            "smtp": {"host": "127.0.0.1", "port": self.smtp_port, "sender": "leitai-demo@localhost"},
            "sms": {"url": self._sms.url, "api_key": SMS_API_KEY},
        }

    def stop(self) -> None:
        self._smtp.shutdown()
        self._smtp.server_close()
        self._sms.close()

"""Where the demo's notices land: a local SMTP server and an SMS gateway stand-in.

Both write what they accept to the demo's outbox (one JSON object a line), so that every
mail and text message the notify service really sent over the wire can be read afterwards.
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
    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")

    def write(self, record: dict) -> None:
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            self.count += 1


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
        self.outbox.write({"to": recipients, "subject": str(message["Subject"]), "kind": str(message["X-Leitai-Kind"]),
                           "message_id": str(message["Message-ID"]), "body": message.get_content()})


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Sinks:
    """Start both on free local ports; ``settings()`` is the notify service's channel config."""

    def __init__(self, outbox_dir: Path) -> None:
        self.mail = _Outbox(outbox_dir / "mail.jsonl")
        self.sms = _Outbox(outbox_dir / "sms.jsonl")
        handler = type("SmtpSession", (_SmtpSession,), {"outbox": self.mail})
        self._smtp = _Server(("127.0.0.1", 0), handler)
        sms = self.sms

        class SmsHandler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                authorised = self.headers.get("Authorization") == f"Bearer {SMS_API_KEY}"
                if authorised:
                    sms.write(body)
                self.send_response(200 if authorised else 401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"code": "OK"}')

            def log_message(self, *args):
                pass

        self._sms = ThreadingHTTPServer(("127.0.0.1", 0), SmsHandler)
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self._smtp, self._sms)]

    def start(self) -> "Sinks":
        for thread in self._threads:
            thread.start()
        return self

    def settings(self) -> dict:
        return {"smtp": {"host": "127.0.0.1", "port": self._smtp.server_address[1], "sender": "leitai-demo@localhost"},
                "sms": {"url": f"http://127.0.0.1:{self._sms.server_address[1]}/sms", "api_key": SMS_API_KEY}}

    def stop(self) -> None:
        for server in (self._smtp, self._sms):
            server.shutdown()
            server.server_close()

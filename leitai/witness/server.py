"""The witness's HTTP endpoint: ``POST <prefix>/add-checkpoint`` (C2SP tlog-witness), over
HTTP/1.1 with keep-alive, one thread a connection.

A request is bounded before it is read: its Content-Length must be given (411) and at most
``MAX_BODY`` bytes (413; an add-checkpoint body is a few kilobytes), and a client that stops
sending is dropped after ``TIMEOUT_S``. Every answer is plain text; no error ever shows a
traceback to the client, and every request is one structured log line.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from leitai.witness.witness import TEXT_TYPE, Answer, Witness

log = logging.getLogger(__name__)
MAX_BODY = 16 * 1024  # old line, 63 proof lines, a checkpoint with a handful of signatures: about 4 KiB
TIMEOUT_S = 10.0
DISCARD = 1024 * 1024  # the most of an oversized body read before its 413


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as tlog-witness asks witnesses to support
    timeout = TIMEOUT_S
    server_version = "leitai-witness"
    sys_version = ""
    error_content_type = TEXT_TYPE
    error_message_format = "%(code)d %(message)s\n"
    server: WitnessServer

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
        if self.path != self.server.endpoint:
            self._answer(Answer(404, "not found; POST <prefix>/add-checkpoint\n"), close=True)
            return
        length = self.headers.get("Content-Length")
        if length is None:
            self._answer(Answer(411, "a Content-Length is required\n"), close=True)
            return
        if not (length.isascii() and length.isdigit()):
            self._answer(Answer(400, "malformed Content-Length\n"), close=True)
            return
        if int(length) > MAX_BODY:
            # read (a bounded amount) and drop it: closing on unread data resets the connection,
            # and the client would see that instead of the 413
            self.rfile.read(min(int(length), DISCARD))
            self._answer(Answer(413, f"the body is over {MAX_BODY} bytes\n"), close=True)
            return
        data = self.rfile.read(int(length))
        if len(data) != int(length):
            self._answer(Answer(400, "the body is shorter than its Content-Length\n"), close=True)
            return
        try:
            answer = self.server.witness.add_checkpoint(data)
        except Exception as exc:  # noqa: BLE001 - a bug or a full disk is a 500 and a log line, never a traceback
            log.error("add-checkpoint failed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
            answer = Answer(500, "internal error; nothing was cosigned\n")
        self._answer(answer)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == self.server.endpoint:
            self._answer(Answer(405, "add-checkpoint takes POST\n"), close=True, allow="POST")
        else:
            self._answer(Answer(404, "not found\n"), close=True)

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET  # noqa: N815

    def _answer(self, answer: Answer, close: bool = False, allow: str | None = None) -> None:
        payload = answer.body.encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(payload)))
        if allow:
            self.send_header("Allow", allow)
        if close:  # the body was not read: the connection cannot carry another request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # log_request below writes the one structured line

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info(
            "request",
            extra={"method": self.command, "path": self.path, "status": int(code), "client": self.client_address[0]},
        )


class WitnessServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, witness: Witness, host: str, port: int, prefix: str = "") -> None:
        self.witness = witness
        self.endpoint = f"{prefix.rstrip('/')}/add-checkpoint"
        super().__init__((host, port), _Handler)
        self.port = self.server_address[1]
        self._thread: threading.Thread | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hung up mid-answer, or timed out: a line, not socketserver's traceback
        log.warning("connection failed", extra={"client": client_address[0]})

    def start(self) -> WitnessServer:
        """Serve in a thread of its own (tests, ``leitai up``); ``serve_forever`` serves in this one."""
        self._thread = threading.Thread(target=self.serve_forever, name="witness", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

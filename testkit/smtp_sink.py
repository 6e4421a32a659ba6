"""A real SMTP server for tests (aiosmtpd): every accepted message becomes a JSON line.

* RCPT to ``*@invalid.example`` is refused with 553 (an address the server will never take);
* while the file ``--hold`` exists, DATA waits before answering (the file ``<hold>.holding``
  says a message is waiting), so a test can kill the client in the middle of a send;
* a message whose client went away before the answer is not kept (nothing was acknowledged).

``SmtpSink`` runs it as a process of its own (``python -m testkit.smtp_sink``) and reads
what it took.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import signal
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller

from testkit.servers import ChildProcess, free_port, wait_until


class Sink:
    def __init__(self, out: Path, hold: Path) -> None:
        self.out, self.hold = out, hold

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@invalid.example"):
            return "553 5.1.3 malformed address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        marker = self.hold.with_suffix(".holding")
        while self.hold.exists():
            marker.touch()
            await asyncio.sleep(0.02)
        marker.unlink(missing_ok=True)
        if server.transport is None or server.transport.is_closing():
            return "451 client gone"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.out.open("a", encoding="utf-8") as handle:
            handle.write(
                json.dumps(
                    {
                        "to": envelope.rcpt_tos,
                        "subject": message["Subject"],
                        "message_id": message["Message-ID"],
                        "kind": message["X-Leitai-Kind"],
                        "body": message.get_content(),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
        return "250 OK"


class SmtpSink:
    def __init__(self, folder: Path) -> None:
        self.port, self.out, self.hold = free_port(), folder / "mail.jsonl", folder / "hold"
        self.process: ChildProcess | None = None

    def start(self) -> SmtpSink:
        self.process = ChildProcess(
            [
                sys.executable,
                "-m",
                "testkit.smtp_sink",
                "--port",
                str(self.port),
                "--out",
                str(self.out),
                "--hold",
                str(self.hold),
            ],
            name="smtp",
        ).start()
        wait_until(lambda: "smtp sink ready" in self.process.output(), what="the SMTP sink")
        return self

    def stop(self) -> None:
        self.process.stop()

    def mails(self, kind: str | None = None) -> list[dict]:
        if not self.out.exists():
            return []
        lines = [json.loads(line) for line in self.out.read_text(encoding="utf-8").splitlines()]
        return [m for m in lines if kind is None or m["kind"] == kind]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hold", type=Path, required=True)
    args = parser.parse_args()
    controller = Controller(Sink(args.out, args.hold), hostname="127.0.0.1", port=args.port)
    controller.start()
    print("smtp sink ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()

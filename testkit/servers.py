"""Real servers for the tests and the bench: a SecantusDB process, RabbitMQ vhosts, child processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import uuid
from pathlib import Path

from composition import localservers
from composition.localservers import (
    RABBIT_PASSWORD,
    RABBIT_USER,
    create_vhost,
    delete_vhost,
    die_with_parent,
    free_port,
    free_ports,
    grant_vhost,
    rabbit_management,
    revoke_vhost,
    wait_until,
)

__all__ = [
    "ROOT",
    "ChildProcess",
    "SecantusServer",
    "Vhost",
    "free_port",
    "free_ports",
    "python",
    "queue_state",
    "rabbit_management",
    "wait_until",
]
ROOT = Path(__file__).resolve().parents[1]
RABBIT_HOST = os.environ.get("LEITAI_TEST_RABBIT_HOST", "127.0.0.1:5672")


class SecantusServer(localservers.SecantusServer):
    """A SecantusDB server process with its own temporary storage, gone when it stops."""

    def __init__(self, executable: str, test_commands: bool = False) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="leitai-secantus-"))
        super().__init__(executable, self.folder / "store", test_commands=test_commands)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class Vhost:
    """A RabbitMQ virtual host of its own for one test: nothing leaks between tests."""

    def __init__(self, prefix: str = "leitai_test") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.uri = f"amqp://{RABBIT_USER}:{RABBIT_PASSWORD}@{RABBIT_HOST}/{urllib.parse.quote(self.name, safe='')}"

    def create(self) -> Vhost:
        create_vhost(self.name)
        return self

    def delete(self) -> None:
        try:
            delete_vhost(self.name)
        except urllib.error.HTTPError:
            pass

    def refuse(self) -> None:
        """A broker outage for this vhost only: every connection is closed and none is let in
        again until ``admit``."""
        revoke_vhost(self.name)
        self.drop_connections("test: broker outage")

    def drop_connections(self, reason: str = "test: connections force-closed") -> None:
        """Every connection of this vhost closed by the broker at once, as a broker restart
        closes them; clients may connect again straight away."""
        # rabbitmqctl asks the broker itself; the management API lists connections seconds late
        subprocess.run(
            ["rabbitmqctl", "-q", "close_all_connections", "-p", self.name, reason], check=True, capture_output=True
        )

    def admit(self) -> None:
        grant_vhost(self.name)

    def connections(self) -> list[str]:
        """The names of the connections open on this vhost (the management API's view)."""
        return [c["name"] for c in rabbit_management("GET", "/connections") or [] if c.get("vhost") == self.name]

    def close_connections(self) -> int:
        """Force-close every connection of this vhost, as a broker restart would, without
        touching anyone else's; returns how many were closed."""
        names = self.connections()
        for name in names:
            try:
                rabbit_management("DELETE", f"/connections/{urllib.parse.quote(name, safe='')}")
            except urllib.error.HTTPError as exc:
                if exc.code != 404:  # gone already
                    raise
        return len(names)


def queue_state(amqp_uri: str, name: str) -> tuple[int, int]:
    """(messages ready, consumers) of a queue; (0, 0) while it does not exist."""
    from kombu import Connection

    with Connection(amqp_uri) as connection:
        try:
            _, messages, consumers = connection.default_channel.queue_declare(name, passive=True)
        except Exception:  # noqa: BLE001 - a missing queue closes the channel with 404
            return 0, 0
        return messages, consumers


class ChildProcess:
    """A leitai process (nameko service, relay, CLI) run as the real thing, killable."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, name: str = "child") -> None:
        self.args = args
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **(env or {}))
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"leitai-{name}-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None
        self._terminated = False

    def start(self) -> ChildProcess:
        self._terminated = False
        self.process = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=ROOT,
            stdout=open(self.log_path, "ab"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last acks, as a crash would."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def terminate(self) -> None:
        """SIGTERM, without waiting for it to take effect (``stop`` waits); sent once only, as
        nameko takes a second SIGTERM for an order to stop at once."""
        if self.alive() and not self._terminated:
            self.process.terminate()
            self._terminated = True

    def stop(self) -> None:
        if self.alive():
            self.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]

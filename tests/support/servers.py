"""Real servers for tests: a SecantusDB process, RabbitMQ vhosts, child processes."""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from base64 import b64encode
from pathlib import Path
from typing import Callable

import pymongo

ROOT = Path(__file__).resolve().parents[2]
MANAGEMENT = os.environ.get("LEITAI_TEST_RABBIT_API", "http://127.0.0.1:15672/api")
RABBIT_USER, RABBIT_PASSWORD = "guest", "guest"
RABBIT_HOST = os.environ.get("LEITAI_TEST_RABBIT_HOST", "127.0.0.1:5672")


def wait_until(condition: Callable[[], object], timeout: float = 20.0, interval: float = 0.02, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: a killed test run leaves no server behind.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class SecantusServer:
    """A SecantusDB server process with its own temporary storage."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.storage = tempfile.mkdtemp(prefix="leitai-secantus-")
        self.port = free_port()
        self.url = f"mongodb://127.0.0.1:{self.port}/?retryWrites=false&directConnection=true"
        self.process: subprocess.Popen | None = None

    def start(self) -> "SecantusServer":
        log = open(Path(self.storage) / "server.log", "wb")
        self.process = subprocess.Popen(
            [self.executable, "--host", "127.0.0.1", "--port", str(self.port), "--storage-path", self.storage],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
        client = pymongo.MongoClient(self.url, serverSelectionTimeoutMS=500)
        try:
            wait_until(lambda: self.process.poll() is None and _pings(client), timeout=60, what="SecantusDB to answer")
        finally:
            client.close()
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        subprocess.run(["rm", "-rf", self.storage], check=False)


def _pings(client: pymongo.MongoClient) -> bool:
    try:
        return client.admin.command("ping").get("ok") == 1
    except pymongo.errors.PyMongoError:
        return False


def _management(method: str, path: str, body: dict | None = None) -> dict | list | None:
    request = urllib.request.Request(
        f"{MANAGEMENT}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json",
                 "authorization": "Basic " + b64encode(f"{RABBIT_USER}:{RABBIT_PASSWORD}".encode()).decode()},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


class Vhost:
    """A RabbitMQ virtual host of its own for one test: nothing leaks between tests."""

    def __init__(self, prefix: str = "leitai_test") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.uri = f"amqp://{RABBIT_USER}:{RABBIT_PASSWORD}@{RABBIT_HOST}/{urllib.parse.quote(self.name, safe='')}"

    def create(self) -> "Vhost":
        quoted = urllib.parse.quote(self.name, safe="")
        _management("PUT", f"/vhosts/{quoted}")
        _management("PUT", f"/permissions/{quoted}/{RABBIT_USER}", {"configure": ".*", "write": ".*", "read": ".*"})
        return self

    def delete(self) -> None:
        try:
            _management("DELETE", f"/vhosts/{urllib.parse.quote(self.name, safe='')}")
        except urllib.error.HTTPError:
            pass


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

    def start(self) -> "ChildProcess":
        self.process = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=open(self.log_path, "ab"),
                                        stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
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

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]

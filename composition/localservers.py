"""The servers a developer's machine runs for the demo, the tests and the benchmark: a
SecantusDB process (the MongoDB stand-in), RabbitMQ's management API, and a witness of the
logs (``leitai witness serve``). Not for production.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Mapping
from pathlib import Path

from pymongo.errors import PyMongoError

from leitai.mongo import connect
from leitai.witness.client import WitnessEndpoint
from leitai.witness.cosignature import Cosigner

RABBIT_API = os.environ.get("LEITAI_RABBIT_API", "http://127.0.0.1:15672/api")
RABBIT_USER, RABBIT_PASSWORD = "guest", "guest"


def wait_until(condition: Callable[[], object], timeout: float = 20.0, interval: float = 0.02, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy, and return that; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive ports that are all free now (``leitai up --ops-base``
    gives its processes one each): ports the OS hands out, such as a client connection's own,
    fall in the same range, so every one of them is tried."""
    while True:
        base = free_port()
        probes = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()


def die_with_parent() -> None:
    """For ``preexec_fn``: PR_SET_PDEATHSIG, so that a killed parent leaves no server behind."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class SecantusServer:
    """A SecantusDB process on a free local port, its data in ``storage`` (a fresh folder)."""

    def __init__(self, executable: str, storage: Path, keep_data: bool = False, test_commands: bool = False) -> None:
        """``test_commands``: mongod's test-only commands (``configureFailPoint``), for fault tests."""
        self.executable = executable
        self.storage = storage
        self.keep_data = keep_data
        self.test_commands = test_commands
        self.port = free_port()
        self.url = f"mongodb://127.0.0.1:{self.port}/?retryWrites=false&directConnection=true"
        self.process: subprocess.Popen | None = None

    def start(self) -> SecantusServer:
        shutil.rmtree(self.storage, ignore_errors=True)
        self.storage.mkdir(parents=True)
        return self._launch()

    def crash(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        assert self.process is not None, "start() first"
        self.process.kill()
        self.process.wait()

    def restart(self) -> None:
        """Start again on the same port and data, and wait until it answers."""
        self._launch()

    def crash_and_restart(self) -> None:
        self.crash()
        self.restart()

    def _launch(self) -> SecantusServer:
        log = open(self.storage.parent / f"{self.storage.name}.log", "ab")
        self.process = process = subprocess.Popen(
            [
                self.executable,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--storage-path",
                str(self.storage),
                *(["--enable-test-commands"] if self.test_commands else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        client = connect(self.url)
        try:
            wait_until(lambda: process.poll() is None and _pings(client), timeout=60, what="SecantusDB to answer")
        finally:
            client.close()
        return self

    def stop(self) -> None:
        terminate(self.process)
        if not self.keep_data:
            shutil.rmtree(self.storage, ignore_errors=True)


def witness_command(key: Path, state: Path, logs: Mapping[str, str], port: int) -> list[str]:
    """``leitai witness serve`` on 127.0.0.1:``port`` for ``logs`` (origin -> its relays' verifier key)."""
    watched = [word for origin, verifier in logs.items() for word in ("--log", f"{origin} {verifier}")]
    return [
        sys.executable,
        "-m",
        "composition.cli",
        "witness",
        "serve",
        "--key",
        str(key),
        *watched,
        "--state",
        str(state),
        "--listen",
        f"127.0.0.1:{port}",
    ]


class LocalWitness:
    """A witness process on a free local port, with its key (made if missing) and its state
    where it is told; what it writes goes to ``<state>.log``."""

    def __init__(self, key: Path, state: Path, logs: Mapping[str, str], name: str = "witness.local") -> None:
        if not key.exists():
            Cosigner.generate(name).write(key)
        self.cosigner = Cosigner.from_file(key)
        self.port = free_port()
        self.endpoint = WitnessEndpoint(f"http://127.0.0.1:{self.port}", self.cosigner.verifier)
        self.log_path = state.with_name(state.name + ".log")
        self._args = witness_command(key, state, logs, self.port)
        self.process: subprocess.Popen | None = None

    @property
    def entry(self) -> str:
        """It, as LEITAI_WITNESSES names a witness."""
        return f"{self.endpoint.url} {self.cosigner.verifier.encoded()}"

    def start(self) -> LocalWitness:
        self.process = process = subprocess.Popen(
            self._args, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
        wait_until(lambda: process.poll() is not None or "ready" in self.output(), what="the witness to listen")
        if process.poll() is not None:
            raise RuntimeError(f"the witness exited with {process.returncode}:\n{self.output()[-2000:]}")
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def crash(self) -> None:
        """SIGKILL, as a crash would."""
        assert self.process is not None, "start() first"
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        terminate(self.process)


def _pings(client) -> bool:
    try:
        return client.admin.command("ping").get("ok") == 1
    except PyMongoError:
        return False


def rabbit_management(method: str, path: str, body: dict | None = None) -> dict | list | None:
    """A call to RabbitMQ's management API (raises urllib's errors, HTTPError included)."""
    request = urllib.request.Request(
        f"{RABBIT_API}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "authorization": "Basic " + b64encode(f"{RABBIT_USER}:{RABBIT_PASSWORD}".encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def create_vhost(name: str) -> None:
    """A RabbitMQ virtual host, with all rights on it for the local user."""
    rabbit_management("PUT", f"/vhosts/{urllib.parse.quote(name, safe='')}")
    grant_vhost(name)


def grant_vhost(name: str) -> None:
    rabbit_management(
        "PUT",
        f"/permissions/{urllib.parse.quote(name, safe='')}/{RABBIT_USER}",
        {"configure": ".*", "write": ".*", "read": ".*"},
    )


def revoke_vhost(name: str) -> None:
    """The local user may no longer connect to ``name`` (open connections stay open)."""
    rabbit_management("DELETE", f"/permissions/{urllib.parse.quote(name, safe='')}/{RABBIT_USER}")


def delete_vhost(name: str) -> None:
    """Delete a virtual host and everything in it; one that does not exist is fine."""
    try:
        rabbit_management("DELETE", f"/vhosts/{urllib.parse.quote(name, safe='')}")
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise


def terminate(process: subprocess.Popen | None) -> None:
    """Stop ``process`` as a supervisor would: asked first, killed after 30 s."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()

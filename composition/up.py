"""``leitai up``: every service, relay and the gateway as its own process, supervised.

Production runs each of these as its own Deployment; this is the same set on one machine,
against the RabbitMQ and MongoDB the configs (and the environment) name. A child that exits
once everything was ready is started again after a delay that doubles with each crash in a
row (reset after a healthy minute); a child that exits during start-up stops everything,
since that is a configuration to fix, not a blip. ``--replicas N`` runs N of each service and
relay (competing consumers, a standby relay); the gateway stays one (it owns the HTTP port).
Each process serves its ops port (/healthz, /readyz, /metrics) on ``ops_base`` + its index.

Beside them runs a witness of the three logs (``leitai witness serve``) with a key and a state
of its own, and the relays send it each checkpoint (LEITAI_WITNESSES), so that a laptop run's
checkpoints are cosigned as a deployment's are by the witness 纪检 runs (docs/audit.md).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from composition.localservers import free_port, witness_command
from leitai.eventstore.notes import Signer
from leitai.witness.cosignature import Cosigner

# service -> nameko service class; the ones that publish events get a relay each
SERVICES = {
    "registration": "RegistrationService",
    "scoring": "ScoringService",
    "ranking": "RankingService",
    "notify": "NotifyService",
}
PUBLISHERS = ("registration", "scoring", "ranking")  # each has an event store, hence a relay
GATEWAY = "GatewayService"
OPS_BASE = 9100
DEFAULT_KEY = Path("var/keys/signing.key")
KEY_NAME = "leitai.local"
WITNESS_KEY = Path("var/keys/witness.key")
# the witness's own memory of the logs: it outlives a run, as the store in var/ does (a store
# wiped while this is kept is a rewritten log to the witness: remove both, or neither)
WITNESS_STATE = Path("var/witness/state.json")
WITNESS_NAME = "witness.local"
HEALTHY_AFTER_S = 60.0
FIRST_DELAY_S, MAX_DELAY_S = 1.0, 30.0


@dataclass(frozen=True)
class Planned:
    name: str
    args: list[str]
    ops_port: int | None  # None: a process without an ops port (the witness)


@dataclass
class Child:
    planned: Planned
    process: subprocess.Popen | None = None
    started: float = 0.0
    delay: float = FIRST_DELAY_S
    restart_at: float | None = None
    restarts: int = field(default=0)


def commands(config_dir: Path, replicas: int = 1, ops_base: int = OPS_BASE) -> list[Planned]:
    python = sys.executable
    planned: list[tuple[str, list[str]]] = []
    for service, cls in SERVICES.items():
        config = str(config_dir / f"{service}.yaml")
        for replica in range(1, replicas + 1):
            suffix = f"-{replica}" if replicas > 1 else ""
            if service in PUBLISHERS:
                planned.append(
                    (f"{service}-relay{suffix}", [python, "-m", "composition.cli", "--config", config, "relay"])
                )
            planned.append(
                (
                    f"{service}{suffix}",
                    [python, "-m", "nameko", "run", "--config", config, f"services.{service}.service:{cls}"],
                )
            )
    planned.append(
        (
            "gateway",
            [
                python,
                "-m",
                "nameko",
                "run",
                "--config",
                str(config_dir / "gateway.yaml"),
                f"services.gateway.service:{GATEWAY}",
            ],
        )
    )
    return [Planned(name, args, ops_base + i) for i, (name, args) in enumerate(planned)]


def signing_key(default: Path = DEFAULT_KEY) -> Signer:
    """The relays' signing key: LEITAI_SIGNING_KEY's file, or ``default``, made if missing
    (one machine; a deployment mounts its own, see docs/audit.md). The children inherit it."""
    path = Path(os.environ.get("LEITAI_SIGNING_KEY") or default).resolve()
    if not path.exists():
        Signer.generate(KEY_NAME).write(path)
    os.environ["LEITAI_SIGNING_KEY"] = str(path)
    return Signer.from_file(path)


def witness(origins: Sequence[str], signer: Signer, taken: range) -> tuple[Planned, Cosigner, str]:
    """The local witness of the logs named ``origins`` (signed by ``signer``), on a port outside
    ``taken`` (the ops ports): its process, its key (``WITNESS_KEY``, made if missing;
    LEITAI_WITNESS_STATE moves its state from ``WITNESS_STATE``) and the LEITAI_WITNESSES entry
    the relays are given for it."""
    key = WITNESS_KEY.resolve()
    if not key.exists():
        Cosigner.generate(WITNESS_NAME).write(key)
    cosigner = Cosigner.from_file(key)
    state = Path(os.environ.get("LEITAI_WITNESS_STATE") or WITNESS_STATE).resolve()
    state.parent.mkdir(parents=True, exist_ok=True)
    # chosen once: a restarted witness keeps the address the relays were given; never an ops port,
    # which is free now only because its process has not started yet
    port = free_port()
    while port in taken:
        port = free_port()
    args = witness_command(key, state, dict.fromkeys(origins, signer.verifier.encoded()), port)
    return Planned("witness", args, None), cosigner, f"http://127.0.0.1:{port} {cosigner.verifier.encoded()}"


def consistency_key() -> None:
    """The gateway's key for its read-your-writes tokens: LEITAI_CONSISTENCY_KEY, or one made
    for this run (the children inherit it, so a gateway restarted by ``up`` keeps it)."""
    if not os.environ.get("LEITAI_CONSISTENCY_KEY"):
        os.environ["LEITAI_CONSISTENCY_KEY"] = secrets.token_hex(32)


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health/ready", timeout=5) as response:
            return response.status == 200 and json.loads(response.read())["status"] == "ok"
    except (OSError, ValueError):
        return False


def _start(child: Child) -> None:
    # the configs read the ops port as ${LEITAI_OPS_PORT:0}: each process gets one of its own
    env = dict(os.environ, LEITAI_OPS_PORT=str(child.planned.ops_port or 0))
    child.process = subprocess.Popen(child.planned.args, env=env)
    child.started = time.monotonic()
    child.restart_at = None


def run(
    config_dir: Path,
    base_url: str,
    origins: Sequence[str],
    replicas: int = 1,
    ops_base: int = OPS_BASE,
    ready_timeout: float = 90.0,
    out: TextIO = sys.stdout,
) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    signer = signing_key()
    consistency_key()
    planned = commands(config_dir, replicas, ops_base)
    witnessing, cosigner, entry = witness(origins, signer, range(ops_base, ops_base + len(planned)))
    # the relays inherit it, after any witnesses the environment names
    os.environ["LEITAI_WITNESSES"] = ",".join(filter(None, (os.environ.get("LEITAI_WITNESSES"), entry)))
    children = [Child(witnessing), *(Child(p) for p in planned)]
    print(
        f"leitai up: the relays sign checkpoints with {os.environ['LEITAI_SIGNING_KEY']}; verifier key "
        f"{signer.verifier.encoded()}\n"
        f"leitai up: a witness cosigns them ({entry.split()[0]}, key {WITNESS_KEY}); witness verifier key "
        f"{cosigner.verifier.encoded()}",
        file=out,
        flush=True,
    )
    for child in children:
        _start(child)
    try:
        deadline = time.monotonic() + ready_timeout
        while not _ready(base_url):
            dead = [c.planned.name for c in children if c.process is not None and c.process.poll() is not None]
            if dead or time.monotonic() > deadline or stop.is_set():
                reason = f"{', '.join(dead)} exited" if dead else "stopped" if stop.is_set() else "not ready in time"
                print(f"leitai up: {reason}; stopping everything", file=sys.stderr)
                return 1
            stop.wait(0.5)
        ops = "\n".join(
            f"  {c.planned.name:<22} http://127.0.0.1:{c.planned.ops_port}/readyz  /healthz  /metrics"
            for c in children
            if c.planned.ops_port
        )
        print(
            f"leitai up: ready\n  gateway      {base_url}\n  API document {base_url}/openapi.json\n"
            f"  live screen  {base_url}/live/<contest>/<stage>#token=<screen token>\n"
            f"  judge's page {base_url}/judge#token=<judge token>\n"
            f"  console      {base_url}/console#token=<organiser token>\n"
            f"  ops ports:\n{ops}\n  Ctrl-C stops every process",
            file=out,
            flush=True,
        )
        while not stop.wait(0.5):
            _supervise(children)
        return 0
    finally:
        _stop_all(children)


def _supervise(children: list[Child]) -> None:
    now = time.monotonic()
    for child in children:
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.restarts += 1
                _start(child)
                print(
                    f"leitai up: {child.planned.name} restarted (restart {child.restarts})", file=sys.stderr, flush=True
                )
            continue
        assert child.process is not None  # started, and not waiting to restart
        code = child.process.poll()
        if code is None:
            continue
        if now - child.started >= HEALTHY_AFTER_S:
            child.delay = FIRST_DELAY_S  # a crash after a healthy run is a new incident
        child.restart_at = now + child.delay
        print(
            f"leitai up: {child.planned.name} exited with {code}; restarting in {child.delay:g} s",
            file=sys.stderr,
            flush=True,
        )
        child.delay = min(child.delay * 2, MAX_DELAY_S)


def _stop_all(children: list[Child], grace: float = 15.0) -> None:
    running = [c.process for c in children if c.process is not None and c.process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

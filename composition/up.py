"""``leitai up``: every service, relay and the gateway as its own process, supervised.

Production runs each of these as its own Deployment; this is the same set on one machine,
against the RabbitMQ and MongoDB the configs (and the environment) name.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# service -> nameko service class; the ones that publish events get a relay each
SERVICES = {"registration": "RegistrationService", "scoring": "ScoringService", "ranking": "RankingService",
            "notify": "NotifyService"}
PUBLISHERS = ("registration", "scoring", "ranking")  # each has an event store, hence a relay
GATEWAY = "GatewayService"


@dataclass
class Child:
    name: str
    process: subprocess.Popen


def commands(config_dir: Path) -> list[tuple[str, list[str]]]:
    python = sys.executable
    planned = []
    for service, cls in SERVICES.items():
        config = str(config_dir / f"{service}.yaml")
        if service in PUBLISHERS:
            planned.append((f"{service}-relay", [python, "-m", "composition.cli", "--config", config, "relay"]))
        planned.append((service, [python, "-m", "nameko", "run", "--config", config,
                                  f"services.{service}.service:{cls}"]))
    planned.append(("gateway", [python, "-m", "nameko", "run", "--config", str(config_dir / "gateway.yaml"),
                                f"services.gateway.service:{GATEWAY}"]))
    return planned


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health/ready", timeout=5) as response:
            return response.status == 200 and json.loads(response.read())["status"] == "ok"
    except (OSError, ValueError):
        return False


def run(config_dir: Path, base_url: str, ready_timeout: float = 90.0, out=sys.stdout) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    children = [Child(name, subprocess.Popen(args)) for name, args in commands(config_dir)]
    try:
        deadline = time.monotonic() + ready_timeout
        while not _ready(base_url):
            dead = [c.name for c in children if c.process.poll() is not None]
            if dead or time.monotonic() > deadline or stop.is_set():
                reason = f"{', '.join(dead)} exited" if dead else "stopped" if stop.is_set() else "not ready in time"
                print(f"leitai up: {reason}; stopping everything", file=sys.stderr)
                return 1
            stop.wait(0.5)
        print(f"leitai up: ready\n  gateway      {base_url}\n  API document {base_url}/openapi.json\n"
              f"  live screen  {base_url}/live/<contest>/<stage>?token=<screen token>\n"
              f"  Ctrl-C stops every process", file=out, flush=True)
        while not stop.wait(0.5):
            dead = [c.name for c in children if c.process.poll() is not None]
            if dead:
                print(f"leitai up: {', '.join(dead)} exited; stopping everything", file=sys.stderr)
                return 1
        return 0
    finally:
        _stop_all(children)


def _stop_all(children: list[Child], grace: float = 15.0) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()

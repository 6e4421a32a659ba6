"""``leitai up`` brings every process up against the configured broker and store, and Ctrl-C
takes them all down again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pymongo
import pytest

from composition.up import commands
from testkit.servers import ChildProcess, free_port, free_ports, wait_until
from tests.support.pipeline import BIN

pytestmark = pytest.mark.integration
TOKEN = "an-organiser-token-for-up"


def children_of(pid: int) -> list[int]:
    listed = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in listed.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return bool(status) and not status.startswith("Z")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_leitai_up_runs_everything_restarts_a_crashed_child_and_ctrl_c_stops_everything(vhost, mongo_url):
    prefix = f"leitai_test_up_{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = {
        "AMQP_URI": vhost.uri,
        "MONGO_URL": mongo_url,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "REGISTRATION_DATABASE": f"{prefix}_registration",
        "SCORING_DATABASE": f"{prefix}_scoring",
        "RANKING_DATABASE": f"{prefix}_ranking",
        "NOTIFY_DATABASE": f"{prefix}_notify",
        "LEITAI_TOKENS": json.dumps({TOKEN: {"role": "organiser", "id": "org1", "deployment": True}}),
        "LEITAI_ENVIRONMENT": "test",  # the suite's broker user is guest:guest, which production refuses
    }
    ops_base = free_ports(len(commands(Path("config"))))  # one ops port per process, from ops_base on
    up = ChildProcess(
        [str(BIN / "leitai"), "up", "--config-dir", "config", "--ops-base", str(ops_base)], env=env, name="up"
    ).start()
    try:
        wait_until(lambda: "leitai up: ready" in up.output() or not up.alive(), timeout=120, what="leitai up")
        assert up.alive(), up.output()[-3000:]
        assert f"http://127.0.0.1:{port}" in up.output()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=10) as response:
            checks = json.loads(response.read())["checks"]
        assert checks == {"registration": "ok", "scoring": "ok", "ranking": "ok", "notify": "ok"}
        spawned = children_of(up.process.pid)
        assert len(spawned) == 8  # three relays, four services, the gateway
        assert f"http://127.0.0.1:{ops_base}/readyz" in up.output()  # every process's ops port is printed
        assert "/judge#token=" in up.output() and "/console#token=" in up.output()  # and both pages

        [scoring] = [pid for pid in spawned if "ScoringService" in cmdline(pid)]
        os.kill(scoring, signal.SIGKILL)  # a crash: up starts it again, the rest keeps running
        wait_until(lambda: "scoring restarted" in up.output(), timeout=30, what="scoring to be restarted")
        assert "scoring exited with -9" in up.output()
        [again] = wait_until(
            lambda: [p for p in children_of(up.process.pid) if "ScoringService" in cmdline(p)] or None,
            what="a new scoring process",
        )
        assert again != scoring and up.alive()
        spawned = children_of(up.process.pid)
        assert len(spawned) == 8

        up.process.send_signal(signal.SIGINT)
        assert up.process.wait(60) == 0
        assert not [pid for pid in spawned if alive(pid)]
    finally:
        up.kill()
        client = pymongo.MongoClient(mongo_url)
        for name in ("registration", "scoring", "ranking", "notify"):
            client.drop_database(f"{prefix}_{name}")
        client.close()

"""``leitai up`` brings every process up against the configured broker and store, and Ctrl-C
takes them all down again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pymongo
import pytest

from composition.up import commands
from leitai.witness.cosignature import CosignatureVerifier
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


def call(port: int, method: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def a_contestant_registered(port: int) -> None:
    """The least that sends a notice: a contest, its stage, an entry with an e-mail address."""
    csv = "code,name,level,parent\nup,海安县,county,\nt1,城东镇,township,up\nv1,东风村,village,t1\n"
    call(port, "PUT", "/regions/up", {"csv": csv})
    call(
        port,
        "POST",
        "/contests",
        {"contest_id": "up-1", "name": "擂台", "tree_id": "up", "county_code": "up", "format": "performance"},
    )
    call(port, "POST", "/contests/up-1/stages", {
        "stage_id": "s1", "name": "初赛", "order": 1, "panel_size": 1,
        "groups": [{"group_id": "g1", "name": "城东镇", "townships": ["t1"]}],
        "criteria": [{"criterion_id": "a", "name": "讲党建", "max": "10", "weight": "1"}],
        "drop_rule": [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}], "advancement": {"overall": 1}})  # fmt: skip
    entry = {"entry_id": "e1", "contestant_id": "p1", "name": "王建国", "village_code": "v1", "title": "抓党建",
             "email": "wang@example.cn"}  # fmt: skip
    call(port, "POST", "/contests/up-1/entries", {"entries": [entry]})


def test_leitai_up_runs_everything_restarts_a_crashed_child_and_ctrl_c_stops_everything(vhost, mongo_url, tmp_path):
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
        "LEITAI_WITNESS_STATE": str(tmp_path / "witness.json"),  # this run's logs are new to the witness
    }
    ops_base = free_ports(len(commands(Path("config"))))  # one ops port per process, from ops_base on
    up = ChildProcess(
        [str(BIN / "leitai"), "up", "--config-dir", "config", "--ops-base", str(ops_base), "--sinks", str(tmp_path)],
        env=env,
        name="up",
    ).start()
    try:
        wait_until(lambda: "leitai up: ready" in up.output() or not up.alive(), timeout=120, what="leitai up")
        assert up.alive(), up.output()[-3000:]
        assert f"http://127.0.0.1:{port}" in up.output()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=10) as response:
            checks = json.loads(response.read())["checks"]
        assert checks == {"registration": "ok", "scoring": "ok", "ranking": "ok", "notify": "ok"}
        spawned = children_of(up.process.pid)
        assert len(spawned) == 9  # three relays, four services, the gateway, the witness
        assert f"http://127.0.0.1:{ops_base}/readyz" in up.output()  # every process's ops port is printed
        assert "/judge#token=" in up.output() and "/console#token=" in up.output()  # and both pages

        # --sinks: notices go to files on this machine, not to the configured SMTP server and SMS gateway
        assert f"mail goes to {tmp_path / 'mail.jsonl'}" in up.output()
        a_contestant_registered(port)
        wait_until(lambda: "wang@example.cn" in (tmp_path / "mail.jsonl").read_text(), timeout=60, what="the mail")

        # the local witness cosigns the relays' checkpoints, with the key up printed
        vkey = re.search(r"witness verifier key (\S+)", up.output()).group(1)
        client = pymongo.MongoClient(mongo_url)
        checkpoints = client[f"{prefix}_registration"].checkpoints
        cosigned = wait_until(
            lambda: checkpoints.find_one({"cosignatures.0": {"$exists": True}}), timeout=60, what="a cosignature"
        )
        client.close()
        body = cosigned["note"].rpartition("\n\n")[0] + "\n"
        assert CosignatureVerifier.decode(vkey).verify(cosigned["cosignatures"][0], body)

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
        assert len(spawned) == 9

        up.process.send_signal(signal.SIGINT)
        assert up.process.wait(60) == 0
        assert not [pid for pid in spawned if alive(pid)]
    finally:
        up.kill()
        client = pymongo.MongoClient(mongo_url)
        for name in ("registration", "scoring", "ranking", "notify"):
            client.drop_database(f"{prefix}_{name}")
        client.close()

"""The dev overlay, started short of a cluster: each Deployment's container command runs as a
local process with the environment and files its manifest gives it (the ConfigMaps as
rendered; the Secrets' broker and store pointed at this test's vhost and store), after the
migrate Job, as a rollout would. Each process is waited for on the readiness probe its
manifest declares, then a small contest goes through the gateway to its leaderboard.

What a pod's network namespace would give each process for itself, a port, is the one
change: the ops and HTTP ports are mapped to free local ones."""

from __future__ import annotations

import json
import os
import random
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from testkit.boai import CONTEST, PANELS, set_up, submit_all
from testkit.servers import ChildProcess, wait_until
from testkit.stack import BIN, ORGANISER_TOKEN, Stack, judge_token, ok
from tests.support.manifests import CONFIG_MOUNT, STORE_USERS, named, of_kind, render, resolve

pytestmark = pytest.mark.integration
JUDGES = [f"J{n}" for n in range(1, 11)]


def probe(port: int, container: dict) -> bool:
    path = container["readinessProbe"]["httpGet"]["path"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


class FromManifests:
    """The rendered dev overlay's processes, as local processes."""

    def __init__(self, tmp_path: Path, amqp_uri: str, mongo_url: str) -> None:
        self.objects = render("dev")
        self.http = Stack(tmp_path, amqp_uri, mongo_url, JUDGES)  # its tokens and HTTP client only
        self.prefix = f"leitai_test_{uuid.uuid4().hex[:8]}"
        # the test's values for what the Secrets hold
        self.secrets = {
            "leitai-broker": {"amqp-uri": amqp_uri},
            **{f"leitai-store-{user}": {"mongo-url": mongo_url} for user in STORE_USERS},
            "leitai-gateway": {"tokens": json.dumps(self.http.tokens), "consistency-key": self.http.consistency_key},
        }
        self.config_dir = tmp_path / "etc-leitai"
        self.children: list[ChildProcess] = []
        self.ready_checks: list[tuple[str, int, dict]] = []

    def environment(self, workload: dict) -> tuple[list[str], dict[str, str], dict]:
        pod = resolve(workload, self.objects, self.secrets)
        self.config_dir.mkdir(exist_ok=True)
        for filename, text in pod.files[CONFIG_MOUNT].items():
            (self.config_dir / filename).write_text(text)
        command = [a.replace(CONFIG_MOUNT, str(self.config_dir)) for a in pod.command]
        env = dict(
            pod.env,
            PATH=f"{BIN}:{os.environ['PATH']}",
            HOME=str(self.config_dir),
            # databases of this test's own, in the test's store
            **{k: f"{self.prefix}_{v}" for k, v in pod.env.items() if k.endswith("_DATABASE")},
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(self.http.free_port()),
            SMS_URL=f"http://127.0.0.1:{self.http.free_port()}/sms",
        )
        return command, env, pod.container

    def migrate(self) -> None:
        command, env, _ = self.environment(named(self.objects, "Job", "leitai-migrate"))
        job = ChildProcess(command, env=env, name="migrate").start()
        job.process.wait(120)
        assert job.process.returncode == 0, job.output()[-3000:]

    def start(self) -> None:
        for deployment in of_kind(self.objects, "Deployment"):
            if deployment["metadata"]["labels"].get("app.kubernetes.io/name") != "leitai":
                continue  # the overlay's own RabbitMQ and MongoDB: the test's stand in for them
            command, env, container = self.environment(deployment)
            env["LEITAI_OPS_PORT"] = str(self.http.free_port())
            if "WEB_SERVER_ADDRESS" in env:
                port = self.http.free_port()
                env["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{port}"
                if env["LEITAI_GATEWAY_EDGE"] == "internal":  # the contest is run through the organisers' gateway
                    self.http.port, self.http.base = port, f"http://127.0.0.1:{port}"
            name = deployment["metadata"]["name"]
            self.children.append(ChildProcess(command, env=env, name=name).start())
            self.ready_checks.append((name, int(env["LEITAI_OPS_PORT"]), container))

    def not_ready(self) -> list[str]:
        dead = [c.name for c in self.children if not c.alive()]
        assert not dead, "\n".join(f"{c.name}: {c.output()[-2000:]}" for c in self.children if c.name in dead)
        return [name for name, port, container in self.ready_checks if not probe(port, container)]

    def stop(self) -> None:
        for child in self.children:
            child.stop()


@pytest.fixture
def from_manifests(tmp_path, vhost, mongo_client, mongo_url):
    system = FromManifests(tmp_path, vhost.uri, mongo_url)
    try:
        yield system
    finally:
        system.stop()
        for name in mongo_client.list_database_names():
            if name.startswith(system.prefix):
                mongo_client.drop_database(name)


def test_the_dev_overlay_started_from_its_manifests_runs_a_contest_to_its_leaderboard(from_manifests):
    from_manifests.migrate()
    from_manifests.start()
    assert len(from_manifests.children) == 9
    try:
        wait_until(
            lambda: not from_manifests.not_ready(), timeout=120, interval=0.5, what="every process's readiness probe"
        )
    except TimeoutError:
        raise AssertionError(f"not ready: {from_manifests.not_ready()}") from None
    stack = from_manifests.http
    orders = set_up(stack)
    submit_all(stack, "s1", orders["s1"]["order"], random.Random(2021))
    locked = ok(stack.call("POST", "/sessions/s1/lock", {}, judge_token(PANELS["s1"][0])))
    assert len(locked["results"]) == 15

    def board():
        code, body = stack.call(
            "GET", f"/contests/{CONTEST}/stages/prelim/leaderboard?group=g-qinghua", token=ORGANISER_TOKEN
        )
        return body["standings"] if code == 200 and len(body["standings"]) == 15 else None

    rows = wait_until(board, timeout=60, what="the leaderboard of 清化镇's 15 entries")
    scores = {r["entry_id"]: r["stage_score"] for r in locked["results"]}
    assert {r["entry_id"]: r["stage_score"] for r in rows} == scores
    assert [r["rank"] for r in rows][:1] == [1] and rows[0]["stage_score"] == max(scores.values(), key=Decimal)

"""The product's services as real processes: registration, scoring, their relays, the gateway."""
from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import yaml

from tests.support.servers import ChildProcess, free_port, wait_until

BIN = Path(sys.executable).parent
ORGANISER_TOKEN = "organiser-token-0123456789"
SCREEN_TOKEN = "screen-token-0123456789"
SERVICES = ("registration", "scoring", "ranking")
SERVICE_CLASSES = {"registration": "RegistrationService", "scoring": "ScoringService", "ranking": "RankingService",
                   "gateway": "GatewayService"}


def judge_token(judge_id: str) -> str:
    return f"judge-token-{judge_id}-0123456789"


class Stack:
    def __init__(self, tmp_path: Path, amqp_uri: str, mongo_url: str, judges: list[str]) -> None:
        self.tmp_path = tmp_path
        self.amqp_uri = amqp_uri
        self.mongo_url = mongo_url
        self.prefix = f"leitai_test_{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tokens = {ORGANISER_TOKEN: {"role": "organiser", "id": "org1"},
                       SCREEN_TOKEN: {"role": "screen", "id": "hall"},
                       **{judge_token(j): {"role": "judge", "id": j} for j in judges}}
        self.children: list[ChildProcess] = []

    def database(self, service: str) -> str:
        return f"{self.prefix}_{service}"

    def config_path(self, service: str) -> Path:
        return self.tmp_path / f"{service}.yaml"

    def _config(self, service: str) -> Path:
        path = self.tmp_path / f"{service}.yaml"
        config = {"AMQP_URI": self.amqp_uri, "MONGO_URL": self.mongo_url, "MONGO_DATABASE": self.database(service),
                  "LEITAI_RETRY": {"attempts": 3, "base_delay": "0.2", "factor": 2}}
        if service == "ranking":
            config["LEITAI_SOURCES"] = {source: self.database(source) for source in SERVICES}
        if service == "gateway":
            config = {"AMQP_URI": self.amqp_uri, "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}",
                      "LEITAI_TOKENS": self.tokens, "LEITAI_RPC_TIMEOUT": 5}
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        return path

    def start(self) -> "Stack":
        for service in SERVICES:
            config = self._config(service)
            self._spawn([str(BIN / "leitai"), "--config", str(config), "relay"], f"{service}-relay")
            self._spawn([str(BIN / "nameko"), "run", "--config", str(config),
                         f"services.{service}.service:{SERVICE_CLASSES[service]}"], service)
        self._spawn([str(BIN / "nameko"), "run", "--config", str(self._config("gateway")),
                     "services.gateway.service:GatewayService"], "gateway")
        wait_until(lambda: self._ready(), timeout=60, what="the gateway to be ready")
        return self

    def _ready(self) -> bool:
        for child in self.children:
            assert child.alive(), f"{child.name} died:\n{child.output()}"
        try:
            return self.call("GET", "/health/ready")[0] == 200
        except OSError:
            return False

    def _spawn(self, args: list[str], name: str) -> None:
        self.children.append(ChildProcess(args, name=name).start())

    def stop(self) -> None:
        for child in self.children:
            child.stop()

    def child(self, name: str) -> ChildProcess:
        return next(c for c in self.children if c.name == name)

    def call(self, method: str, path: str, body=None, token: str | None = None, raw: bytes | None = None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path, method=method, data=data,
                                         headers={"content-type": "application/json",
                                                  **({"authorization": f"Bearer {token}"} if token else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            payload = error.read()
            try:
                return error.code, json.loads(payload)
            except ValueError:
                return error.code, payload.decode(errors="replace")

"""The product's services as real processes: registration, scoring, their relays, the gateway."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

import pymongo
import yaml
from kombu import Connection

from composition.product import CATALOGUE, CONSUMES
from leitai.contracts.product import REGISTRY
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog
from leitai.eventstore.notes import Signer
from leitai.messaging.topology import event_exchange
from testkit.servers import ChildProcess, Vhost, free_port, queue_state, wait_until

BIN = Path(sys.executable).parent
ORGANISER_TOKEN = "organiser-token-0123456789"
SCREEN_TOKEN = "screen-token-0123456789"
SUPERVISOR_TOKEN = "supervisor-token-0123456789"  # discipline inspection (纪检)
# the suite's organiser, screen and supervisor reach every contest (the operator's grants); judges
# sit in the contests of JUDGE_CONTESTS. The grants of another county, with the same ids as ours
# (ids are not identities), are refused everywhere in ours (tests/e2e/test_authorization.py)
JUDGE_CONTESTS = ("boai-2021", "county-2021", "elsewhere-2021")
ELSEWHERE_OFFICE, ELSEWHERE_CONTEST = "elsewhere", "elsewhere-2021"
ELSEWHERE_ORGANISER_TOKEN = "elsewhere-organiser-token-0123456789"
ELSEWHERE_SUPERVISOR_TOKEN = "elsewhere-supervisor-token-0123456789"
ELSEWHERE_SCREEN_TOKEN = "elsewhere-screen-token-0123456789"
# as production logs (config/*.yaml): JSON lines at INFO
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,  # nameko's container logger, made before, logs a worker's exception
    "formatters": {"json": {"()": "leitai.logs.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"level": "INFO", "handlers": ["console"]},
}
# secrets that must never reach a log line (tests/e2e/test_retries.py looks)
SMTP_PASSWORD = "smtp-password-never-logged-5c1e"
SMS_API_KEY = "sms-key-never-logged-9b7d"
SERVICES = ("registration", "scoring", "ranking", "notify")
SERVICE_CLASSES = {
    "registration": "RegistrationService",
    "scoring": "ScoringService",
    "ranking": "RankingService",
    "notify": "NotifyService",
    "gateway": "GatewayService",
}
PUBLISHERS = ("registration", "scoring", "ranking")  # the services with an event store, hence a relay


def ok(response: tuple, status: tuple = (200, 201)):
    """The body of a (status, body) answer that must have succeeded."""
    code, body = response
    assert code in status, body
    return body


def eventually(stack: Stack, path: str, token: str | None = None) -> dict:
    """GET ``path`` until it answers 200 (read models follow events a moment later)."""

    def attempt():
        code, body = stack.call("GET", path, token=token)
        return body if code == 200 else None

    return wait_until(attempt, what=f"GET {path} to answer 200")


def judge_token(judge_id: str, contest: str = JUDGE_CONTESTS[0]) -> str:
    """The token of ``judge_id``'s grant in ``contest`` (one of JUDGE_CONTESTS)."""
    return f"judge-token-{judge_id}-0123456789" if contest == JUDGE_CONTESTS[0] else f"judge-token-{contest}-{judge_id}"


class Stack:
    def __init__(
        self,
        tmp_path: Path,
        amqp_uri: str,
        mongo_url: str,
        judges: list[str],
        notify: dict | None = None,
        rate_limit: dict | None = None,
        replicas: int = 1,
        retry: dict | None = None,
        grant_cache_s: float | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.amqp_uri = amqp_uri
        self.mongo_url = mongo_url
        self.prefix = f"leitai_test_{uuid.uuid4().hex[:8]}"
        self._ports: set[int] = set()
        self.port = self.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tokens = {
            ORGANISER_TOKEN: {"role": "organiser", "id": "org1", "deployment": True},
            SCREEN_TOKEN: {"role": "screen", "id": "hall", "deployment": True},
            SUPERVISOR_TOKEN: {"role": "supervisor", "id": "inspector1", "deployment": True},
            ELSEWHERE_ORGANISER_TOKEN: {"role": "organiser", "id": "org1", "office": ELSEWHERE_OFFICE},
            ELSEWHERE_SUPERVISOR_TOKEN: {"role": "supervisor", "id": "inspector1", "office": ELSEWHERE_OFFICE},
            ELSEWHERE_SCREEN_TOKEN: {"role": "screen", "id": "hall", "contest": ELSEWHERE_CONTEST},
            **{
                judge_token(j, contest): {"role": "judge", "id": j, "contest": contest}
                for j in judges
                for contest in JUDGE_CONTESTS
            },
        }
        self.children: list[ChildProcess] = []
        self.ops_ports: dict[str, int] = {}
        self.rate_limit = rate_limit or {"per_second": 100_000, "burst": 100_000}
        self.consistency_key = secrets.token_hex(32)  # seals the gateway's Leitai-Written tokens
        self.replicas = replicas  # of each service and relay; the gateway stays one
        # short, so that a test sees a dead letter soon; a fault run waits out its outages longer
        self.retry = retry or {"attempts": 3, "base_delay": "0.2", "factor": 2}
        # where notices go: the test's SMTP sink and SMS receiver, or (by default) nowhere
        self.notify = notify or {
            "smtp": {"host": "127.0.0.1", "port": self.free_port(), "password": SMTP_PASSWORD},
            "sms": {"url": f"http://127.0.0.1:{self.free_port()}/sms", "api_key": SMS_API_KEY},
        }
        self.retired: list[ChildProcess] = []  # processes a test killed and replaced: their logs still count
        self.grant_cache_s = grant_cache_s  # the gateway's LEITAI_GRANT_CACHE_S (None: its default)

    def free_port(self) -> int:
        """A port free now and not yet given to another process of this stack (the OS may hand
        a just-released port out twice; two processes of a stack must never share one)."""
        port = free_port()
        while port in self._ports:
            port = free_port()
        self._ports.add(port)
        return port

    def database(self, service: str) -> str:
        return f"{self.prefix}_{service}"

    def config_path(self, service: str) -> Path:
        """The config of ``service`` (of its first replica when it runs several)."""
        return self.tmp_path / (
            f"{service}.yaml" if self.replicas == 1 or service == "gateway" else f"{service}-1.yaml"
        )

    def ops(self, process: str, path: str = "/readyz") -> tuple[int, dict | str]:
        """GET ``path`` on a process's ops port (a service, ``<service>-relay`` or the gateway)."""
        return _get(f"http://127.0.0.1:{self.ops_ports[process]}{path}")

    def _config(self, service: str, process: str | None = None) -> Path:
        """The config of ``process`` (default: the service itself); each has its own ops port."""
        process = process or service
        path = self.tmp_path / f"{process}.yaml"
        if process not in self.ops_ports:
            self.ops_ports[process] = self.free_port()
        config = {
            "AMQP_URI": self.amqp_uri,
            "MONGO_URL": self.mongo_url,
            "MONGO_DATABASE": self.database(service),
            "LEITAI_PERSONAL_DATABASE": self.database("personal"),  # the vault (leitai/privacy.py)
            # below the gateway's 5 s: a request that waits in vain is told so by the service
            "LEITAI_RETRY": self.retry,
            "LEITAI_CATCH_UP_S": 2,
        }
        if service in PUBLISHERS:
            config["LEITAI_SIGNING_KEY"] = str(self.signing_key)
            config["LEITAI_LOG_ORIGIN"] = f"leitai.test/{service}"
        if service == "ranking":
            config["LEITAI_SOURCES"] = {source: self.database(source) for source in PUBLISHERS}
        if service == "notify":
            config["LEITAI_NOTIFY"] = self.notify
        if service == "gateway":
            config = {
                "AMQP_URI": self.amqp_uri,
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}",
                "LEITAI_TOKENS": self.tokens,
                "LEITAI_RPC_TIMEOUT": 5,
                # the suite's clients are faster than any person: limited only where a test says
                "LEITAI_RATE_LIMIT": self.rate_limit,
                "LEITAI_CONSISTENCY_KEY": self.consistency_key,
                "max_workers": 10,  # the gateway's requests at once, as in production
            }
            if self.grant_cache_s is not None:
                config["LEITAI_GRANT_CACHE_S"] = self.grant_cache_s
        config["LEITAI_OPS_PORT"] = self.ops_ports[process]
        # the suite's RabbitMQ user is guest:guest, which production refuses
        config["LEITAI_ENVIRONMENT"] = "test"
        config["LOGGING"] = LOGGING
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        return path

    @property
    def signing_key(self) -> Path:
        """The relays' checkpoint signing key (one per stack); its verifier is ``signer.verifier``."""
        path = self.tmp_path / "signing.key"
        if not path.exists():
            Signer.generate("leitai.test").write(path)
        return path

    @property
    def signer(self) -> Signer:
        return Signer.from_file(self.signing_key)

    def start(self) -> Stack:
        for service in SERVICES:
            for suffix in [""] if self.replicas == 1 else [f"-{n}" for n in range(1, self.replicas + 1)]:
                if service in PUBLISHERS:
                    relay = f"{service}-relay{suffix}"
                    self._spawn([str(BIN / "leitai"), "--config", str(self._config(service, relay)), "relay"], relay)
                self._spawn(
                    [
                        str(BIN / "nameko"),
                        "run",
                        "--config",
                        str(self._config(service, f"{service}{suffix}")),
                        f"services.{service}.service:{SERVICE_CLASSES[service]}",
                    ],
                    f"{service}{suffix}",
                )
        self._spawn(
            [
                str(BIN / "nameko"),
                "run",
                "--config",
                str(self._config("gateway")),
                "services.gateway.service:GatewayService",
            ],
            "gateway",
        )
        wait_until(lambda: self._ready(), timeout=60, what="the gateway to be ready")
        wait_until(lambda: not self.not_ready(), timeout=60, interval=0.2, what="every process to be ready")
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
        """Every process asked to stop at once, then each waited for: a stack stops in the time
        of its slowest process, not in the sum of them."""
        for child in self.children:
            child.terminate()
        for child in self.children:
            child.stop()

    def discard(self) -> None:
        """Stop every process and drop the stack's databases: nothing of it is left."""
        self.stop()
        client = pymongo.MongoClient(self.mongo_url)
        for service in (*SERVICES, "personal"):
            client.drop_database(self.database(service))
        client.close()

    def secrets(self) -> list[str]:
        """Every secret this stack's processes were configured with."""
        return [
            *self.tokens,
            self.notify["smtp"].get("password", ""),
            self.notify["sms"]["api_key"],
            self.signer.encoded().split("+", 4)[4],  # the relays' checkpoint signing key
            self.consistency_key,
        ]

    def logs(self) -> dict[str, str]:
        """What every process of this stack wrote, including those a test killed."""
        return {f"{c.name}#{i}": c.output() for i, c in enumerate([*self.retired, *self.children])}

    def child(self, name: str) -> ChildProcess:
        return next(c for c in self.children if c.name == name)

    def restart(self, name: str) -> ChildProcess:
        """Start a service again (after a kill), and wait until it consumes."""
        fresh = self.respawn(name)
        queue = next(s.queue_name for s in CATALOGUE.subscriptions if s.consumer == name)
        wait_until(lambda: queue_state(self.amqp_uri, queue)[1] >= 1 or not fresh.alive(), what=f"{name} to consume")
        assert fresh.alive(), fresh.output()
        return fresh

    def respawn(self, name: str) -> ChildProcess:
        """Start process ``name`` again (after a kill), as it was started."""
        old = self.child(name)
        fresh = ChildProcess(old.args, name=name).start()
        self.children[self.children.index(old)] = fresh
        self.retired.append(old)
        return fresh

    def not_ready(self) -> list[str]:
        """The processes whose /readyz does not answer 200 (a dead one is not ready)."""

        def ready(name: str) -> bool:
            try:
                return self.ops(name)[0] == 200
            except OSError:
                return False

        return [c.name for c in self.children if not c.alive() or not ready(c.name)]

    def replay_to(self, consumer: str) -> int:
        """Publish every stored event ``consumer`` subscribes to once more, as a redelivery would."""
        client = pymongo.MongoClient(self.mongo_url, tz_aware=True)
        count = 0
        try:
            with (
                Connection(self.amqp_uri, transport_options={"confirm_publish": True}) as connection,
                connection.Producer() as producer,
            ):
                for source, types in CONSUMES[consumer].items():
                    for batch in EventStore(MongoCommitLog(client[self.database(source)]), REGISTRY).read_all():
                        for event in (e for e in batch if e.type in types):
                            producer.publish(
                                json.dumps(event.to_wire(REGISTRY)),
                                exchange=event_exchange(source),
                                routing_key=event.type,
                                content_type="application/json",
                                delivery_mode=2,
                                declare=[],
                            )
                            count += 1
        finally:
            client.close()
        return count

    def queues_drained(self, consumer: str) -> bool:
        """No message waits in, or is being handled from, any of ``consumer``'s queues (rabbitmqctl
        asks the queues themselves; the management API's statistics lag by seconds)."""
        vhost = urllib.parse.unquote(self.amqp_uri.rsplit("/", 1)[1])
        listed = subprocess.run(
            ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows = [line.split() for line in listed.splitlines() if f"--{consumer}." in line]
        return bool(rows) and all(r[1] == "0" and r[2] == "0" for r in rows)

    def call(
        self,
        method: str,
        path: str,
        body=None,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict | None = None,
    ) -> tuple[int, dict | str]:
        return self.exchange(method, path, body, token, raw, headers)[:2]

    def invite(self, contest_id: str, judge_id: str) -> str:
        """A token for ``judge_id`` of ``contest_id``, invited as the console does."""
        path = f"/contests/{contest_id}/invitations"
        body = {"role": "judge", "id": judge_id, "base_url": self.base}
        return ok(self.call("POST", path, body, ORGANISER_TOKEN))["token"]

    def exchange(
        self,
        method: str,
        path: str,
        body=None,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict | None = None,
    ) -> tuple[int, dict | str, Message]:
        """``call``, with the response's headers."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=data,
            headers={
                "content-type": "application/json",
                **(headers or {}),
                **({"authorization": f"Bearer {token}"} if token else {}),
            },
        )
        return _send(request)


def _get(url: str) -> tuple[int, dict | str]:
    return _send(urllib.request.Request(url))[:2]


def _send(request: urllib.request.Request) -> tuple[int, dict | str, Message]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _body(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, _body(error.read()), error.headers


def _body(payload: bytes) -> dict | str:
    """JSON as Python, anything else (the metrics' text format, an HTML page) as text."""
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")


@contextmanager
def running_stack(
    folder: Path,
    mongo_url: str,
    judges: list[str],
    notify: dict | None = None,
    rate_limit: dict | None = None,
    replicas: int = 1,
    retry: dict | None = None,
    grant_cache_s: float | None = None,
) -> Iterator[Stack]:
    """A started stack in a vhost of its own; afterwards its processes, databases and vhost are gone."""
    vhost = Vhost().create()
    stack = Stack(
        folder,
        vhost.uri,
        mongo_url,
        judges,
        notify=notify,
        rate_limit=rate_limit,
        replicas=replicas,
        retry=retry,
        grant_cache_s=grant_cache_s,
    )
    stack.vhost = vhost
    try:
        yield stack.start()
    finally:
        stack.discard()
        vhost.delete()

"""The demo's machinery: storage, broker, the four services and their relays, in this process.

Storage is a SecantusDB server the demo starts with its own data folder (or MONGO_URL).
The broker is RabbitMQ when one answers: AMQP_URI as given, or else a virtual host of the
demo's own made through the management API (the demo's queues emptied first either way);
otherwise kombu's in-memory transport. Each service runs in its own nameko container with its own
database, exactly as in production, only in one process. A witness of the three logs runs as a
process of its own (as 纪检's would), and the relays have it cosign each checkpoint. Must be imported after
``eventlet.monkey_patch()`` (see ``__main__``).
"""

from __future__ import annotations

import os
import shutil
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import eventlet
from eventlet.queue import LightQueue
from kombu import Connection
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ClusterRpcProxy
from pymongo import MongoClient

from composition.demo import memory
from composition.localservers import LocalWitness, SecantusServer, create_vhost, delete_vhost, wait_until
from composition.product import CATALOGUE
from composition.sinks import Sinks
from leitai.config import ConfigurationError, load_settings
from leitai.eventstore.checkpoints import Signing
from leitai.eventstore.mongodb import MongoCommitLog
from leitai.eventstore.notes import Signer
from leitai.eventstore.records import head_of_log
from leitai.messaging import topology
from leitai.messaging.relay import Relay
from leitai.mongo import connect
from leitai.rpc import register_errors
from services.notify.service import NotifyService
from services.ranking.service import RankingService
from services.registration.service import RegistrationService
from services.scoring.service import ScoringService

SERVICES = {
    "registration": RegistrationService,
    "scoring": ScoringService,
    "ranking": RankingService,
    "notify": NotifyService,
}
PUBLISHERS = ("registration", "scoring", "ranking")
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672/"
DEMO_VHOST = "leitai-demo"
# notify meets events before the facts they refer to (they come on parallel queues) and
# retries until they are in: short first delays, and (0.2 s doubling, ten runs) a minute and
# a half in all before a message is dead-lettered, for when a burst of entries is still queued.
RETRY = {"attempts": 10, "base_delay": "0.2", "factor": 2}
POLICY = load_settings({"LEITAI_RETRY": RETRY}, only=("LEITAI_RETRY",)).LEITAI_RETRY
RPC_CALLERS = 8


class Runtime:
    def __init__(self, workdir: Path, scenario: str, say: Callable[..., None]) -> None:
        self.workdir = workdir
        self.scenario = scenario
        self.say = say
        self.mongo_url = ""
        self.amqp_uri = ""
        self.in_memory = False
        self._server: SecantusServer | None = None
        self._containers: dict[str, ServiceContainer] = {}
        self._relays: list[Relay] = []
        self._relay_threads: list = []
        self._stop = threading.Event()
        self._proxies: list[ClusterRpcProxy] = []
        self._callers: LightQueue = LightQueue()
        self._sinks: Sinks | None = None
        self._pump: memory.RetryPump | None = None
        self._client: MongoClient[dict[str, Any]] | None = None
        self.witness: LocalWitness | None = None

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> Runtime:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        register_errors()  # the scenarios catch what the services raise by its class
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.mongo_url = self._storage()
        self._client = connect(self.mongo_url)
        for service in SERVICES:
            self._client.drop_database(self.database(service))
        self.amqp_uri = self._broker()
        self._sinks = Sinks(self.workdir / "outbox")
        self.say(f"notices: mail and SMS go to local sinks, written to {self.workdir / 'outbox'}/mail.jsonl, sms.jsonl")
        key = self.workdir / "signing.key"  # the demo's: a deployment mounts its own (docs/audit.md)
        if not key.exists():
            Signer.generate("leitai.demo").write(key)
        self.signer = Signer.from_file(key)
        state = self.workdir / "witness-state.json"
        state.unlink(missing_ok=True)  # the logs start again from nothing (their databases were dropped)
        origins = {service: f"leitai.demo/{service}" for service in PUBLISHERS}
        self.witness = LocalWitness(
            self.workdir / "witness.key", state, dict.fromkeys(origins.values(), self.signer.verifier.encoded())
        ).start()
        self.say(
            f"checkpoints: signed with {key} (verifier key {self.signer.verifier.encoded()}); cosigned by a local "
            f"witness at {self.witness.endpoint.url} (witness verifier key {self.witness.endpoint.key.encoded()})"
        )
        for service in PUBLISHERS:  # relays first: each declares every subscriber's queue
            relay = Relay(
                self._client[self.database(service)],
                CATALOGUE,
                self.amqp_uri,
                POLICY,
                owner=f"demo-{service}",
                signing=Signing(self.signer, origins[service], witnesses=(self.witness.endpoint,)),
            )
            relay.start()
            self._relays.append(relay)
        for service, cls in SERVICES.items():
            container = ServiceContainer(cls, self.config(service))
            container.start()
            self._containers[service] = container
        self._relay_threads = [eventlet.spawn(relay.run, self._stop) for relay in self._relays]
        if self.in_memory:
            self._pump = memory.RetryPump(CATALOGUE, POLICY)
            self._relay_threads.append(eventlet.spawn(self._pump.run, self._stop))
        for _ in range(RPC_CALLERS):
            proxy = ClusterRpcProxy(self.config("client"), timeout=120)
            self._callers.put(proxy.start())
            self._proxies.append(proxy)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._relay_threads:
            thread.wait()
        for relay in self._relays:
            relay.close()
        for proxy in self._proxies:
            proxy.stop()
        for container in self._containers.values():
            container.stop()
        if self._sinks:
            self._sinks.stop()
        if self.witness:
            self.witness.stop()
        if self._client:
            self._client.close()
        if self._server:
            self._server.stop()

    # -- configuration ---------------------------------------------------------------
    def database(self, service: str) -> str:
        return f"leitai_demo_{self.scenario}_{service}"

    def config(self, service: str) -> dict:
        config: dict[str, Any] = {
            "AMQP_URI": self.amqp_uri,
            "MONGO_URL": self.mongo_url,
            "MONGO_DATABASE": self.database(service),
            "LEITAI_RETRY": RETRY,
            "max_workers": 10,
            # one machine: its broker's guest:guest (or the in-memory transport) is not production's
            "LEITAI_ENVIRONMENT": "development",
        }
        if service == "notify":
            assert self._sinks is not None, "start() first"
            config["LEITAI_NOTIFY"] = dict(
                self._sinks.settings(), rates={"email": 500, "sms": 500}, base_delay=0.2, lease_seconds=30
            )
        return config

    # -- storage -----------------------------------------------------------------------
    def _storage(self) -> str:
        given = os.environ.get("MONGO_URL")
        if given:
            self.say("storage: MongoDB at MONGO_URL (databases leitai_demo_<scenario>_*; dropped first)")
            return given
        installed = Path(".tools/secantus/bin/secantusd-py")  # where `make` puts it
        executable = (
            os.environ.get("LEITAI_SECANTUSD")
            or shutil.which("secantusd-py")
            or (str(installed) if installed.exists() else None)
        )
        if not executable:
            raise ConfigurationError(
                "no storage: set MONGO_URL, or LEITAI_SECANTUSD to a secantusd-py "
                "(`make demo` installs one under .tools/)"
            )
        self._server = SecantusServer(executable, self.workdir / "store", keep_data=True).start()
        self.say(f"storage: SecantusDB started by the demo, data in {self._server.storage}")
        return self._server.url

    # -- broker ------------------------------------------------------------------------
    def _broker(self) -> str:
        given = os.environ.get("AMQP_URI")
        if given and given.startswith("memory://"):
            return self._memory("AMQP_URI asks for it")
        uri = given or DEFAULT_BROKER
        if not _reachable(uri):
            return self._memory(f"no RabbitMQ answers at {_redacted(uri)}")
        if not given:
            if not _own_vhost(DEMO_VHOST):  # never the shared default vhost, where a real deployment may run
                return self._memory(
                    f"RabbitMQ at {_redacted(uri)} has no management API to give the demo a "
                    f"vhost of its own (set AMQP_URI to one it may use)"
                )
            uri = f"{DEFAULT_BROKER}{DEMO_VHOST}"
        with Connection(uri) as connection:
            channel = connection.channel()
            for name in _our_queues():  # nothing left over from an interrupted run
                channel.queue_delete(name)
        self.say(f"broker: RabbitMQ at {_redacted(uri)} (the demo's queues there emptied first)")
        return uri

    def _memory(self, why: str) -> str:
        self.in_memory = True
        memory.enable()
        self.say(f"broker: {why}; every service runs in this process over kombu's in-memory transport")
        return "memory://"

    # -- talking to the services ----------------------------------------------------------
    def call(self, service: str, method: str, *args, **kwargs):
        """An RPC, as the gateway would make it (domain errors arrive as themselves)."""
        cluster = self._callers.get()
        try:
            return getattr(getattr(cluster, service), method)(*args, **kwargs)
        finally:
            self._callers.put(cluster)

    def outbox_counts(self) -> dict[str, int]:
        assert self._sinks is not None, "start() first"
        return {"mail": self._sinks.mail.count, "sms": self._sinks.sms.count}

    def db(self, service: str):
        assert self._client is not None, "start() first"
        return self._client[self.database(service)]

    def heads(self) -> dict[str, int]:
        return {service: head_of_log(MongoCommitLog(self.db(service))).position for service in PUBLISHERS}

    def settle(self, notices: bool = True, timeout: float = 180.0) -> None:
        """Wait until the system is at rest: every stored event sequenced and relayed, every
        subscriber queue (and retry queue) empty and, with ``notices``, every notice sent;
        the same three looks in a row."""
        seen: list = []

        def at_rest() -> bool:
            snapshot = self._activity(notices)
            seen.append(snapshot)
            return snapshot is not None and len(seen) >= 3 and seen[-3] == seen[-2] == snapshot

        wait_until(at_rest, timeout, interval=0.2, what="the services to settle")
        dead = self.dead_letters()
        if dead:
            raise RuntimeError(f"messages were dead-lettered: {dead} (see `leitai dlq list`)")

    def _activity(self, notices: bool):
        heads = self.heads()
        for relay, service in zip(self._relays, PUBLISHERS, strict=True):
            if MongoCommitLog(self.db(service)).count_pending() or relay.checkpoint() != heads[service]:
                return None
        if any(count for name, count in self._queue_depths() if not name.endswith(".dlq")):
            return None
        if self._pump and self._pump.waiting:
            return None
        notify = self.db("notify")
        if notices and notify.deliveries.find_one({"status": {"$in": ["pending", "sending"]}}):
            return None
        return heads, notify.deliveries.count_documents({})

    def _queue_depths(self) -> list[tuple[str, int]]:
        with Connection(self.amqp_uri) as c:
            channel = c.channel()
            return [
                (name, channel.queue_declare(name, passive=True)[1])
                for name in _our_queues()
                if not name.startswith("rpc-")
            ]

    def dead_letters(self) -> dict[str, int]:
        return {name: count for name, count in self._queue_depths() if name.endswith(".dlq") and count}


def _our_queues() -> list[str]:
    names = [f"rpc-{service}" for service in SERVICES]
    for subscription in CATALOGUE.subscriptions:
        names.append(subscription.queue_name)
        names += [q.name for q in topology.consumer_queues(subscription.queue_name, POLICY)]
    return names


def _reachable(uri: str) -> bool:
    try:
        with Connection(uri, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:  # noqa: BLE001 - refused, timed out, bad credentials: all "not here"
        return False


def _own_vhost(name: str) -> bool:
    """Re-create the demo's virtual host through the management API; False where there is none."""
    try:
        delete_vhost(name)
        create_vhost(name)
        return True
    except OSError:  # no management API here (HTTPError is an OSError too)
        return False


def _redacted(uri: str) -> str:
    parts = urllib.parse.urlsplit(uri)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"

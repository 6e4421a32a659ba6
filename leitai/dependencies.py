"""nameko DependencyProviders: connect in setup(), inject a narrow interface, close on stop/kill."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import eventlet
from nameko.extensions import DependencyProvider

from leitai.config import load_settings
from leitai.contracts import ContractRegistry
from leitai.errors import NotFound
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from leitai.messaging.queue_consumer import QueueConsumer
from leitai.mongo import connect
from leitai.ops import OpsServer, Readiness
from leitai.readmodel import ReadModel
from leitai.rpc import rpc
from leitai.vault import MongoPersonalData

if TYPE_CHECKING:
    from nameko.containers import WorkerContext


class CheckedSettings(DependencyProvider):
    """A service's whole settings, validated at start-up by its settings.py's ``load``, so that a
    missing or malformed one stops the process, named, before any entrypoint starts."""

    def __init__(self, load: Callable[[Mapping[str, Any]], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.load = load

    def setup(self) -> None:
        self.settings = self.load(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.settings


class MongoProvider(DependencyProvider):
    """Validates MONGO_URL and MONGO_DATABASE at start-up and owns the client; subclasses
    inject a narrow interface over ``self.db``."""

    def setup(self) -> None:
        settings = load_settings(self.container.config, only=("MONGO_URL", "MONGO_DATABASE"))
        self.client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
        self.db = self.client[settings.MONGO_DATABASE]

    def stop(self) -> None:
        self.client.close()

    def kill(self) -> None:
        self.client.close()


class EventStoreProvider(MongoProvider):
    def __init__(self, registry: ContractRegistry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registry = registry

    def setup(self) -> None:
        super().setup()
        ensure_indexes(self.db)
        self.store = EventStore(MongoCommitLog(self.db), self.registry)

    def get_dependency(self, worker_ctx: WorkerContext) -> EventStore:
        return self.store


class ReadModelProvider(MongoProvider):
    """``indexes``: collection -> the fields of each index its queries need, made at start-up."""

    def __init__(self, indexes: Mapping[str, Sequence[Sequence[str]]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.indexes = indexes or {}

    def setup(self) -> None:
        super().setup()
        for collection, indexes in self.indexes.items():
            for fields in indexes:
                self.db[collection].create_index([(name, 1) for name in fields])
        self.read_model = ReadModel(self.db)

    def get_dependency(self, worker_ctx: WorkerContext) -> ReadModel:
        return self.read_model


class StoreProvider(MongoProvider):
    """A store of the service's own over its database, made at start-up by ``opened(db)``
    (which makes its indexes) and injected as it is (registration's minted grants)."""

    def __init__(self, opened: Callable[[Any], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.opened = opened

    def setup(self) -> None:
        super().setup()
        self.store = self.opened(self.db)

    def get_dependency(self, worker_ctx: WorkerContext) -> Any:
        return self.store


def personal_data(client: Any, config: Mapping[str, Any]) -> MongoPersonalData:
    """The personal-data vault (leitai/privacy.py), in the database LEITAI_PERSONAL_DATABASE
    names, not the service's own."""
    name = load_settings(config, only=("LEITAI_PERSONAL_DATABASE",)).LEITAI_PERSONAL_DATABASE
    return MongoPersonalData.opened(client[name])


class PersonalDataProvider(MongoProvider):
    def setup(self) -> None:
        super().setup()
        self.vault = personal_data(self.client, self.container.config)

    def get_dependency(self, worker_ctx: WorkerContext) -> MongoPersonalData:
        return self.vault


class StoreHealth:
    """The ``health`` RPC a service answers when its event store answers (for readiness)."""

    store: EventStore

    @rpc
    def health(self) -> str:
        return "ok" if self.store.ping() else "store not answering"


class PublishedLog:
    """The RPCs that serve a service's signed checkpoints (the gateway's /logs/<service>/...)."""

    store: EventStore

    @rpc
    def checkpoints(self, after_size: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        return self.store.checkpoints(after_size, limit)

    @rpc
    def checkpoint(self, size: int | None = None) -> dict[str, Any]:
        found = self.store.checkpoint(size)
        if found is None:
            if size is None:
                raise NotFound("no checkpoint has been signed yet")
            raise NotFound("no checkpoint of size {size}", size=size)
        return found

    @rpc
    def checkpoint_covering(self, position: int) -> dict[str, Any] | None:
        return self.store.checkpoint_covering(position)


class Operations(DependencyProvider):
    """Serves the ops port (leitai/ops.py) for a nameko service: ready while every queue
    consumer of the container is consuming and every store it holds answers a ping."""

    STORE_PING_S = 2

    def setup(self) -> None:
        settings = load_settings(self.container.config, only=("LEITAI_OPS_PORT",))  # and where: checked
        self.port, self.host = settings.LEITAI_OPS_PORT, settings.LEITAI_OPS_HOST
        self.server: OpsServer | None = None

    def start(self) -> None:
        if not self.port:
            return
        readiness = Readiness()
        consumers = [e for e in self.container.extensions if isinstance(e, QueueConsumer)]
        readiness.add(
            "broker",
            lambda: (
                None
                if consumers and all(c.consuming for c in consumers)
                else "the broker connection is not open with this service's consumers on it"
            ),
        )
        stores = [p for p in self.container.dependencies if isinstance(p, MongoProvider)]
        if stores:
            readiness.add("store", partial(self._ping, stores))
        self.server = OpsServer(self.port, readiness, host=self.host).start()

    def _ping(self, stores: list[MongoProvider]) -> str | None:
        with eventlet.Timeout(self.STORE_PING_S, False):
            for provider in stores:
                provider.client.admin.command("ping")
            return None
        return f"no answer to a ping within {self.STORE_PING_S} s"

    def stop(self) -> None:
        if self.server:
            self.server.stop()
            self.server = None

    kill = stop

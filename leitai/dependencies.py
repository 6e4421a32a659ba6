"""nameko DependencyProviders: connect in setup(), inject a narrow interface, close on stop/kill."""
from __future__ import annotations

from nameko.extensions import DependencyProvider
from leitai.rpc import rpc

from leitai.config import load_settings
from leitai.contracts import ContractRegistry
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog, ensure_indexes
from leitai.mongo import connect
from leitai.readmodel import ReadModel


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
    def __init__(self, registry: ContractRegistry, **kwargs) -> None:
        super().__init__(**kwargs)
        self.registry = registry

    def setup(self) -> None:
        super().setup()
        ensure_indexes(self.db)
        self.store = EventStore(MongoCommitLog(self.db), self.registry)

    def get_dependency(self, worker_ctx) -> EventStore:
        return self.store


class ReadModelProvider(MongoProvider):
    def setup(self) -> None:
        super().setup()
        self.read_model = ReadModel(self.db)

    def get_dependency(self, worker_ctx) -> ReadModel:
        return self.read_model


class StoreHealth:
    """The ``health`` RPC a service answers when its event store answers (for readiness)."""

    store: EventStore

    @rpc
    def health(self) -> str:
        return "ok" if self.store.ping() else "store not answering"

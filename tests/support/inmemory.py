"""The service layers of registration, scoring and ranking wired together in memory: fakes
over mocks, for tests that run in milliseconds.

Each service keeps its events in an in-memory event store (the twin that passes
EventStoreConformance); read models are a :class:`FakeReadModel`; :meth:`InMemorySystem.deliver`
does what the relays and consumers do: sequence each log and hand every new event, in log
order, to the consumers the published subscriptions name.
"""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from leitai.contracts import Event
from leitai.contracts.product import CONSUMES, REGISTRY
from leitai.eventstore import EventStore, Sequencer
from leitai.eventstore.memory import MemoryCommitLog
from leitai.readmodel import APPLIED
from leitai.writes import Write
from services.ranking.application import Ranking
from services.ranking.projection import writes_of
from services.registration.application import Registration
from services.scoring.application import Scoring

PUBLISHERS = ("registration", "scoring", "ranking")


class FakeReadModel:
    """The ReadModel interface in dicts: ``get``, ``find`` (equality and ``$in``), and
    ``apply_once`` with ``$set``; plus :meth:`apply` for ranking's projection writes."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[Any, dict]] = defaultdict(dict)

    def apply_once(self, collection: str, key: Any, event_id, update: dict) -> bool:
        if set(update) - {"$set"}:
            raise NotImplementedError(f"the fake applies $set only, not {sorted(update)}")
        document = self.collections[collection].setdefault(key, {"_id": key, APPLIED: []})
        if str(event_id) in document[APPLIED]:
            return False
        document.update(copy.deepcopy(update.get("$set", {})))
        document[APPLIED].append(str(event_id))
        return True

    def apply(self, writes: Iterable[Write]) -> None:
        """What a WriteBatch flush does on MongoDB: $max for positions, a sheet only
        over a lower revision, else $set with upsert."""
        for write in writes:
            document = self.collections[write.collection].setdefault(write.key, {"_id": write.key})
            if write.positions is not None:
                for name, value in write.positions.items():
                    document[name] = max(document.get(name, value), value)
            elif write.newer_than_revision is None or document.get("revision", 0) < write.newer_than_revision:
                document.update(copy.deepcopy(write.set))

    def get(self, collection: str, key: Any) -> dict | None:
        document = self.collections[collection].get(key)
        return None if document is None else _public(document)

    def find(self, collection: str, query: dict | None = None, sort=None) -> list[dict]:
        found = [_public(d) for d in self.collections[collection].values() if _matches(d, query or {})]
        for name, direction in reversed(list(sort or [])):
            found.sort(key=lambda d: d[name], reverse=direction < 0)
        return found


def _public(document: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in document.items() if k != APPLIED}


def _values(document: Any, path: str) -> list:
    """The values at a dotted ``path``, through lists as MongoDB goes through arrays."""
    found = [document]
    for part in path.split("."):
        found = [
            item
            for value in found
            if isinstance(value, dict) and part in value
            for item in (value[part] if isinstance(value[part], list) else [value[part]])
        ]
    return found


def _matches(document: dict, query: dict) -> bool:
    for name, wanted in query.items():
        if "." in name:
            if isinstance(wanted, dict):
                raise NotImplementedError(f"the fake matches a dotted path by equality only, not {wanted}")
            if wanted not in _values(document, name):
                return False
            continue
        if isinstance(wanted, dict):
            if set(wanted) == {"$exists"}:
                if (name in document) != wanted["$exists"]:
                    return False
                continue
            if set(wanted) != {"$in"}:
                raise NotImplementedError(f"the fake matches equality, $in and $exists only, not {wanted}")
            if document.get(name) not in wanted["$in"]:
                return False
        elif document.get(name) != wanted:
            return False
    return True


class InMemorySystem:
    def __init__(self) -> None:
        self.records = {name: MemoryCommitLog() for name in PUBLISHERS}
        self.stores = {name: EventStore(self.records[name], REGISTRY) for name in PUBLISHERS}
        self._sequencers = {name: Sequencer(self.records[name], owner="in-memory") for name in PUBLISHERS}
        self._delivered = dict.fromkeys(PUBLISHERS, 0)
        seeds = itertools.count(1)
        self.plans = FakeReadModel()
        self.board = FakeReadModel()
        self.registration = Registration(self.stores["registration"], lambda: f"seed-{next(seeds):04d}")
        self.scoring = Scoring(self.stores["scoring"], self.plans)
        self.ranking = Ranking(self.stores["ranking"], self.board)
        self.consumers = {
            "registration": lambda event: {
                "ContestantAdvanced": self.registration.contestant_advanced,
                "StageResultsRepublished": self.registration.results_republished,
            }[event.type](event),
            "scoring": lambda event: {
                "SessionOpened": self.scoring.session_opened,
                "StageResultsPublished": self.scoring.stage_published,
            }[event.type](event),
            "ranking": self._ranking,
        }

    def _ranking(self, event: Event) -> None:
        """What ranking's handlers do: project; after an approved correction, publish again."""
        self.board.apply(writes_of(event))
        if event.type == "EntryRescored":
            self.ranking.republish_after(event.to_wire(REGISTRY)["payload"])

    def deliver(self) -> list[Event]:
        """Sequence every log and deliver what is new, until nothing is; returns what was delivered."""
        delivered: list[Event] = []
        while True:
            fresh = []
            for source in PUBLISHERS:
                self._sequencers[source].sequence()
                for batch in self.stores[source].read_all(self._delivered[source]):
                    fresh += [(source, event) for event in batch]
                    self._delivered[source] = batch[-1].position
            if not fresh:
                return delivered
            for source, event in fresh:
                for consumer, handle in self.consumers.items():
                    if event.type in CONSUMES[consumer].get(source, ()):
                        handle(event)
                delivered.append(event)

    def events(self, service: str, stream_id: str) -> list[Event]:
        return self.stores[service].read_stream(stream_id)

"""The event store on MongoDB (pymongo).

One append is one *commit* document holding all its events, so an append is atomic on a
standalone mongod as well as on a replica set, without multi-document transactions.

* Optimistic concurrency: a commit records the version it was appended after
  (``prev_version``); a unique index on ``(stream_id, prev_version)`` lets exactly one of
  several racing appenders win. Appenders of different streams share no document.
* Idempotency: a unique multikey index on ``events.event_id``; re-sending an append whose
  event ids are stored returns the original outcome.
* Global order: commits are sequenced after the fact by the single lease holder of
  :class:`~leitai.eventstore.sequencer.Sequencer` (the relay), which assigns gap-free
  positions and extends the store's hash chain. ``read_all`` returns only sequenced events.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator, Sequence

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from leitai.contracts import ContractError, ContractRegistry, Event, NewEvent, format_timestamp
from leitai.eventstore.errors import ConcurrencyConflict, CorruptRecord, EventIdReused

COMMITS = "commits"
SEQUENCER = "sequencer"
SEALS = "seals"


@dataclass(frozen=True)
class AppendResult:
    stream_id: str
    first_version: int
    last_version: int
    event_ids: tuple[uuid.UUID, ...]
    duplicate: bool = False  # True when this append had been stored before


def ensure_indexes(db: Database) -> None:
    """Create collections and indexes; call at start-up, never inside a request."""
    commits = db[COMMITS]
    commits.create_index([("stream_id", ASCENDING), ("prev_version", ASCENDING)], unique=True)
    commits.create_index([("stream_id", ASCENDING), ("version", DESCENDING)])
    commits.create_index("events.event_id", unique=True)
    commits.create_index("first_position", unique=True, sparse=True)
    commits.create_index([("sequenced", ASCENDING), ("_id", ASCENDING)])
    db[SEALS].create_index("position")
    if SEQUENCER not in db.list_collection_names():
        db.create_collection(SEQUENCER)


class EventStore:
    def __init__(self, db: Database, registry: ContractRegistry) -> None:
        self._commits: Collection = db[COMMITS]
        self._registry = registry

    # -- writing -----------------------------------------------------------------
    def append(self, stream_id: str, expected_version: int, events: Sequence[NewEvent]) -> AppendResult:
        """Append ``events`` after ``expected_version`` (0 for a new stream).

        Raises ConcurrencyConflict (nothing written) when the stream has moved on, and
        ContractError when an event does not satisfy its contract.
        """
        if not events:
            raise ValueError("append needs at least one event")
        if expected_version < 0:
            raise ValueError("expected_version must be >= 0")
        event_ids = [e.event_id for e in events]
        if len(set(event_ids)) != len(event_ids):
            raise EventIdReused("the same event id appears twice in one append")
        documents = [self._document(stream_id, expected_version + i + 1, e) for i, e in enumerate(events)]

        earlier = self._find_by_event_ids(event_ids)
        if earlier is not None:
            return self._original_outcome(earlier, stream_id, event_ids)
        head = self.stream_version(stream_id)
        if head != expected_version:
            raise ConcurrencyConflict(stream_id, expected_version, head)
        commit = {
            "_id": str(event_ids[0]),
            "stream_id": stream_id,
            "prev_version": expected_version,
            "version": expected_version + len(events),
            "sequenced": False,
            "recorded_at": datetime.now(timezone.utc),
            "events": documents,
        }
        try:
            self._commits.insert_one(commit)
        except DuplicateKeyError as exc:
            earlier = self._find_by_event_ids(event_ids)
            if earlier is not None:
                return self._original_outcome(earlier, stream_id, event_ids)
            raise ConcurrencyConflict(stream_id, expected_version, None) from exc
        return AppendResult(stream_id, expected_version + 1, commit["version"], tuple(event_ids))

    def _document(self, stream_id: str, version: int, event: NewEvent) -> dict:
        contract = self._registry.get(event.type)
        event_id = str(event.event_id)
        return {
            "event_id": event_id,
            "stream_id": stream_id,
            "stream_version": version,
            "type": event.type,
            "schema_version": contract.version,
            "occurred_at": format_timestamp(event.occurred_at),
            "correlation_id": event.correlation_id or event_id,
            "causation_id": event.causation_id,
            "actor": event.actor,
            "payload": contract.normalise(event.payload),
        }

    def _find_by_event_ids(self, event_ids: list[uuid.UUID]) -> dict | None:
        return self._commits.find_one(
            {"events.event_id": {"$in": [str(i) for i in event_ids]}},
            {"stream_id": 1, "prev_version": 1, "version": 1, "events.event_id": 1},
        )

    @staticmethod
    def _original_outcome(commit: dict, stream_id: str, event_ids: list[uuid.UUID]) -> AppendResult:
        stored = [uuid.UUID(e["event_id"]) for e in commit["events"]]
        if commit["stream_id"] != stream_id or stored != event_ids:
            raise EventIdReused(
                f"event ids already stored in another append (stream {commit['stream_id']!r})"
            )
        return AppendResult(stream_id, commit["prev_version"] + 1, commit["version"], tuple(stored), duplicate=True)

    # -- reading -----------------------------------------------------------------
    def stream_version(self, stream_id: str) -> int:
        head = self._commits.find_one({"stream_id": stream_id}, {"version": 1}, sort=[("version", DESCENDING)])
        return head["version"] if head else 0

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]:
        cursor = self._commits.find(
            {"stream_id": stream_id, "version": {"$gt": after_version}}, sort=[("version", ASCENDING)]
        )
        return [e for commit in cursor for e in self._events(commit) if e.stream_version > after_version]

    def read_all(self, after_position: int = 0, batch_size: int = 500) -> Iterator[list[Event]]:
        """Every sequenced event after ``after_position``, in recorded order, in batches."""
        while True:
            cursor = self._commits.find(
                {"sequenced": True, "last_position": {"$gt": after_position}},
                sort=[("first_position", ASCENDING)],
                limit=batch_size,
            )
            batch = [e for commit in cursor for e in self._events(commit) if e.position > after_position]
            if not batch:
                return
            yield batch
            after_position = batch[-1].position

    def head_position(self) -> int:
        head = self._commits.find_one({"sequenced": True}, {"last_position": 1}, sort=[("first_position", DESCENDING)])
        return head["last_position"] if head else 0

    def _events(self, commit: dict) -> list[Event]:
        first = commit.get("first_position")
        events = []
        for index, document in enumerate(commit["events"]):
            data = dict(document, position=None if first is None else first + index)
            try:
                events.append(Event.from_wire(data, self._registry))
            except ContractError as exc:
                raise CorruptRecord(f"commit {commit['_id']} event {document.get('event_id')}: {exc}") from exc
        return events

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

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from leitai.contracts import ContractError, ContractRegistry, Event, NewEvent, format_timestamp
from leitai.eventstore.canonical import GENESIS
from leitai.eventstore.errors import ConcurrencyConflict, CorruptRecord, EventIdReused

COMMITS = "commits"
SEQUENCER = "sequencer"
SEALS = "seals"
MAX_EVENTS_PER_APPEND = 500
PENDING = "pending_since"


def commit_id(stream_id: str, version: int) -> str:
    """A commit's _id names the stream version it ends at, so that lookup needs no index."""
    return f"{stream_id}@{version:012d}"


@dataclass(frozen=True)
class AppendResult:
    stream_id: str
    first_version: int
    last_version: int
    event_ids: tuple[uuid.UUID, ...]
    duplicate: bool = False  # True when this append had been stored before


HEAD_HINT = "head"


def commits_in_order(commits: Collection, after_position: int = 0, span: int = 500) -> Iterator[list[dict]]:
    """Sequenced commits after ``after_position`` in log order, as bounded range scans.

    Each query asks for last positions in (p, p + span]: with ``span`` at least the largest
    append, the commit holding p + 1 always falls in the range, and no query asks the
    server to sort more than one range.
    """
    span = max(span, MAX_EVENTS_PER_APPEND)
    while True:
        batch = sorted(commits.find({"last_position": {"$gt": after_position, "$lte": after_position + span}}),
                       key=lambda c: c["last_position"])
        if not batch:
            return
        yield batch
        after_position = batch[-1]["last_position"]


def head_of_log(db: Database) -> tuple[int, str]:
    """(position, hash) of the last sequenced event; (0, GENESIS) for an empty log.

    Starts from the head the sequencer last recorded and scans forward, so a hint left
    behind by a crash between sequencing and recording it is corrected here.
    """
    hint = db[SEQUENCER].find_one({"_id": HEAD_HINT}) or {"position": 0, "hash": GENESIS}
    position, digest = hint["position"], hint["hash"]
    for batch in commits_in_order(db[COMMITS], position):
        position, digest = batch[-1]["last_position"], batch[-1]["hash"]
    return position, digest


def ensure_indexes(db: Database) -> None:
    """Create collections and indexes; call at start-up, never inside a request."""
    commits = db[COMMITS]
    # An append after version v needs the commit ending at v (found by _id, see commit_id)
    # and no commit starting at v (this index).
    commits.create_index([("stream_id", ASCENDING), ("prev_version", ASCENDING)], unique=True)
    commits.create_index("events.event_id", unique=True)
    # only sequenced commits have positions: global reads are range scans on this index
    commits.create_index("last_position", unique=True, sparse=True)
    # sparse: holds only the commits still waiting for the sequencer, so stays small
    commits.create_index(PENDING, sparse=True)
    db[SEALS].create_index("position")
    if SEQUENCER not in db.list_collection_names():
        db.create_collection(SEQUENCER)


class EventStore:
    def __init__(self, db: Database, registry: ContractRegistry) -> None:
        self._db = db
        self._commits: Collection = db[COMMITS]
        self._registry = registry

    # -- writing -----------------------------------------------------------------
    def append(self, stream_id: str, expected_version: int, events: Sequence[NewEvent]) -> AppendResult:
        """Append ``events`` after ``expected_version`` (0 for a new stream).

        Raises ConcurrencyConflict (nothing written) when the stream has moved on, and
        ContractError when an event does not satisfy its contract.
        """
        if not 1 <= len(events) <= MAX_EVENTS_PER_APPEND:
            raise ValueError(f"an append holds 1 to {MAX_EVENTS_PER_APPEND} events")
        if expected_version < 0:
            raise ValueError("expected_version must be >= 0")
        event_ids = [e.event_id for e in events]
        if len(set(event_ids)) != len(event_ids):
            raise EventIdReused("the same event id appears twice in one append")
        documents = [self._document(stream_id, expected_version + i + 1, e) for i, e in enumerate(events)]

        if expected_version and not self._commits.find_one({"_id": commit_id(stream_id, expected_version)},
                                                           {"_id": 1}):
            return self._resent_or_raise(event_ids, stream_id, self._conflict(stream_id, expected_version))
        version = expected_version + len(events)
        commit = {
            "_id": commit_id(stream_id, version),
            "stream_id": stream_id,
            "prev_version": expected_version,
            "version": version,
            PENDING: datetime.now(timezone.utc),
            "events": documents,
        }
        try:
            self._commits.insert_one(commit)
        except DuplicateKeyError:
            # a commit already starts at expected_version (or these event ids are stored)
            return self._resent_or_raise(event_ids, stream_id, self._conflict(stream_id, expected_version))
        return AppendResult(stream_id, expected_version + 1, commit["version"], tuple(event_ids))

    def _conflict(self, stream_id: str, expected_version: int) -> ConcurrencyConflict:
        return ConcurrencyConflict(stream_id, expected_version, self.stream_version(stream_id))

    def _resent_or_raise(self, event_ids: list[uuid.UUID], stream_id: str, conflict: ConcurrencyConflict) -> AppendResult:
        """The original outcome if these events were stored before, else ``conflict``."""
        earlier = self._commits.find_one(
            {"events.event_id": {"$in": [str(i) for i in event_ids]}},
            {"stream_id": 1, "prev_version": 1, "version": 1, "events.event_id": 1},
        )
        if earlier is None:
            raise conflict
        return self._original_outcome(earlier, stream_id, event_ids)

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
        versions = [c["version"] for c in self._commits.find({"stream_id": stream_id}, {"version": 1})]
        return max(versions, default=0)

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]:
        commits = sorted(self._commits.find({"stream_id": stream_id, "version": {"$gt": after_version}}),
                         key=lambda c: c["version"])
        return [e for commit in commits for e in self._events(commit) if e.stream_version > after_version]

    def read_all(self, after_position: int = 0, batch_size: int = 500) -> Iterator[list[Event]]:
        """Every sequenced event after ``after_position``, in recorded order, in batches of
        at most ``batch_size`` events."""
        for commits in commits_in_order(self._commits, after_position, batch_size):
            events = [e for commit in commits for e in self._events(commit) if e.position > after_position]
            for start in range(0, len(events), batch_size):
                yield events[start:start + batch_size]

    def ping(self) -> bool:
        return self._db.command("ping").get("ok") == 1

    def head_position(self) -> int:
        return head_of_log(self._db)[0]

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

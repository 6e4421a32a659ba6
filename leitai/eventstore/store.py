"""The event store: appends, stream reads and the global log, over any CommitLog backend.

One append is one *commit* record holding all its events, so an append is atomic on a
standalone mongod as well as on a replica set, without multi-document transactions.

* Optimistic concurrency: a commit records the version it was appended after
  (``prev_version``); the backend's unique rule on ``(stream_id, prev_version)`` lets exactly
  one of several racing appenders win. Appenders of different streams share no record.
* Idempotency: event ids are unique in the backend; re-sending an append whose event ids
  are stored returns the original outcome.
* Global order: commits are sequenced after the fact by the single lease holder of
  :class:`~leitai.eventstore.sequencer.Sequencer` (the relay), which assigns gap-free
  positions and extends the store's hash chain. ``read_all`` returns only sequenced events.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from leitai import metrics
from leitai.contracts import ContractError, ContractRegistry, Event, NewEvent, format_timestamp
from leitai.eventstore.checkpoints import public
from leitai.eventstore.errors import ConcurrencyConflict, CorruptRecord, EventIdReused
from leitai.eventstore.groupcommit import GroupCommit
from leitai.eventstore.merkle import Tree
from leitai.eventstore.prefixes import SequencedPrefixes
from leitai.eventstore.records import (
    MAX_EVENTS_PER_APPEND,
    PENDING,
    CommitLog,
    DuplicateCommit,
    all_checkpoints,
    commit_id,
    commit_leaves,
    commits_in_order,
    head_of_log,
)


class Stored(NamedTuple):
    """An event as its log stores it: the payload in its JSON form, at the current schema
    version (what a projection that writes JSON needs, without a round trip through Python
    values)."""

    type: str
    position: int
    payload: dict[str, Any]
    stream_id: str
    stream_version: int
    occurred_at: str  # as stored: ISO 8601, UTC


E = TypeVar("E", Event, Stored)  # what a read of the log gives: events, or events as stored


@dataclass(frozen=True)
class AppendResult:
    stream_id: str
    first_version: int
    last_version: int
    event_ids: tuple[uuid.UUID, ...]
    duplicate: bool = False  # True when this append had been stored before


class KnownHeads:
    """Versions at which this process has seen a stream's commit end (a read, or its own
    append): commits are never removed, so an append after one of them needs no read to
    prove it leaves no gap. Bounded: the least recently used streams are forgotten."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._heads: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()  # appenders share a store across threads

    def saw(self, stream_id: str, version: int) -> None:
        with self._lock:
            if version >= self._heads.get(stream_id, 0):
                self._heads[stream_id] = version
            self._heads.move_to_end(stream_id)
            if len(self._heads) > self._capacity:
                self._heads.popitem(last=False)

    def vouches_for(self, stream_id: str, version: int) -> bool:
        return self._heads.get(stream_id) == version


class EventStore:
    def __init__(self, log: CommitLog, registry: ContractRegistry) -> None:
        self._log = log
        self._registry = registry
        self._heads = KnownHeads()
        self._prefixes = SequencedPrefixes()
        # appends from concurrent commands (threads, or a service's green threads) that arrive
        # while one is being stored are stored together, each still answered on its own
        self._appends: GroupCommit[dict[str, Any], None] = GroupCommit(log.insert_each)

    # -- writing -----------------------------------------------------------------
    def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent], outcome: dict[str, Any] | None = None
    ) -> AppendResult:
        """Append ``events`` after ``expected_version`` (0 for a new stream).

        ``outcome``, when given, is kept in the same commit (so it is written exactly when the
        events are): what the command answered, for a retry of it to find (``outcome_of``). It
        is a convenience for clients, not evidence: the hash chain covers the events only.

        Raises ConcurrencyConflict (nothing written) when the stream has moved on, and
        ContractError when an event does not satisfy its contract.
        """
        commit = self.commit(stream_id, expected_version, events, outcome)
        event_ids = [e.event_id for e in events]
        # The unique indexes refuse a second commit after the same version; only a gap (an
        # expected version no commit ends at) needs a read to refuse, and none is needed
        # after a version this store saw a commit end at, which is what a command that
        # read the stream first appends after.
        if (
            expected_version
            and not self._heads.vouches_for(stream_id, expected_version)
            and not self._log.exists(commit_id(stream_id, expected_version))
        ):
            return self._resent_or_raise(event_ids, stream_id, self._conflict(stream_id, expected_version))
        try:
            self._appends.submit(commit)
        except DuplicateCommit:
            # a commit already starts at expected_version (or these event ids are stored)
            return self._resent_or_raise(event_ids, stream_id, self._conflict(stream_id, expected_version))
        self._heads.saw(stream_id, commit["version"])
        for event in events:
            metrics.EVENTS_APPENDED.labels(event.type).inc()
        return AppendResult(stream_id, expected_version + 1, commit["version"], tuple(event_ids))

    def commit(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent], outcome: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The commit record an append of ``events`` after ``expected_version`` stores, its
        payloads checked against their contracts: what ``append`` inserts (and what a tool
        that writes a log in bulk, such as bench/synthetic.py, inserts many of at once)."""
        if not 1 <= len(events) <= MAX_EVENTS_PER_APPEND:
            raise ValueError(f"an append holds 1 to {MAX_EVENTS_PER_APPEND} events")
        if expected_version < 0:
            raise ValueError("expected_version must be >= 0")
        event_ids = [e.event_id for e in events]
        if len(set(event_ids)) != len(event_ids):
            raise EventIdReused("the same event id appears twice in one append")
        version = expected_version + len(events)
        return {
            "_id": commit_id(stream_id, version),
            "stream_id": stream_id,
            "prev_version": expected_version,
            "version": version,
            PENDING: datetime.now(UTC),
            "events": [self._document(stream_id, expected_version + i + 1, e) for i, e in enumerate(events)],
            **({"outcome": outcome} if outcome is not None else {}),
        }

    def _conflict(self, stream_id: str, expected_version: int) -> ConcurrencyConflict:
        return ConcurrencyConflict(stream_id, expected_version, self.stream_version(stream_id))

    def _resent_or_raise(
        self, event_ids: list[uuid.UUID], stream_id: str, conflict: ConcurrencyConflict
    ) -> AppendResult:
        """The original outcome if these events were stored before, else ``conflict``."""
        earlier = self._log.find_by_event_ids([str(i) for i in event_ids])
        if earlier is None:
            raise conflict
        return self._original_outcome(earlier, stream_id, event_ids)

    def _document(self, stream_id: str, version: int, event: NewEvent) -> dict[str, Any]:
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
    def _original_outcome(commit: dict[str, Any], stream_id: str, event_ids: list[uuid.UUID]) -> AppendResult:
        stored = [uuid.UUID(e["event_id"]) for e in commit["events"]]
        if commit["stream_id"] != stream_id or stored != event_ids:
            raise EventIdReused(f"event ids already stored in another append (stream {commit['stream_id']!r})")
        return AppendResult(stream_id, commit["prev_version"] + 1, commit["version"], tuple(stored), duplicate=True)

    # -- reading -----------------------------------------------------------------
    def outcome_of(self, event_id: uuid.UUID) -> dict[str, Any] | None:
        """The ``outcome`` stored with the commit holding ``event_id`` (None: no such event, or
        it was appended without one)."""
        commit = self._log.find_by_event_ids([str(event_id)])
        return commit.get("outcome") if commit else None

    def stream_version(self, stream_id: str) -> int:
        version = self._log.stream_version(stream_id)
        if version:
            self._heads.saw(stream_id, version)
        return version

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[Event]:
        held_version, held = self._prefixes.get(stream_id)
        reuse = after_version <= held_version
        commits = sorted(
            self._log.stream_commits(stream_id, max(after_version, held_version)), key=lambda c: c["version"]
        )
        parsed = [(commit, self._events(commit)) for commit in commits]
        head = commits[-1]["version"] if commits else held_version
        if head:
            self._heads.saw(stream_id, head)
        if reuse:
            self._prefixes.extend(stream_id, held_version, held, parsed)
        events = [*(held if reuse else ()), *(e for _, events in parsed for e in events)]
        return [e for e in events if e.stream_version > after_version]

    def read_all(self, after_position: int = 0, batch_size: int = 500) -> Iterator[list[Event]]:
        """Every sequenced event after ``after_position``, in recorded order, in batches of
        at most ``batch_size`` events."""
        return self._read_log(after_position, batch_size, self._event)

    def read_all_stored(self, after_position: int = 0, batch_size: int = 500) -> Iterator[list[Stored]]:
        """``read_all`` for a reader of JSON: an event of the current schema version as stored,
        checked against its contract when it was appended and covered by the hash chain
        since; an older one upcast and checked now."""
        return self._read_log(after_position, batch_size, self._stored)

    def _read_log(
        self,
        after_position: int,
        batch_size: int,
        read: Callable[[dict[str, Any], dict[str, Any], int], E],
    ) -> Iterator[list[E]]:
        """``read(commit, event document, position)`` of every sequenced event after
        ``after_position``, in batches of at most ``batch_size``."""
        for commits in commits_in_order(self._log, after_position, batch_size):
            events = [
                read(commit, document, commit["first_position"] + index)
                for commit in commits
                for index, document in enumerate(commit["events"])
            ]
            events = [e for e in events if e.position is not None and e.position > after_position]
            for start in range(0, len(events), batch_size):
                yield events[start : start + batch_size]

    def _stored(self, commit: dict[str, Any], document: dict[str, Any], position: int) -> Stored:
        if self._current(document):
            return Stored(
                document["type"],
                position,
                document["payload"],
                document["stream_id"],
                document["stream_version"],
                document["occurred_at"],
            )
        event = self._event(commit, document, position)
        return Stored(
            event.type,
            position,
            event.to_wire(self._registry)["payload"],
            event.stream_id,
            event.stream_version,
            format_timestamp(event.occurred_at),
        )

    def _current(self, document: dict[str, Any]) -> bool:
        try:
            return self._registry.get(document.get("type")).version == document.get("schema_version")
        except ContractError:
            return False  # reading it as an Event names what is wrong

    def check(self, position: int) -> Event:
        """The event at ``position``, checked against its contract: CorruptRecord, naming it,
        if it does not fit."""
        for commits in commits_in_order(self._log, position - 1, MAX_EVENTS_PER_APPEND):
            commit = commits[0]
            return self._event(commit, commit["events"][position - commit["first_position"]], position)
        raise KeyError(f"no event at position {position}")

    def ping(self) -> bool:
        return self._log.ping()

    # -- checkpoints and proofs ------------------------------------------------------
    def checkpoints(self, after_size: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Signed checkpoints above ``after_size``, smallest first, as served (see checkpoints.py)."""
        return [public(c) for c in self._log.checkpoints(after_size, limit)]

    def chain(self) -> list[dict[str, Any]]:
        """Every signed checkpoint, smallest first, as served."""
        return [public(c) for c in all_checkpoints(self._log)]

    def checkpoint(self, size: int | None = None) -> dict[str, Any] | None:
        """The checkpoint of exactly ``size`` leaves; the latest without one."""
        found = self._log.latest_checkpoint() if size is None else self._log.checkpoint_at_least(size)
        return public(found) if found and (size is None or found["size"] == size) else None

    def checkpoint_covering(self, position: int) -> dict[str, Any] | None:
        """The first checkpoint whose tree holds the event at ``position``."""
        found = self._log.checkpoint_at_least(max(position, 1))
        return public(found) if found else None

    def tree(self, size: int) -> Tree:
        """The Merkle tree of the first ``size`` events (read from the log's leaves: O(size))."""
        leaves: list[bytes] = []
        for commits in commits_in_order(self._log, 0):
            for commit in commits:
                leaves += commit_leaves(commit)
            if len(leaves) >= size:
                break
        if len(leaves) < size:
            raise ValueError(f"the log holds {len(leaves)} events, not {size}")
        return Tree(leaves[:size])

    def stored_stream(self, stream_id: str) -> list[tuple[int, dict[str, Any]]]:
        """(position, stored document) of each sequenced event of a stream, in version order."""
        commits = sorted(self._log.stream_commits(stream_id), key=lambda c: c["version"])
        return [
            (commit["first_position"] + index, document)
            for commit in commits
            if commit.get("first_position") is not None
            for index, document in enumerate(commit["events"])
        ]

    def current_payload(self, document: dict[str, Any]) -> dict[str, Any]:
        """A stored event's payload in its JSON form at the current schema version."""
        return self._stored({"_id": document.get("stream_id")}, document, 0).payload

    def stored_event(self, event_id: str) -> tuple[int, dict[str, Any]] | None:
        """(position, stored document) of a sequenced event: the bytes its leaf covers are
        ``canonical_json(dict(document, position=position))``."""
        found = self._log.find_by_event_ids([event_id])
        if found is None or found.get("first_position") is None:
            return None
        for commit in self._log.sequenced_between(found["last_position"] - 1, found["last_position"]):
            for index, document in enumerate(commit["events"]):
                if document["event_id"] == event_id:
                    return commit["first_position"] + index, document
        return None

    def head_position(self) -> int:
        return head_of_log(self._log).position

    def _events(self, commit: dict[str, Any]) -> list[Event]:
        first = commit.get("first_position")
        return [
            self._event(commit, document, None if first is None else first + index)
            for index, document in enumerate(commit["events"])
        ]

    def _event(self, commit: dict[str, Any], document: dict[str, Any], position: int | None) -> Event:
        try:
            return Event.from_wire(dict(document, position=position), self._registry)
        except ContractError as exc:
            raise CorruptRecord(f"commit {commit['_id']} event {document.get('event_id')}: {exc}") from exc

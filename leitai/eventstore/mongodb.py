"""The event store's records on MongoDB (pymongo): one collection of commits, one of seals,
one for the sequencer's lease and head.

* Optimistic concurrency: a unique index on ``(stream_id, prev_version)`` lets exactly one of
  several racing appenders win; appenders of different streams share no document.
* Idempotency: a unique multikey index on ``events.event_id``.
* Global reads are range scans on the unique, sparse ``last_position`` index; the sparse
  ``pending_since`` index holds only the commits still waiting for the sequencer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, CollectionInvalid, DuplicateKeyError, WriteConcernError

from leitai.eventstore.records import PENDING, DuplicateCommit
from leitai.mongo import DUPLICATE_KEY, taken_keys

COMMITS = "commits"
SEQUENCER = "sequencer"
SEALS = "seals"
CHECKPOINTS = "checkpoints"
LEASE_ID = "lease"
HEAD_HINT = "head"
EPOCH = datetime.min.replace(tzinfo=UTC)


def ensure_indexes(db: Database[dict[str, Any]]) -> None:
    """Create collections and indexes; call at start-up, never inside a request."""
    commits = db[COMMITS]
    # An append after version v needs the commit ending at v (found by _id, see commit_id)
    # and no commit starting at v (this index).
    commits.create_index([("stream_id", ASCENDING), ("prev_version", ASCENDING)], unique=True)
    commits.create_index("events.event_id", unique=True)
    commits.create_index("last_position", unique=True, sparse=True)
    commits.create_index(PENDING, sparse=True)
    db[SEALS].create_index("position")
    for name in (CHECKPOINTS, SEQUENCER):  # CHECKPOINTS is keyed by size (_id): no other index
        _create(db, name)


def _create(db: Database[dict[str, Any]], name: str) -> None:
    """``name`` made if it is not there: a service and its relay (or two replicas) start at once,
    and the one that looks second may find it made between its look and its create."""
    if name in db.list_collection_names():
        return
    try:
        db.create_collection(name)
    except CollectionInvalid:  # made by another process in between: what we wanted
        pass


class MongoCommitLog:
    """:class:`~leitai.eventstore.records.CommitLog` on one MongoDB database."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self.db = db
        self._commits = db[COMMITS]
        self._state = db[SEQUENCER]
        self._seals = db[SEALS]
        self._checkpoints = db[CHECKPOINTS]
        self._lease_created = False

    def insert_each(self, commits: Sequence[dict[str, Any]]) -> Sequence[Exception | None]:
        try:
            # unordered: a commit a unique index refuses does not keep the others out
            self._commits.insert_many(commits, ordered=False)
        except BulkWriteError as exc:  # a bulk reports each refused commit by its index
            refused = {e["index"]: DuplicateCommit(e.get("errmsg", "duplicate key")) for e in taken_keys(exc)}
            concern = exc.details.get("writeConcernErrors")
            # the rest went in, but short of the write concern: their outcome is unknown (an outage)
            rest = (
                WriteConcernError(concern[0].get("errmsg", ""), concern[0].get("code"), concern[0]) if concern else None
            )
            return [refused.get(i, rest) for i in range(len(commits))]
        return [None] * len(commits)

    def exists(self, commit_id: str) -> bool:
        return self._commits.find_one({"_id": commit_id}, {"_id": 1}) is not None

    def find_by_event_ids(self, event_ids: Sequence[str]) -> dict[str, Any] | None:
        return self._commits.find_one(
            {"events.event_id": {"$in": list(event_ids)}},
            {
                "stream_id": 1,
                "prev_version": 1,
                "version": 1,
                "events.event_id": 1,
                "outcome": 1,
                "first_position": 1,
                "last_position": 1,
            },
        )

    def stream_commits(self, stream_id: str, after_version: int = 0) -> list[dict[str, Any]]:
        return list(self._commits.find({"stream_id": stream_id, "version": {"$gt": after_version}}))

    def stream_version(self, stream_id: str) -> int:
        return max((c["version"] for c in self._commits.find({"stream_id": stream_id}, {"version": 1})), default=0)

    def sequenced_between(self, after_position: int, up_to: int) -> list[dict[str, Any]]:
        return list(self._commits.find({"last_position": {"$gt": after_position, "$lte": up_to}}))

    def pending(self, limit: int) -> list[dict[str, Any]]:
        return list(self._commits.find({PENDING: {"$gt": EPOCH}}, limit=limit))

    def pending_heads(self, stream_ids: Sequence[str]) -> list[dict[str, Any]]:
        return list(
            self._commits.find(
                {PENDING: {"$gt": EPOCH}, "stream_id": {"$in": list(stream_ids)}}, {"stream_id": 1, "prev_version": 1}
            )
        )

    def count_pending(self) -> int:
        return self._commits.count_documents({PENDING: {"$exists": True}})

    def mark_sequenced(self, assigned: Sequence[tuple[str, dict[str, Any]]]) -> int:
        updates = [
            UpdateOne({"_id": cid, PENDING: {"$exists": True}}, {"$set": fields, "$unset": {PENDING: ""}})
            for cid, fields in assigned
        ]
        try:
            return self._commits.bulk_write(updates, ordered=True).modified_count
        except BulkWriteError as exc:  # a bulk reports a taken key here, not as DuplicateKeyError
            if any(e.get("code") == DUPLICATE_KEY for e in exc.details.get("writeErrors", ())):
                raise DuplicateCommit(str(exc)) from None
            raise

    def take_lease(self, owner: str, now: datetime, until: datetime) -> bool:
        if not self._lease_created:
            # created before it is raced for: an upsert racing to create it can find nothing
            try:
                self._state.insert_one({"_id": LEASE_ID, "owner": None, "expires_at": EPOCH})
            except DuplicateKeyError:
                pass
            self._lease_created = True
        held = self._state.find_one_and_update(
            {"_id": LEASE_ID, "$or": [{"owner": owner}, {"expires_at": {"$lt": now}}]},
            {"$set": {"owner": owner, "expires_at": until}},
            return_document=ReturnDocument.AFTER,
        )
        return held is not None

    def release_lease(self, owner: str) -> None:
        self._state.update_one({"_id": LEASE_ID, "owner": owner}, {"$set": {"expires_at": EPOCH}})

    def head_hint(self) -> dict[str, Any] | None:
        return self._state.find_one({"_id": HEAD_HINT})

    def record_head(self, head: dict[str, Any]) -> None:
        self._state.update_one({"_id": HEAD_HINT}, {"$set": head}, upsert=True)

    def add_seal(self, seal: dict[str, Any]) -> None:
        self._seals.insert_one(dict(seal))

    def seals(self) -> list[dict[str, Any]]:
        return list(self._seals.find({}, {"position": 1, "hash": 1}))

    def add_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        try:
            self._checkpoints.insert_one(dict(checkpoint))
        except DuplicateKeyError as exc:
            raise DuplicateCommit(str(exc)) from None

    def checkpoints(self, after_size: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        return list(self._checkpoints.find({"_id": {"$gt": after_size}}, sort=[("_id", ASCENDING)], limit=limit))

    def checkpoint_at_least(self, size: int) -> dict[str, Any] | None:
        return next(iter(self._checkpoints.find({"_id": {"$gte": size}}, sort=[("_id", ASCENDING)], limit=1)), None)

    def latest_checkpoint(self) -> dict[str, Any] | None:
        return next(iter(self._checkpoints.find({}, sort=[("_id", -1)], limit=1)), None)

    def add_cosignatures(self, size: int, lines: list[str]) -> None:
        self._checkpoints.update_one({"_id": size}, {"$addToSet": {"cosignatures": {"$each": lines}}})

    def ping(self) -> bool:
        return self.db.command("ping").get("ok") == 1

"""Assigns the global order of the store, and extends its hash chain.

Appenders never touch a shared document: they insert unsequenced commits. One process at
a time (the holder of a lease, normally the relay) sequences them: gap-free positions in
an order that respects every stream's versions, each commit's hash chained to the one
before it. Every ``seal_interval`` it records a seal (head position and hash) so that a
deleted tail of the log is detected by :func:`~leitai.eventstore.verify.verify`.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from leitai.eventstore.canonical import GENESIS, chain_hash
from leitai.eventstore.store import COMMITS, SEALS, SEQUENCER

log = logging.getLogger(__name__)
LEASE_ID = "lease"


class LeaseLost(Exception):
    """Another sequencer wrote while this one believed it held the lease."""


def event_hashes(commit: dict, first_position: int, previous: str) -> list[str]:
    """The chain runs event by event over every stored field and its position, so a
    verify can name the very event that was changed."""
    hashes = []
    for index, event in enumerate(commit["events"]):
        previous = chain_hash(previous, dict(event, position=first_position + index))
        hashes.append(previous)
    return hashes


class Sequencer:
    def __init__(self, db: Database, owner: str, lease_seconds: float = 15.0, seal_interval: float = 5.0) -> None:
        self._commits = db[COMMITS]
        self._state = db[SEQUENCER]
        self._seals = db[SEALS]
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        self._seal_interval = seal_interval
        self._last_seal = 0.0
        try:
            self._state.insert_one({"_id": LEASE_ID, "owner": None, "expires_at": datetime.min.replace(tzinfo=timezone.utc)})
        except DuplicateKeyError:
            pass

    def acquire(self) -> bool:
        now = datetime.now(timezone.utc)
        held = self._state.find_one_and_update(
            {"_id": LEASE_ID, "$or": [{"owner": self._owner}, {"expires_at": {"$lt": now}}]},
            {"$set": {"owner": self._owner, "expires_at": now + self._lease}},
            return_document=ReturnDocument.AFTER,
        )
        return held is not None

    def release(self) -> None:
        self._state.update_one(
            {"_id": LEASE_ID, "owner": self._owner},
            {"$set": {"expires_at": datetime.min.replace(tzinfo=timezone.utc)}},
        )

    def sequence(self, limit: int = 500) -> int:
        """Sequence up to ``limit`` pending commits; returns how many were sequenced."""
        if not self.acquire():
            return 0
        pending = list(self._commits.find({"sequenced": False}, sort=[("recorded_at", ASCENDING)], limit=limit))
        batch = self._in_stream_order(pending)
        if batch:
            self._assign(batch)
        if time.monotonic() - self._last_seal >= self._seal_interval:
            self.seal()
        return len(batch)

    def _in_stream_order(self, pending: list[dict]) -> list[dict]:
        """Keep arrival order across streams, version order within each stream, and hold
        back a stream whose earlier commit is still pending outside this batch."""
        if not pending:
            return []
        lowest_pending = {}
        for doc in self._commits.find(
            {"sequenced": False, "stream_id": {"$in": list({c["stream_id"] for c in pending})}},
            {"stream_id": 1, "prev_version": 1},
        ):
            sid = doc["stream_id"]
            lowest_pending[sid] = min(lowest_pending.get(sid, doc["prev_version"]), doc["prev_version"])
        by_stream: dict[str, list[dict]] = defaultdict(list)
        for commit in pending:
            by_stream[commit["stream_id"]].append(commit)
        ready = {}
        for sid, commits in by_stream.items():
            commits.sort(key=lambda c: c["prev_version"])
            run = []
            expected = lowest_pending[sid]
            for commit in commits:
                if commit["prev_version"] != expected:
                    break
                run.append(commit)
                expected = commit["version"]
            ready[sid] = run
        ordered, taken = [], defaultdict(int)
        for commit in pending:
            sid = commit["stream_id"]
            if taken[sid] < len(ready[sid]):
                ordered.append(ready[sid][taken[sid]])
                taken[sid] += 1
        return ordered

    def _head(self) -> tuple[int, str]:
        head = self._commits.find_one(
            {"sequenced": True}, {"last_position": 1, "hash": 1}, sort=[("first_position", DESCENDING)]
        )
        return (head["last_position"], head["hash"]) if head else (0, GENESIS)

    def _assign(self, batch: list[dict]) -> None:
        position, previous = self._head()
        updates = []
        for commit in batch:
            first = position + 1
            position += len(commit["events"])
            hashes = event_hashes(commit, first, previous)
            updates.append(UpdateOne(
                {"_id": commit["_id"], "sequenced": False},
                {"$set": {"sequenced": True, "first_position": first, "last_position": position,
                          "prev_hash": previous, "hashes": hashes, "hash": hashes[-1]}},
            ))
            previous = hashes[-1]
        try:
            result = self._commits.bulk_write(updates, ordered=True)
        except DuplicateKeyError as exc:
            raise LeaseLost("a position was taken by another sequencer") from exc
        if result.modified_count != len(updates):
            raise LeaseLost(f"sequenced {result.modified_count} of {len(updates)} commits")

    def seal(self) -> None:
        position, digest = self._head()
        if position:
            self._seals.insert_one({"position": position, "hash": digest, "sealed_at": datetime.now(timezone.utc),
                                    "sealed_by": self._owner})
            log.info("store sealed", extra={"position": position, "hash": digest})
        self._last_seal = time.monotonic()

"""Commutative read-model writes: a projection's changes as data, folded in memory and
written in bulk.

A projection whose writes are idempotent and commute (a fact set twice with the same
values, a document that keeps its highest revision, a position that only grows) need not
write event by event. :class:`WriteBatch` folds any number of writes into at most one
operation per document, and :meth:`WriteBatch.flush` sends them as one unordered bulk write
per collection. The live consumer flushes the writes of one event; a replay folds thousands
of events and flushes when the batch holds ``max_documents``, so that its memory is bounded
by the batch, not by the log, and every document costs one operation per flush, not one per
event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from leitai.mongo import taken_keys


@dataclass(frozen=True)
class Write:
    collection: str
    key: str
    set: dict[str, Any]
    newer_than_revision: int | None = None  # only if the stored revision is lower
    positions: dict[str, int] | None = None  # $max


@dataclass
class _Document:
    """What the writes folded so far do to one document."""

    set: dict[str, Any] = field(default_factory=dict)
    revision: int | None = None  # a revisioned document: ``set`` is its highest revision's
    positions: dict[str, int] = field(default_factory=dict)

    def add(self, write: Write) -> None:
        if write.positions is not None:
            for name, value in write.positions.items():
                self.positions[name] = max(self.positions.get(name, value), value)
        elif write.newer_than_revision is not None:
            if self.set and self.revision is None:
                raise ValueError(f"{write.collection}/{write.key}: a revisioned write after a plain one")
            if self.revision is None or write.newer_than_revision > self.revision:
                self.revision, self.set = write.newer_than_revision, dict(write.set)
        else:
            if self.revision is not None:
                raise ValueError(f"{write.collection}/{write.key}: a plain write after a revisioned one")
            self.set.update(write.set)

    def document(self, key: str) -> dict[str, Any]:
        """The document these writes make where there was none (what an upsert would insert)."""
        return {"_id": key, **self.set, **self.positions}

    def operation(self, key: str, upsert: bool = True) -> UpdateOne:
        update = {**({"$set": self.set} if self.set else {}), **({"$max": self.positions} if self.positions else {})}
        where = {"_id": key} if self.revision is None else {"_id": key, "revision": {"$lt": self.revision}}
        return UpdateOne(where, update, upsert=upsert)


class WriteBatch:
    """``fresh``: the batch writes into a database where no document exists but those it wrote
    itself (a replay's scratch database), so a document it has not written yet is inserted,
    not upserted: an insert is a fraction of an upsert's cost. It remembers the keys it wrote,
    which costs a few bytes a document."""

    def __init__(self, fresh: bool = False) -> None:
        self._documents: dict[str, dict[str, _Document]] = {}
        self._written: dict[str, set[str]] | None = {} if fresh else None

    def __len__(self) -> int:
        return sum(len(documents) for documents in self._documents.values())

    def add(self, writes: Iterable[Write]) -> WriteBatch:
        for write in writes:
            self._documents.setdefault(write.collection, {}).setdefault(write.key, _Document()).add(write)
        return self

    def flush(self, db: Database[dict[str, Any]]) -> int:
        """Write everything folded so far, one bulk write per collection; returns how many
        bulk writes it took. The batch is empty afterwards."""
        writes = 0
        for collection, documents in sorted(self._documents.items()):
            keys = list(documents)
            if self._written is not None:
                written = self._written.setdefault(collection, set())
                new = {k for k in keys if k not in written}
                if new:
                    db[collection].insert_many([documents[k].document(k) for k in keys if k in new], ordered=False)
                    writes += 1
                    written |= new
                    keys = [k for k in keys if k not in new]
                if not keys:
                    continue
            try:
                db[collection].bulk_write([documents[k].operation(k) for k in keys], ordered=False)
            except BulkWriteError as exc:
                # An upsert that found no match but a document of that _id (a revision already as
                # high, or one a concurrent consumer created a moment ago): as a plain update, it
                # still applies where it must and matches nothing where it must not.
                errors = taken_keys(exc)
                db[collection].bulk_write(
                    [documents[keys[e["index"]]].operation(keys[e["index"]], upsert=False) for e in errors],
                    ordered=False,
                )
                writes += 1
            writes += 1
        self._documents.clear()
        return writes

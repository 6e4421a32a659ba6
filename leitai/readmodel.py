"""Read models that consumers update exactly once in effect, without transactions.

Each read-model document remembers the ids of the events applied to it, and the check and
the write are one atomic single-document update: a redelivered event, a retry after a
crash or a re-driven dead letter matches nothing and changes nothing. A handler that
touches several documents applies the event to each once, so a retry after a partial
failure completes the rest.
"""
from __future__ import annotations

import uuid
from typing import Any, Iterable, Sequence

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

APPLIED = "_applied"
DUPLICATE_KEY = 11000


class ReadModel:
    """The narrow interface a projection gets: apply an event once, and query."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def apply_once(self, collection: str, key: Any, event_id: uuid.UUID | str, update: dict) -> bool:
        """Apply ``update`` (MongoDB update operators) to document ``key`` unless this
        event was applied to it before. Returns True when it was applied now."""
        return self.apply_each_once(collection, [(key, event_id, update)]) == 1

    def apply_each_once(self, collection: str, changes: Sequence[tuple[Any, uuid.UUID | str, dict]]) -> int:
        """``apply_once`` for each (key, event id, update), in one bulk write; returns how many
        were applied now."""
        operations = [UpdateOne(*self._once(key, event_id, update), upsert=True) for key, event_id, update in changes]
        try:
            result = self._db[collection].bulk_write(operations, ordered=False)
        except BulkWriteError as exc:
            # a document that exists: with this event already, or created a moment ago by another
            # event's upsert (a concurrent consumer); in the second case this event still applies
            errors = exc.details.get("writeErrors", ())
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            again = self._db[collection].bulk_write(
                [UpdateOne(*self._once(*changes[e["index"]])) for e in errors], ordered=False)
            return exc.details["nModified"] + exc.details["nUpserted"] + again.modified_count
        return result.modified_count + result.upserted_count

    @staticmethod
    def _once(key: Any, event_id: uuid.UUID | str, update: dict) -> tuple[dict, dict]:
        """The filter and update that apply ``update`` to ``key`` unless ``event_id`` was."""
        if any(APPLIED in fields for fields in update.values()):
            raise ValueError(f"{APPLIED} is reserved for exactly-once bookkeeping")
        marker = str(event_id)
        push = dict(update.get("$push", {}), **{APPLIED: marker})
        return {"_id": key, APPLIED: {"$ne": marker}}, dict(update, **{"$push": push})

    def get(self, collection: str, key: Any) -> dict | None:
        return self._db[collection].find_one({"_id": key}, {APPLIED: 0})

    def find(self, collection: str, query: dict | None = None, sort: Iterable[tuple[str, int]] | None = None) -> list[dict]:
        return list(self._db[collection].find(query or {}, {APPLIED: 0}, sort=list(sort) if sort else None))

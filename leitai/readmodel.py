"""Read models that consumers update exactly once in effect, without transactions.

Each read-model document remembers the ids of the events applied to it, and the check and
the write are one atomic single-document update: a redelivered event, a retry after a
crash or a re-driven dead letter matches nothing and changes nothing. A handler that
touches several documents applies the event to each once, so a retry after a partial
failure completes the rest.
"""
from __future__ import annotations

import uuid
from typing import Any, Iterable

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

APPLIED = "_applied"


class ReadModel:
    """The narrow interface a projection gets: apply an event once, and query."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def apply_once(self, collection: str, key: Any, event_id: uuid.UUID | str, update: dict) -> bool:
        """Apply ``update`` (MongoDB update operators) to document ``key`` unless this
        event was applied to it before. Returns True when it was applied now."""
        if any(APPLIED in fields for fields in update.values()):
            raise ValueError(f"{APPLIED} is reserved for exactly-once bookkeeping")
        marker = str(event_id)
        push = dict(update.get("$push", {}), **{APPLIED: marker})
        not_yet = {"_id": key, APPLIED: {"$ne": marker}}
        change = dict(update, **{"$push": push})
        try:
            result = self._db[collection].update_one(not_yet, change, upsert=True)
        except DuplicateKeyError:
            # the document exists: with this event already, or created a moment ago by another
            # event's upsert (a concurrent consumer); in the second case this event still applies
            result = self._db[collection].update_one(not_yet, change)
            return result.modified_count == 1
        return result.modified_count == 1 or result.upserted_id is not None

    def get(self, collection: str, key: Any) -> dict | None:
        return self._db[collection].find_one({"_id": key}, {APPLIED: 0})

    def find(self, collection: str, query: dict | None = None, sort: Iterable[tuple[str, int]] | None = None) -> list[dict]:
        return list(self._db[collection].find(query or {}, {APPLIED: 0}, sort=list(sort) if sort else None))

"""Read models that consumers update exactly once in effect, without transactions.

Each read-model document remembers the ids of the events applied to it, and the check and
the write are one atomic single-document update: a redelivered event, a retry after a
crash or a re-driven dead letter matches nothing and changes nothing. A handler that
touches several documents applies the event to each once, so a retry after a partial
failure completes the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from leitai.mongo import taken_keys
from leitai.writes import Write, WriteBatch

APPLIED = "_applied"


class ReadModel:
    """The narrow interface a projection gets: apply an event once, and query."""

    def __init__(self, db: Database[dict[str, Any]]) -> None:
        self._db = db

    def apply_once(self, collection: str, key: Any, event_id: uuid.UUID | str, update: dict[str, Any]) -> bool:
        """Apply ``update`` (MongoDB update operators) to document ``key`` unless this
        event was applied to it before. Returns True when it was applied now."""
        return self.apply_each_once(collection, [(key, event_id, update)]) == 1

    def apply_each_once(self, collection: str, changes: Sequence[tuple[Any, uuid.UUID | str, dict[str, Any]]]) -> int:
        """``apply_once`` for each (key, event id, update), in one bulk write; returns how many
        were applied now. The changes to one document fold into one operation where they only
        ``$inc`` and ``$set`` (see ``_fold``)."""
        groups: dict[Any, dict[str, dict[str, Any]]] = {}
        for key, event_id, update in changes:
            if any(APPLIED in fields for fields in update.values()):
                raise ValueError(f"{APPLIED} is reserved for exactly-once bookkeeping")
            # one event twice in a batch (a copy the relay published again): applied once
            groups.setdefault(key, {}).setdefault(str(event_id), update)
        operations = [(key, group) for key, by_event in groups.items() for group in _fold(list(by_event.items()))]
        try:
            self._db[collection].bulk_write(
                [UpdateOne(*_once(key, group), upsert=True) for key, group in operations], ordered=False
            )
        except BulkWriteError as exc:
            # a document that exists: with an event of this operation already, or created a moment
            # ago by another upsert (a concurrent consumer); each of its events that was not
            # applied yet still applies, one by one
            failed = {e["index"] for e in taken_keys(exc)}
            again = self._db[collection].bulk_write(
                [UpdateOne(*_once(operations[i][0], [change])) for i in sorted(failed) for change in operations[i][1]],
                ordered=False,
            )
            return sum(len(group) for i, (_, group) in enumerate(operations) if i not in failed) + again.modified_count
        return sum(len(group) for _, group in operations)

    def apply(self, writes: Iterable[Write]) -> None:
        """Commutative writes (leitai/writes.py), folded into one bulk write per collection:
        for a projection that needs no event-id bookkeeping because its writes commute."""
        WriteBatch().add(writes).flush(self._db)

    def get(self, collection: str, key: Any) -> dict[str, Any] | None:
        return self._db[collection].find_one({"_id": key}, {APPLIED: 0})

    def find(
        self, collection: str, query: dict[str, Any] | None = None, sort: Iterable[tuple[str, int]] | None = None
    ) -> list[dict[str, Any]]:
        return list(self._db[collection].find(query or {}, {APPLIED: 0}, sort=list(sort) if sort else None))


def _once(key: Any, changes: list[tuple[str, dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The filter and update that apply ``changes`` (event id, update) to ``key`` unless any
    of those events was applied to it."""
    markers = [marker for marker, _ in changes]
    if len(changes) == 1:
        update = changes[0][1]
        push = dict(update.get("$push", {}), **{APPLIED: markers[0]})
        return {"_id": key, APPLIED: {"$ne": markers[0]}}, dict(update, **{"$push": push})
    increments: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for _, update in changes:
        for name, by in update.get("$inc", {}).items():
            increments[name] = increments.get(name, 0) + by
        values.update(update.get("$set", {}))
    update = {
        "$push": {APPLIED: {"$each": markers}},
        **({"$inc": increments} if increments else {}),
        **({"$set": values} if values else {}),
    }
    return {"_id": key, APPLIED: {"$nin": markers}}, update


def _fold(changes: list[tuple[str, dict[str, Any]]]) -> list[list[tuple[str, dict[str, Any]]]]:
    """``changes`` to one document as operations: those that only ``$inc`` and ``$set`` (and
    never both on one field) fold into one, increments adding up and a later ``$set``
    winning; any other change is an operation of its own."""
    folded = [c for c in changes if set(c[1]) <= {"$inc", "$set"}]
    incremented = {name for _, u in folded for name in u.get("$inc", {})}
    if len(folded) < 2 or incremented & {name for _, u in folded for name in u.get("$set", {})}:
        return [[c] for c in changes]
    return [folded, *[[c] for c in changes if c not in folded]]

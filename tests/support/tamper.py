"""Editing an event store's records behind its back, as someone with write access to the
store could: the conformance suite's way to prove that verify and the contracts notice."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from leitai.eventstore.memory import MemoryCommitLog
from leitai.eventstore.mongodb import COMMITS


class MongoTamper:
    def __init__(self, db: Database) -> None:
        self._commits = db[COMMITS]

    def count(self) -> int:
        return self._commits.count_documents({})

    def commit(self, first_position: int | None = None) -> dict:
        return self._commits.find_one({} if first_position is None else {"first_position": first_position})

    def set(self, commit_id: str, fields: dict[str, Any]) -> None:
        self._commits.update_one({"_id": commit_id}, {"$set": fields})

    def delete(self, commit_id: str) -> None:
        self._commits.delete_one({"_id": commit_id})


class MemoryTamper:
    def __init__(self, records: MemoryCommitLog) -> None:
        self._commits = records.commits

    def count(self) -> int:
        return len(self._commits)

    def commit(self, first_position: int | None = None) -> dict:
        return next(c for c in self._commits.values() if first_position in (None, c.get("first_position")))

    def set(self, commit_id: str, fields: dict[str, Any]) -> None:
        for path, value in fields.items():  # dotted paths, as MongoDB's $set takes them
            *parents, last = path.split(".")
            target: Any = self._commits[commit_id]
            for part in parents:
                target = target[int(part)] if isinstance(target, list) else target[part]
            target[last] = value

    def delete(self, commit_id: str) -> None:
        del self._commits[commit_id]

"""Keyed answers for notify's own writes (sending a delivery again, a recipient's channels).

They are not event-sourced, so the answer cannot ride in a commit with the events as
leitai/application.py does it. Instead the key is claimed first (with the request's
fingerprint), the write is made in a form that is idempotent under the key, and the answer
is stored last. A retry with the same key then answers what the first answered; one that
finds the claim without an answer (the first stopped between its write and its answer)
makes the write again, which changes nothing the second time; the key sent with another
request is a Conflict. A refused request (a DomainError) leaves no claim, as a refused
event-sourced command stores no answer: sent again, it is decided again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from leitai.application import REUSED, Idempotency, stored_answer
from leitai.errors import Conflict, DomainError

ANSWERS = "answers"
R = TypeVar("R")


class KeyedAnswers:
    def __init__(self, db: Database) -> None:
        self._collection = db[ANSWERS]

    def answer(self, idempotency: Idempotency | None, write: Callable[[str | None], R]) -> R:
        """What ``write(key)`` answers, once per key: ``write`` must change nothing when it is
        called again with the same key (it is given the key to make sure of that)."""
        if idempotency is None:
            return write(None)
        key = idempotency.key
        try:
            self._collection.insert_one({"_id": key, "fingerprint": idempotency.fingerprint, "at": datetime.now(UTC)})
        except DuplicateKeyError:
            earlier = self._collection.find_one({"_id": key}) or {}
            if earlier.get("fingerprint", idempotency.fingerprint) != idempotency.fingerprint:
                raise Conflict(REUSED) from None
            if "answer" in earlier:
                return json.loads(earlier["answer"])
        try:
            result = write(key)
        except DomainError:
            self._collection.delete_one({"_id": key, "answer": {"$exists": False}})
            raise
        answer = stored_answer(result)
        self._collection.update_one({"_id": key}, {"$set": {"answer": answer}})
        return json.loads(answer)  # the first answer exactly as every retry will read it

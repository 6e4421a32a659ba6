"""Deliveries: one document per (event, recipient, channel, kind), so nothing is sent twice.

pending --claim--> sending --sent--> sent
                      \\--temporary failure--> pending (due later, backoff) ... --> failed
                      \\--permanent failure--> failed (with the reason)
A claim is a lease: a process killed while sending leaves the delivery "sending", and
once the lease runs out it is pending again. The one window left is a crash after the
channel accepted a message and before it is marked sent; the message then goes again,
with the same Message-ID / out_id, so the receiving side can tell it is the same one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

DELIVERIES = "deliveries"


@dataclass(frozen=True)
class Policy:
    max_attempts: int
    base_delay: float
    lease_seconds: float

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=self.base_delay * 2 ** (attempts - 1))


def now() -> datetime:
    return datetime.now(UTC)


class Deliveries:
    def __init__(self, db: Database, policy: Policy) -> None:
        self._collection = db[DELIVERIES]
        self._policy = policy

    def ensure_indexes(self) -> None:
        self._collection.create_index([("status", 1), ("due_at", 1)])
        self._collection.create_index([("contest_id", 1), ("recipient_id", 1)])

    def create(self, document: dict) -> bool:
        """Record a delivery once; False when it was recorded before (a redelivered event)."""
        try:
            self._collection.insert_one(dict(document, attempts=0, created_at=now(), due_at=now()))
            return True
        except DuplicateKeyError:
            return False

    def recover(self) -> None:
        """Deliveries whose sender died mid-send (their lease ran out) are due again."""
        self._collection.update_many(
            {"status": "sending", "lease_until": {"$lt": now()}}, {"$set": {"status": "pending"}}
        )

    def claim_due(self, limit: int) -> Iterator[dict]:
        """Take up to ``limit`` due deliveries for sending, each under a lease, oldest due first.

        One query finds the candidates; each is then claimed by a conditional update of its
        own document, which only one of several senders can win (and which costs a small
        fraction of a find-and-modify on a busy collection)."""
        moment = now()
        lease = moment + timedelta(seconds=self._policy.lease_seconds)
        for candidate in self._collection.find(
            {"status": "pending", "due_at": {"$lte": moment}}, sort=[("due_at", 1)], limit=limit
        ):
            won = self._collection.update_one(
                {"_id": candidate["_id"], "status": "pending"},
                {"$set": {"status": "sending", "lease_until": lease}, "$inc": {"attempts": 1}},
            )
            if won.modified_count:
                yield dict(candidate, status="sending", lease_until=lease, attempts=candidate["attempts"] + 1)

    def sent(self, delivery: dict) -> None:
        self._collection.update_one(
            {"_id": delivery["_id"]}, {"$set": {"status": "sent", "sent_at": now()}, "$unset": {"lease_until": ""}}
        )

    def failed_for_now(self, delivery: dict, reason: str) -> None:
        if delivery["attempts"] >= self._policy.max_attempts:
            self.failed(delivery, f"gave up after {delivery['attempts']} attempts: {reason}")
            return
        self._collection.update_one(
            {"_id": delivery["_id"], "status": "sending"},  # not one made undeliverable meanwhile (forget)
            {
                "$set": {
                    "status": "pending",
                    "due_at": now() + self._policy.backoff(delivery["attempts"]),
                    "last_error": reason,
                },
                "$unset": {"lease_until": ""},
            },
        )

    def failed(self, delivery: dict, reason: str) -> None:
        self._collection.update_one(
            {"_id": delivery["_id"], "status": "sending"},  # not one made undeliverable meanwhile (forget)
            {"$set": {"status": "failed", "last_error": reason}, "$unset": {"lease_until": ""}},
        )

    def retry(self, contest_id: str, delivery_id_: str, key: str | None = None) -> dict | None:
        """An organiser sends a failed delivery again, with a fresh budget of attempts. Under an
        idempotency ``key`` the retry is recorded on the delivery, so that the same request
        again finds it done (and does not send the delivery a third time)."""
        again = self._collection.find_one_and_update(
            {"_id": delivery_id_, "contest_id": contest_id, "status": "failed"},
            {
                "$set": {"status": "pending", "attempts": 0, "due_at": now()},
                **({"$addToSet": {"retried_under": key}} if key else {}),
            },
            return_document=ReturnDocument.AFTER,
        )
        if again is None and key:
            return self._collection.find_one({"_id": delivery_id_, "contest_id": contest_id, "retried_under": key})
        return again

    def forget(self, contest_id: str, recipient_id: str, reason: str) -> None:
        """The recipient's contact data was erased: no delivery keeps their address, and those
        not sent become undeliverable with the reason, so that neither a retry nor an organiser
        sends them. One being sent right now goes out as claimed (and is recorded sent if it
        went): it is the last; if it fails, it stays undeliverable."""
        query = {"contest_id": contest_id, "recipient_id": recipient_id, "channel": {"$ne": "inbox"}}
        self._collection.update_many(
            dict(query, status={"$in": ["pending", "sending", "failed"]}),
            {"$set": {"status": "undeliverable", "last_error": reason}},
        )
        self._collection.update_many(dict(query, address={"$ne": ""}), {"$set": {"address": ""}})

    def find(self, query: dict) -> list[dict]:
        return list(self._collection.find(query, sort=[("created_at", 1), ("_id", 1)]))

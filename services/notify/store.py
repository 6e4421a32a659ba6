"""Notify's store in MongoDB: the NoticeStore of application.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from pymongo import ReturnDocument
from pymongo.database import Database

from leitai.application import Idempotency
from services.notify.answers import KeyedAnswers
from services.notify.deliveries import Deliveries

R = TypeVar("R")


class MongoNoticeStore:
    def __init__(self, db: Database, deliveries: Deliveries) -> None:
        self.db = db
        self.deliveries = deliveries
        self._answers = KeyedAnswers(db)

    def get(self, collection: str, key: str) -> dict | None:
        return self.db[collection].find_one({"_id": key})

    def learn(self, collection: str, key: str, values: dict) -> None:
        self.db[collection].update_one({"_id": key}, {"$set": values}, upsert=True)

    def create_delivery(self, document: dict) -> bool:
        return self.deliveries.create(document)

    def find_deliveries(self, query: dict) -> list[dict]:
        return self.deliveries.find(query)

    def retry_delivery(self, contest_id: str, delivery_id: str, key: str | None) -> dict | None:
        return self.deliveries.retry(contest_id, delivery_id, key)

    def set_preferences(self, contest_id: str, recipient_id: str, values: dict) -> dict:
        stored = self.db.preferences.find_one_and_update(
            {"_id": f"{contest_id}:{recipient_id}"}, {"$set": values}, upsert=True, return_document=ReturnDocument.AFTER
        )
        assert stored is not None  # upserted, and returned as it is after the update
        return stored

    def inbox(self, contest_id: str, recipient_id: str) -> list[dict]:
        return list(
            self.db.inbox.find({"contest_id": contest_id, "recipient_id": recipient_id}, sort=[("at", 1), ("_id", 1)])
        )

    def sessions_starting(self, after: datetime, until: datetime) -> list[dict]:
        return list(self.db.sessions.find({"starts_at": {"$gt": after, "$lte": until}, "reminded": {"$ne": True}}))

    def forget(self, contest_id: str, recipient_id: str, reason: str) -> None:
        # contacts learnt from events written before the vault (v1) went with the recipient
        self.db.recipients.update_one({"_id": f"{contest_id}:{recipient_id}"}, {"$unset": {"email": "", "phone": ""}})
        self.deliveries.forget(contest_id, recipient_id, reason)

    def answer(self, idempotency: Idempotency | None, write: Callable[[str | None], R]) -> R:
        return self._answers.answer(idempotency, write)

    def ping(self) -> bool:
        return self.db.command("ping").get("ok") == 1

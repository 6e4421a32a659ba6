"""The personal-data vault in MongoDB (leitai/privacy.py says what it is for).

One document a person and contest in ``contacts``: ``_id`` ``<contest_id>:<person>``,
``contest_id``, ``office`` (the county code of the office that owns the contest), ``person``,
``name``, ``email``, ``phone``, ``kept_at`` and, once erased, ``erased`` ({at, by, reason}) with
the contact fields gone. Retention settings per office are in ``retention`` (``_id`` the office).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from leitai.privacy import CONTACT_FIELDS, now

CONTACTS = "contacts"
RETENTION = "retention"


class MongoPersonalData:
    def __init__(self, db: Database[Any]) -> None:
        self.db = db
        self._contacts = db[CONTACTS]

    @classmethod
    def opened(cls, db: Database[Any]) -> MongoPersonalData:
        """The vault over ``db``, its indexes made (idempotent): at a service's start-up."""
        vault = cls(db)
        vault._contacts.create_index("office")  # retention: an office's contests
        vault._contacts.create_index("contest_id")
        return vault

    def keep(self, contest_id: str, office: str, person: str, name: str, contact: Mapping[str, str]) -> None:
        """Keep a person's contact as registered (again: the same values, nothing changes). A
        person erased stays erased: a command sent again after the erasure does not bring their
        contact data back."""
        try:
            self._contacts.update_one(
                {"_id": f"{contest_id}:{person}", "erased": {"$exists": False}},
                {
                    "$set": {"name": name, **{k: contact.get(k, "") for k in CONTACT_FIELDS}},
                    "$setOnInsert": {"contest_id": contest_id, "office": office, "person": person, "kept_at": now()},
                },
                upsert=True,
            )
        except DuplicateKeyError:  # the record is there and erased: the upsert found no match
            pass

    def contact(self, contest_id: str, person: str) -> dict[str, Any] | None:
        """The person's record: their contact, or ``erased`` (when, by whom, why); None when
        the vault never held them."""
        return self._contacts.find_one({"_id": f"{contest_id}:{person}"})

    def contests(self, office: str) -> list[str]:
        return sorted(self._contacts.distinct("contest_id", {"office": office}))

    def people(self, contest_id: str) -> list[dict[str, Any]]:
        """The contest's records not erased yet."""
        return list(self._contacts.find({"contest_id": contest_id, "erased": {"$exists": False}}, sort=[("_id", 1)]))

    def erase(self, contest_id: str, person: str, by: str, reason: str, at: datetime) -> bool:
        """Empty the record and mark it erased; False when it was erased already (or is not
        here: the caller has checked it is)."""
        done = self._contacts.update_one(
            {"_id": f"{contest_id}:{person}", "erased": {"$exists": False}},
            {"$set": {"erased": {"at": at, "by": by, "reason": reason}}, "$unset": dict.fromkeys(CONTACT_FIELDS, "")},
        )
        return done.modified_count == 1

    def mark_erased(self, contest_id: str, office: str, person: str, by: str, reason: str, at: datetime) -> None:
        """Record an erasure of a person the vault never held (registered before the vault, and
        not migrated): their contact data cannot come back by a migration run later."""
        self._contacts.update_one(
            {"_id": f"{contest_id}:{person}"},
            {
                "$setOnInsert": {
                    "contest_id": contest_id,
                    "office": office,
                    "person": person,
                    "kept_at": at,
                    "erased": {"at": at, "by": by, "reason": reason},
                }
            },
            upsert=True,
        )

    def retention(self, office: str | None = None) -> list[dict[str, Any]]:
        return list(self.db[RETENTION].find({} if office is None else {"_id": office}, sort=[("_id", 1)]))

    def set_retention(self, office: str, days: int, by: str) -> None:
        self.db[RETENTION].update_one(
            {"_id": office}, {"$set": {"days": days, "set_by": by, "set_at": now()}}, upsert=True
        )

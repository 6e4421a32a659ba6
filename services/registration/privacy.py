"""A person's rights over their contact data (PIPL arts. 45, 47): erasure on request, export, the
offices' retention, and the migration of logs written before the vault. What `leitai privacy`
runs, over registration's event store and the vault (leitai/privacy.py); docs/privacy.md.

An erasure is recorded first, as a ``PersonalDataErased`` event in the stream
``privacy-<contest>`` (who, by whom, why; never the data), and then carried out in the vault;
notify, told of the event, empties its deliveries. The log decides whether a person was erased:
a run interrupted after the event and before the vault is completed by running it again.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo.database import Database

from leitai.application import execute
from leitai.contracts.product import REGISTRY
from leitai.domain import Decision, folding
from leitai.errors import Forbidden, InvalidInput, NotFound
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import COMMITS
from leitai.messages import N_
from leitai.privacy import CONTACT_FIELDS, CONTACT_SHAPED, OFFICE, contact_of, contestant, judge, now
from leitai.vault import MongoPersonalData
from services.registration.application import contest_stream
from services.registration.contest import Contest

ERASURES = uuid.UUID("5b1d0c7e-2f43-4a55-8c3e-0d4c1a7e9b21")  # the namespace of PersonalDataErased event ids
PERSON = re.compile(r"^(?:judge-(?P<judge>.+)|contestant-(?P<contestant>.+)|organiser)$")
RETENTION_BY = "retention"
UNKNOWN_CONTEST = N_("contest {contest_id} does not exist")
OTHER_OFFICE = N_("contest {contest_id} belongs to another office than {office}: nothing was changed")
UNKNOWN_PERSON = N_("{person} took no part in contest {contest_id}: nothing was changed")
NOT_A_PERSON = N_("{person} names no one: judge-<judge id>, contestant-<contestant id> or organiser")
CONTACT_IN_RECORD = N_("who erases and why are recorded for good: write them without a phone number or e-mail address")


def privacy_stream(contest_id: str) -> str:
    return f"privacy-{contest_id}"


@dataclass
class Erasures:
    """The stream ``privacy-<contest>``: who was erased, when, by whom, why."""

    version: int = 0
    erased: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, event: Any) -> None:
        self.erased[event.payload["person"]] = {
            "at": event.occurred_at,
            "by": event.payload["erased_by"],
            "reason": event.payload["reason"],
        }
        self.version = event.stream_version


class Privacy:
    def __init__(self, store: EventStore, vault: MongoPersonalData, registration: Database) -> None:
        """``registration``: registration's database, read as stored only by ``migrate``."""
        self._store = store
        self._vault = vault
        self._db = registration

    # -- erasure ---------------------------------------------------------------------
    def erase(self, office: str, contest_id: str, person: str, by: str, reason: str) -> dict[str, Any]:
        """Erase ``person``'s contact data of the contest: recorded, then done. Erased before:
        nothing changes and the answer says when, by whom and why (``already``)."""
        self._contest_of(office, contest_id, person)
        if CONTACT_SHAPED.search(f"{by}\n{reason}"):
            raise InvalidInput(CONTACT_IN_RECORD, {"reason": [reason]})
        return self._erase(office, contest_id, person, by, reason)

    def _erase(self, office: str, contest_id: str, person: str, by: str, reason: str) -> dict[str, Any]:
        def recorded(erasures: Erasures):
            earlier = erasures.erased.get(person)
            if earlier is not None:
                return earlier, []
            payload = {"contest_id": contest_id, "person": person, "office": office, "erased_by": by, "reason": reason}
            event_id = str(uuid.uuid5(ERASURES, f"{contest_id}:{person}"))
            return None, [Decision("PersonalDataErased", payload, event_id=event_id)]

        earlier = execute(self._store, privacy_stream(contest_id), folding(Erasures), recorded, actor=by)
        record = earlier or {"at": now(), "by": by, "reason": reason}
        if self._vault.contact(contest_id, person) is None:
            self._vault.mark_erased(contest_id, office, person, record["by"], record["reason"], record["at"])
        else:  # after an interrupted run, the vault may still hold what the log says is erased
            self._vault.erase(contest_id, person, record["by"], record["reason"], record["at"])
        return {"contest_id": contest_id, "person": person, "erased": earlier is None, "already": earlier}

    # -- export ----------------------------------------------------------------------
    def export(self, office: str, contest_id: str, person: str) -> dict[str, Any]:
        """Everything registration and the vault hold about ``person`` in the contest, as JSON
        values: their contact (or when it was erased), every event of the contest that names
        them, and the erasure's record."""
        contest = self._contest_of(office, contest_id, person)
        ids = _ids_of(contest, person)
        kept = self._vault.contact(contest_id, person) or {}
        erasure = folding(Erasures)(self._store.read_stream(privacy_stream(contest_id))).erased.get(person)
        payloads = [(e, e.to_wire(REGISTRY)["payload"]) for e in self._store.read_stream(contest_stream(contest_id))]
        events = [
            {"type": e.type, "occurred_at": e.occurred_at.isoformat(), "payload": payload}
            for e, payload in payloads
            if (e.type == "ContestCreated" if person == OFFICE else any(_mentions(payload, ids)))
        ]
        return {
            "person": person,
            "contest_id": contest_id,
            "office": office,
            "contact": {k: kept[k] for k in ("name", *CONTACT_FIELDS) if k in kept},
            "erased": None if erasure is None else dict(erasure, at=erasure["at"].isoformat()),
            "events": events,
        }

    # -- retention -------------------------------------------------------------------
    def retention(self, at: datetime, dry_run: bool) -> list[dict[str, Any]]:
        """Every person whose contact data is due for erasure under their office's retention
        (``days`` after the contest's last registration event), erased unless ``dry_run``."""
        due = []
        for setting in self._vault.retention():
            office, days = setting["_id"], setting["days"]
            for contest_id in self._vault.contests(office):
                events = self._store.read_stream(contest_stream(contest_id))
                if not events or at - events[-1].occurred_at < timedelta(days=days):
                    continue
                since = events[-1].occurred_at + timedelta(days=days)
                for record in self._vault.people(contest_id):
                    due.append({"office": office, "contest_id": contest_id, "person": record["person"], "due": since})
                    if not dry_run:
                        reason = f"{days} days after the contest's last event ({events[-1].occurred_at:%Y-%m-%d})"
                        self._erase(office, contest_id, record["person"], RETENTION_BY, reason)
        return due

    # -- migration -------------------------------------------------------------------
    def migrate(self) -> int:
        """Copy the contact data of events written before the vault (schema version 1) into it,
        once (a person erased since stays erased); the number of people copied. The events stay
        as stored: their hashes cover them (docs/privacy.md says what that means)."""
        copied = 0
        for contest_id, office, person, name, contact in self._stored_contacts():
            if self._vault.contact(contest_id, person) is None:
                self._vault.keep(contest_id, office, person, name, contact)
                copied += 1
        return copied

    def _stored_contacts(self) -> Iterator[tuple[str, str, str, str, dict[str, str]]]:
        """Each contact a v1 event holds as stored: (contest, office, person, name, contact)."""
        types = ["ContestCreated", "JudgeRegistered", "EntrySubmitted"]
        events = [e for c in self._db[COMMITS].find({"events.type": {"$in": types}}) for e in c["events"]]
        offices = {e["payload"]["contest_id"]: e["payload"]["county_code"] for e in events if e["type"] == types[0]}
        for event in events:
            p = event["payload"]
            if event["type"] not in types or event["schema_version"] != 1:
                continue
            office = offices.get(p["contest_id"], "")
            if event["type"] == "ContestCreated" and contact_of(p.get("organiser") or {}):
                yield p["contest_id"], office, OFFICE, p["organiser"]["name"], contact_of(p["organiser"])
            elif event["type"] == "JudgeRegistered" and contact_of(p):
                yield p["contest_id"], office, judge(p["judge_id"]), p["name"], contact_of(p)
            elif event["type"] == "EntrySubmitted" and contact_of(p):
                yield p["contest_id"], office, contestant(p["contestant_id"]), p["name"], contact_of(p)

    # -- checks ------------------------------------------------------------------------
    def _contest_of(self, office: str, contest_id: str, person: str) -> Contest:
        """The contest, once it is known to be ``office``'s and ``person`` took part in it."""
        contest = folding(lambda: Contest(contest_id))(self._store.read_stream(contest_stream(contest_id)))
        if contest.info is None:
            raise NotFound(UNKNOWN_CONTEST, {"contest": [contest_id]}, contest_id=contest_id)
        if contest.info["county_code"] != office:
            raise Forbidden(OTHER_OFFICE, {"office": [office]}, contest_id=contest_id, office=office)
        if PERSON.match(person) is None:
            raise InvalidInput(NOT_A_PERSON, {"person": [person]}, person=person)
        if not _ids_of(contest, person) and self._vault.contact(contest_id, person) is None:
            raise NotFound(UNKNOWN_PERSON, {"person": [person]}, person=person, contest_id=contest_id)
        return contest


def _ids_of(contest: Contest, person: str) -> set[str]:
    """The ids the contest's events name ``person`` by (a contestant: also their entries'; the
    organising office: its person id, named by ContestCreated alone); empty when they took no
    part in it."""
    found = PERSON.match(person)
    if found is None:
        return set()
    if found["judge"] is not None:
        return {found["judge"]} if found["judge"] in contest.judges else set()
    if found["contestant"] is not None:
        entries = {e["entry_id"] for e in contest.entries.values() if e["contestant_id"] == found["contestant"]}
        return {found["contestant"], *entries} if entries else set()
    return {OFFICE} if (contest.info or {}).get("organiser") else set()


def _mentions(value: Any, ids: set[str]) -> Iterator[bool]:
    """Whether any string in ``value`` (a payload, nested) is one of ``ids``, lazily."""
    if isinstance(value, str):
        yield value in ids
    elif isinstance(value, dict):
        for item in value.values():
            yield from _mentions(item, ids)
    elif isinstance(value, list):
        for item in value:
            yield from _mentions(item, ids)

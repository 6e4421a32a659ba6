"""The service layers of registration, scoring, ranking and notify wired together in memory:
fakes over mocks, for tests that run in milliseconds.

Each service keeps its events in an in-memory event store (the twin that passes
EventStoreConformance); read models are a :class:`FakeReadModel`; :meth:`InMemorySystem.deliver`
does what the relays and consumers do: sequence each log and hand every new event, in log
order, to the consumers the published subscriptions name.
"""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.eventstore import EventStore, Sequencer
from leitai.eventstore.memory import MemoryCommitLog
from leitai.privacy import CONTACT_FIELDS
from leitai.readmodel import APPLIED
from leitai.writes import Write
from services.notify import application as notify
from services.notify.application import Notify
from services.notify.wording import Wording
from services.ranking import application as ranking
from services.ranking.application import Ranking
from services.registration import application as registration
from services.registration.application import Registration
from services.scoring import application as scoring
from services.scoring.application import Scoring

PUBLISHERS = ("registration", "scoring", "ranking")


class FakeReadModel:
    """The ReadModel interface in dicts: ``get``, ``find`` (equality and ``$in``), and
    ``apply_once`` with ``$set``; plus :meth:`apply` for ranking's projection writes."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[Any, dict]] = defaultdict(dict)

    def apply_once(self, collection: str, key: Any, event_id, update: dict) -> bool:
        if set(update) - {"$set"}:
            raise NotImplementedError(f"the fake applies $set only, not {sorted(update)}")
        document = self.collections[collection].setdefault(key, {"_id": key, APPLIED: []})
        if str(event_id) in document[APPLIED]:
            return False
        document.update(copy.deepcopy(update.get("$set", {})))
        document[APPLIED].append(str(event_id))
        return True

    def apply(self, writes: Iterable[Write]) -> None:
        """What a WriteBatch flush does on MongoDB: $max for positions, a sheet only
        over a lower revision, else $set with upsert."""
        for write in writes:
            document = self.collections[write.collection].setdefault(write.key, {"_id": write.key})
            if write.positions is not None:
                for name, value in write.positions.items():
                    document[name] = max(document.get(name, value), value)
            elif write.newer_than_revision is None or document.get("revision", 0) < write.newer_than_revision:
                document.update(copy.deepcopy(write.set))

    def get(self, collection: str, key: Any) -> dict | None:
        document = self.collections[collection].get(key)
        return None if document is None else _public(document)

    def find(self, collection: str, query: dict | None = None, sort=None) -> list[dict]:
        found = [_public(d) for d in self.collections[collection].values() if _matches(d, query or {})]
        for name, direction in reversed(list(sort or [])):
            found.sort(key=lambda d: d[name], reverse=direction < 0)
        return found


def _public(document: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in document.items() if k != APPLIED}


def _values(document: Any, path: str) -> list:
    """The values at a dotted ``path``, through lists as MongoDB goes through arrays."""
    found = [document]
    for part in path.split("."):
        found = [
            item
            for value in found
            if isinstance(value, dict) and part in value
            for item in (value[part] if isinstance(value[part], list) else [value[part]])
        ]
    return found


def _matches(document: dict, query: dict) -> bool:
    for name, wanted in query.items():
        if "." in name:
            if isinstance(wanted, dict):
                raise NotImplementedError(f"the fake matches a dotted path by equality only, not {wanted}")
            if wanted not in _values(document, name):
                return False
            continue
        if isinstance(wanted, dict):
            if set(wanted) == {"$exists"}:
                if (name in document) != wanted["$exists"]:
                    return False
                continue
            if set(wanted) != {"$in"}:
                raise NotImplementedError(f"the fake matches equality, $in and $exists only, not {wanted}")
            if document.get(name) not in wanted["$in"]:
                return False
        elif document.get(name) != wanted:
            return False
    return True


class FakeNoticeStore:
    """Notify's NoticeStore (services/notify/application.py) in dicts: facts, deliveries (once
    each), preferences and inboxes. Nothing is sent: the in-memory system records notices."""

    def __init__(self) -> None:
        self.collections: dict[str, dict[str, dict]] = defaultdict(dict)

    def get(self, collection: str, key: str) -> dict | None:
        found = self.collections[collection].get(key)
        return None if found is None else copy.deepcopy(found)

    def learn(self, collection: str, key: str, values: dict) -> None:
        self.collections[collection].setdefault(key, {"_id": key}).update(copy.deepcopy(values))

    def create_delivery(self, document: dict) -> bool:
        if document["_id"] in self.collections["deliveries"]:
            return False
        self.collections["deliveries"][document["_id"]] = dict(copy.deepcopy(document), attempts=0)
        return True

    def find_deliveries(self, query: dict) -> list[dict]:
        return [copy.deepcopy(d) for d in self.collections["deliveries"].values() if _matches(d, query)]

    def retry_delivery(self, contest_id: str, delivery_id: str, key: str | None) -> dict | None:
        found = self.collections["deliveries"].get(delivery_id)
        if found is None or found["contest_id"] != contest_id or found["status"] != "failed":
            return None
        found.update(status="pending", attempts=0)
        return copy.deepcopy(found)

    def set_preferences(self, contest_id: str, recipient_id: str, values: dict) -> dict:
        self.learn("preferences", f"{contest_id}:{recipient_id}", values)
        return self.collections["preferences"][f"{contest_id}:{recipient_id}"]

    def inbox(self, contest_id: str, recipient_id: str) -> list[dict]:
        return []  # the in-memory system sends nothing

    def sessions_starting(self, after, until) -> list[dict]:
        return [
            copy.deepcopy(s)
            for s in self.collections["sessions"].values()
            if s.get("starts_at") and after < s["starts_at"] <= until and not s.get("reminded")
        ]

    def forget(self, contest_id: str, recipient_id: str, reason: str) -> None:
        for delivery in self.collections["deliveries"].values():
            if (delivery["contest_id"], delivery["recipient_id"]) != (contest_id, recipient_id):
                continue
            if delivery["channel"] == "inbox":
                continue
            delivery["address"] = ""
            if delivery["status"] in ("pending", "sending", "failed"):
                delivery.update(status="undeliverable", last_error=reason)

    def answer(self, idempotency, write):
        return write(idempotency.key if idempotency else None)

    def ping(self) -> bool:
        return True


class FakeGrants:
    """Registration's grant store (services/registration/grants.py) in a list: what is minted,
    listed and revoked; tokens are counted, not random."""

    def __init__(self) -> None:
        self.grants: list[dict] = []

    def mint(self, grant: dict, *, label: str, by: str, days: int) -> SimpleNamespace:
        n = len(self.grants) + 1
        record = dict(grant, grant_id=f"grant-{n:012x}", label=label, minted_by=by, status="active", days=days)
        self.grants.append(record)
        return SimpleNamespace(
            grant_id=record["grant_id"], token=f"lt_{n:043d}", grant=grant, label=label, expires_at=f"+{days}d"
        )

    def list(self, contest: str | None = None, office: str | None = None) -> list[dict]:
        return [copy.deepcopy(g) for g in self.grants if contest in (None, g.get("contest"))]

    def revoke(self, grant_id: str, by: str, reason: str) -> tuple[dict, bool]:
        [grant] = [g for g in self.grants if g["grant_id"] == grant_id]
        first = grant["status"] != "revoked"
        if first:
            grant.update(status="revoked", revoked_by=by, revoke_reason=reason)
        return copy.deepcopy(grant), first


class FakePersonalData:
    """The personal-data vault (leitai/privacy.py) in a dict: contacts kept, looked up, erased."""

    def __init__(self) -> None:
        self.records: dict[str, dict] = {}

    def keep(self, contest_id: str, office: str, person: str, name: str, contact) -> None:
        record = self.records.setdefault(
            f"{contest_id}:{person}", {"contest_id": contest_id, "office": office, "person": person}
        )
        if "erased" not in record:
            record.update(name=name, **{k: contact.get(k, "") for k in CONTACT_FIELDS})

    def contact(self, contest_id: str, person: str) -> dict | None:
        found = self.records.get(f"{contest_id}:{person}")
        return None if found is None else copy.deepcopy(found)

    def people(self, contest_id: str) -> list[dict]:
        return [copy.deepcopy(r) for r in self.records.values() if r["contest_id"] == contest_id and "erased" not in r]


class InMemorySystem:
    """The four service layers, each fed by its own handler table (EVENT_HANDLERS), as the
    relays and the generated entrypoints feed them in production."""

    def __init__(self) -> None:
        self.records = {name: MemoryCommitLog() for name in PUBLISHERS}
        self.stores = {name: EventStore(self.records[name], REGISTRY) for name in PUBLISHERS}
        self._sequencers = {name: Sequencer(self.records[name], owner="in-memory") for name in PUBLISHERS}
        self._delivered = dict.fromkeys(PUBLISHERS, 0)
        seeds = itertools.count(1)
        self.plans = FakeReadModel()
        self.board = FakeReadModel()
        self.notices = FakeNoticeStore()
        self.grants = FakeGrants()
        self.personal = FakePersonalData()
        self.registration = Registration(
            self.stores["registration"], lambda: f"seed-{next(seeds):04d}", self.grants, self.personal
        )
        self.scoring = Scoring(self.stores["scoring"], self.plans)
        self.ranking = Ranking(self.stores["ranking"], self.board)
        self.notify = Notify(self.notices, self.personal, Wording.load(), reminder_hours=24)
        self._consumers = [
            (registration.EVENT_HANDLERS, self.registration),
            (scoring.EVENT_HANDLERS, self.scoring),
            (ranking.EVENT_HANDLERS, self.ranking),
            (notify.EVENT_HANDLERS, self.notify),
        ]

    def sequence(self) -> None:
        """Sequence every log, delivering nothing (a test that fills the logs by hand)."""
        for source in PUBLISHERS:
            self._sequencers[source].sequence()

    def deliver(self) -> list[Event]:
        """Sequence every log and deliver what is new, until nothing is; returns what was delivered."""
        delivered: list[Event] = []
        while True:
            fresh = []
            self.sequence()
            for source in PUBLISHERS:
                for batch in self.stores[source].read_all(self._delivered[source]):
                    fresh += [event for event in batch]
                    self._delivered[source] = batch[-1].position
            if not fresh:
                return delivered
            for event in fresh:
                for table, application in self._consumers:
                    if event.type in table.handlers:
                        table.handle(application, [event])
                delivered.append(event)

    def events(self, service: str, stream_id: str) -> list[Event]:
        return self.stores[service].read_stream(stream_id)

"""Notify's service layer: what each event calls for (the facts later notices need, and notices
recorded once per recipient, channel and kind), the day-before reminders, and the organiser's
view of deliveries, preferences and inboxes; and its handler table. No nameko and no store
here: the store is the NoticeStore interface (store.py keeps it in MongoDB, the in-memory
system in dicts), sending is sending.py's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from leitai.access import Place, require
from leitai.application import Idempotency
from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.errors import Conflict
from leitai.handlers import EventHandlers
from leitai.privacy import OFFICE, PersonalData, contestant, judge
from services.notify.messages import (
    CHANNELS,
    Notice,
    NotYetKnown,
    delivery_id,
    notices_for,
    reminders_for,
    role,
)
from services.notify.wording import Wording

R = TypeVar("R")
SUMMARY = (
    "_id",
    "recipient_id",
    "name",
    "channel",
    "kind",
    "address",
    "subject",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
)


class NoticeStore(Protocol):
    """What notify keeps: facts by collection and key, deliveries, preferences, inboxes, and
    the answers of requests sent with an idempotency key."""

    def get(self, collection: str, key: str) -> dict | None: ...
    def learn(self, collection: str, key: str, values: dict) -> None: ...
    def create_delivery(self, document: dict) -> bool: ...
    def find_deliveries(self, query: dict) -> list[dict]: ...
    def retry_delivery(self, contest_id: str, delivery_id: str, key: str | None) -> dict | None: ...
    def set_preferences(self, contest_id: str, recipient_id: str, values: dict) -> dict: ...
    def inbox(self, contest_id: str, recipient_id: str) -> list[dict]: ...
    def sessions_starting(self, after: datetime, until: datetime) -> list[dict]: ...
    def forget(self, contest_id: str, recipient_id: str, reason: str) -> None: ...
    def answer(self, idempotency: Idempotency | None, write: Callable[[str | None], R]) -> R: ...
    def ping(self) -> bool: ...


def _summary(delivery: dict) -> dict:
    return {k: delivery.get(k) for k in SUMMARY}


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


ERASED = "contact data erased on request or by retention ({at}): not sent"


class Notify:
    def __init__(self, store: NoticeStore, personal: PersonalData, wording: Wording, reminder_hours: float) -> None:
        """``personal``: the vault recipients' contacts are looked up in, for each notice, and
        never copied out of but into the delivery that uses them (leitai/privacy.py)."""
        self._store = store
        self._personal = personal
        self._wording = wording
        self._reminder_hours = reminder_hours

    # -- events (EVENT_HANDLERS below) ----------------------------------------------------
    def handle(self, event: Event) -> None:
        """Learn what later notices need, then record the notices this event calls for."""
        payload = event.to_wire(REGISTRY)["payload"]
        self._learn(event.type, payload)
        for notice in notices_for(event.type, payload, self._store):
            self._record(str(event.event_id), payload["contest_id"], notice)

    def _learn(self, kind: str, p: dict) -> None:
        """Keep what later notices need: names, contacts, who heads a session."""
        c = p["contest_id"]
        facts: list[tuple[str, str, dict[str, Any]]]
        if kind == "ContestCreated":
            office = p.get("organiser") or {}
            facts = [
                ("contests", c, {"name": p["name"], "county_code": p["county_code"]}),
                ("recipients", f"{c}:{OFFICE}", {"name": office.get("name") or "组织方"}),
            ]
        elif kind == "StageDefined":
            facts = [("stages", f"{c}:{p['stage_id']}", {"name": p["name"]})]
        elif kind == "EntrySubmitted":
            facts = [
                ("entries", f"{c}:{p['entry_id']}", {"contestant_id": p["contestant_id"], "name": p["name"]}),
                ("recipients", f"{c}:{contestant(p['contestant_id'])}", {"name": p["name"]}),
            ]
        elif kind == "ForumSeriesCreated":
            facts = [("series", f"{c}:{p['series_id']}", {"name": p["name"]})]
        elif kind == "JudgeRegistered":
            facts = [("recipients", f"{c}:{judge(p['judge_id'])}", {"name": p["name"]})]
        elif kind == "SessionOpened":
            head = next(({"judge_id": j["judge_id"], "name": j["name"]} for j in p["panel"] if j["head"]), None)
            stage = self._store.get("stages", f"{c}:{p['stage_id']}") or {"name": p["stage_id"]}
            facts = [
                (
                    "sessions",
                    p["session_id"],
                    {
                        "head": head,
                        "contest_id": c,
                        "starts_at": _moment(p.get("starts_at", "")),
                        "entries": len(p["entries"]),
                        "where": {
                            "stage_name": stage["name"],
                            "starts_at": p.get("starts_at", ""),
                            "place": p.get("place", ""),
                            "video_room": p.get("video_room", ""),
                        },
                        "panel": [{"judge_id": j["judge_id"], "name": j["name"], "role": role(j)} for j in p["panel"]],
                    },
                )
            ]
        else:
            facts = []
        for collection, key, values in facts:
            self._store.learn(collection, key, values)

    def _record(self, event_id: str, contest_id: str, notice: Notice) -> None:
        """One delivery per channel the recipient has not opted out of, once each."""
        who = self._store.get("recipients", f"{contest_id}:{notice.recipient_id}")
        if who is None:
            raise NotYetKnown(f"recipient {notice.recipient_id} is not known yet")
        preferences = self._store.get("preferences", f"{contest_id}:{notice.recipient_id}") or {}
        subject, body = self._wording.render(notice.kind, notice.context)
        text = self._wording.render_sms(notice.kind, notice.context)  # a text message of its own, short
        kept = self._personal.contact(contest_id, notice.recipient_id) or {}
        erased = kept.get("erased")
        addresses = {"email": kept.get("email"), "sms": kept.get("phone"), "inbox": notice.recipient_id}
        for channel in CHANNELS:
            if preferences.get(channel, True) is False:
                continue
            address = addresses[channel]
            if erased and channel != "inbox":
                why = ERASED.format(at=f"{erased['at']:%Y-%m-%d}")
            else:
                why = f"no {'e-mail address' if channel == 'email' else 'phone'}"
            self._store.create_delivery(
                {
                    "_id": delivery_id(notice.once_per or event_id, notice.recipient_id, channel, notice.kind),
                    "event_id": event_id,
                    "contest_id": contest_id,
                    "recipient_id": notice.recipient_id,
                    "name": who["name"],
                    "channel": channel,
                    "kind": notice.kind,
                    "address": address or "",
                    "subject": subject,
                    "body": text if channel == "sms" else body,
                    "status": "pending" if address else "undeliverable",
                    **({} if address else {"last_error": why}),
                }
            )

    def forget(self, event: Event) -> None:
        """A person's contact data was erased: no delivery of theirs keeps an address, and
        those not sent yet are undeliverable, saying why (a retry cannot send them)."""
        p = event.payload
        self._store.forget(p["contest_id"], p["person"], ERASED.format(at=f"{event.occurred_at:%Y-%m-%d}"))

    # -- reminders ------------------------------------------------------------------------
    def remind(self, now: datetime | None = None) -> int:
        """Record the reminders of sessions starting within the reminder window, once each."""
        now = now or datetime.now(UTC)
        count = 0
        for session in self._store.sessions_starting(now, now + timedelta(hours=self._reminder_hours)):
            for notice in reminders_for(session):
                self._record(f"reminder:{session['_id']}", session["contest_id"], notice)
                count += 1
            self._store.learn("sessions", session["_id"], {"reminded": True})
        return count

    def health(self) -> str:
        """For readiness: whether notify's store answers."""
        return "ok" if self._store.ping() else "store not answering"

    # -- the organiser's requests -----------------------------------------------------------
    def deliveries(
        self,
        actor: dict,
        contest_id: str,
        recipient_id: str | None = None,
        status: str | None = None,
        kind: str | None = None,
    ) -> list[dict]:
        require(actor, "manage_notices", self._place(contest_id))
        wanted = {"recipient_id": recipient_id, "status": status, "kind": kind}
        query = {"contest_id": contest_id, **{k: v for k, v in wanted.items() if v}}
        return [_summary(d) for d in self._store.find_deliveries(query)]

    def retry_delivery(self, actor: dict, contest_id: str, delivery_id: str) -> dict:
        require(actor, "manage_notices", self._place(contest_id))

        def retry(key: str | None) -> dict:
            again = self._store.retry_delivery(contest_id, delivery_id, key)
            if again is None:
                raise Conflict(
                    "delivery {delivery_id} is not a failed delivery of contest {contest_id}",
                    delivery_id=delivery_id,
                    contest_id=contest_id,
                )
            return _summary(again)

        return self._store.answer(Idempotency.of(actor), retry)

    def set_preferences(self, actor: dict, contest_id: str, recipient_id: str, preferences: dict) -> dict:
        require(actor, "manage_notices", self._place(contest_id))
        values = {c: bool(preferences[c]) for c in CHANNELS if c in preferences}

        def store(key: str | None) -> dict:  # setting the same values again changes nothing
            now = self._store.set_preferences(contest_id, recipient_id, values)
            return {"recipient_id": recipient_id, **{c: now.get(c, True) for c in CHANNELS}}

        return self._store.answer(Idempotency.of(actor), store)

    def inbox(self, actor: dict, contest_id: str, recipient_id: str) -> list[dict]:
        require(actor, "manage_notices", self._place(contest_id))
        return [
            {k: m[k] for k in ("_id", "kind", "subject", "body", "at")}
            for m in self._store.inbox(contest_id, recipient_id)
        ]

    def _place(self, contest_id: str) -> Place:
        """The contest a grant must reach, and the office that owns it (None: not known here)."""
        contest = self._store.get("contests", contest_id) or {}
        return Place(contest_id, contest.get("county_code"))


# Every event that may call for a notice goes to handle(); messages.py says which do.
EVENT_HANDLERS: EventHandlers[Notify] = EventHandlers(
    "notify",
    {"PersonalDataErased": Notify.forget}
    | dict.fromkeys(
        (
            "ContestCreated",
            "StageDefined",
            "EntrySubmitted",
            "JudgeRegistered",
            "SessionOpened",
            "ForumSeriesCreated",
            "ForumMeetingScheduled",
            "AdvancementChangeFollowed",
            "AdvancementChangeReferred",
            "AdvancementChangeDecided",
            "ToleranceFlagRaised",
            "EntryScored",
            "StageResultsPublished",
            "StageResultsRepublished",
            "AppealFiled",
            "AppealDecided",
        ),
        Notify.handle,
    ),
)

"""The notify service's working parts, behind one dependency: what it knows of contests and
people, the deliveries, the channels and their rate limits."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import eventlet
from marshmallow import Schema, ValidationError, fields, pre_load, validate

from leitai import metrics
from leitai.config import ConfigurationError
from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.dependencies import MongoProvider
from leitai.mongo import is_outage
from leitai.ratelimit import RateLimit
from services.notify import channels
from services.notify.answers import KeyedAnswers
from services.notify.deliveries import Deliveries, Policy, delivery_id
from services.notify.messages import OFFICE, NotYetKnown, contestant, judge, notices_for, reminders_for, role
from services.notify.wording import Wording

CHANNELS = ("email", "sms", "inbox")
log = logging.getLogger(__name__)


class _Smtp(Schema):
    host = fields.String(required=True)
    port = fields.Integer(load_default=25, validate=validate.Range(min=1, max=65535))
    sender = fields.String(load_default="leitai@localhost")
    starttls = fields.Boolean(load_default=False)
    user = fields.String(load_default="")
    password = fields.String(load_default="")

    @pre_load
    def _empty_is_none(self, data, **kwargs):
        # an empty Secret value arrives as ${SMTP_USER:""} -> "" -> YAML null: no login
        return (
            {k: ("" if k in ("user", "password") and v is None else v) for k, v in data.items()}
            if isinstance(data, dict)
            else data
        )


class _Sms(Schema):
    url = fields.Url(required=True, require_tld=False)
    api_key = fields.String(required=True, validate=validate.Length(min=1))


class _Settings(Schema):
    smtp = fields.Nested(_Smtp, required=True)
    sms = fields.Nested(_Sms, required=True)
    rates = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CHANNELS)),
        values=fields.Float(validate=validate.Range(min=0.1)),
        load_default=dict,
    )
    max_attempts = fields.Integer(load_default=8, validate=validate.Range(min=1, max=50))
    base_delay = fields.Float(load_default=1.0, validate=validate.Range(min=0.01, max=3600))
    lease_seconds = fields.Float(load_default=60.0, validate=validate.Range(min=0.5, max=3600))
    reminder_hours = fields.Float(load_default=24.0, validate=validate.Range(min=0.1, max=24 * 14))


def notify_settings(raw: dict) -> dict:
    """LEITAI_NOTIFY, validated, with its defaults."""
    try:
        return _Settings().load(raw)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid configuration: LEITAI_NOTIFY: {exc.messages}") from None


class Notifier:
    def __init__(self, db, settings: dict) -> None:
        self.db = db
        self.answers = KeyedAnswers(db)
        self.deliveries = Deliveries(
            db, Policy(settings["max_attempts"], settings["base_delay"], settings["lease_seconds"])
        )
        self.channels = {
            "email": channels.Email(**settings["smtp"]),
            "sms": channels.Sms(settings["sms"]["url"], settings["sms"]["api_key"]),
            "inbox": channels.Inbox(db),
        }
        self.rates = {name: RateLimit(rate) for name, rate in settings["rates"].items()}
        self.reminder_hours = settings["reminder_hours"]
        self.wording = Wording.load()
        self._outcomes: deque[Callable[[], None]] = deque()  # channel answers not recorded yet
        self._store_down = False

    # -- receiving events -------------------------------------------------------------
    def handle(self, event: Event) -> None:
        payload = event.to_wire(REGISTRY)["payload"]
        self._learn(event.type, payload)
        for notice in notices_for(event.type, payload, self):
            self._record(str(event.event_id), payload["contest_id"], notice)

    def get(self, collection: str, key: str) -> dict | None:
        return self.db[collection].find_one({"_id": key})

    def _learn(self, kind: str, p: dict) -> None:
        """Keep what later notices need: names, contacts, who heads a session."""
        c = p["contest_id"]
        if kind == "ContestCreated":
            office = p.get("organiser") or {}
            facts = [
                ("contests", c, {"name": p["name"]}),
                (
                    "recipients",
                    f"{c}:{OFFICE}",
                    {
                        "name": office.get("name") or "组织方",
                        "email": office.get("email"),
                        "phone": office.get("phone"),
                    },
                ),
            ]
        elif kind == "StageDefined":
            facts = [("stages", f"{c}:{p['stage_id']}", {"name": p["name"]})]
        elif kind == "EntrySubmitted":
            facts = [
                ("entries", f"{c}:{p['entry_id']}", {"contestant_id": p["contestant_id"], "name": p["name"]}),
                ("recipients", f"{c}:{contestant(p['contestant_id'])}", {k: p[k] for k in ("name", "email", "phone")}),
            ]
        elif kind == "ForumSeriesCreated":
            facts = [("series", f"{c}:{p['series_id']}", {"name": p["name"]})]
        elif kind == "JudgeRegistered":
            facts = [("recipients", f"{c}:{judge(p['judge_id'])}", {k: p[k] for k in ("name", "email", "phone")})]
        elif kind == "SessionOpened":
            head = next(({"judge_id": j["judge_id"], "name": j["name"]} for j in p["panel"] if j["head"]), None)
            stage = self.get("stages", f"{c}:{p['stage_id']}") or {"name": p["stage_id"]}
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
            self.db[collection].update_one({"_id": key}, {"$set": values}, upsert=True)

    def _record(self, event_id: str, contest_id: str, notice) -> None:
        who = self.get("recipients", f"{contest_id}:{notice.recipient_id}")
        if who is None:
            raise NotYetKnown(f"recipient {notice.recipient_id} is not known yet")
        preferences = self.get("preferences", f"{contest_id}:{notice.recipient_id}") or {}
        subject, body = self.wording.render(notice.kind, notice.context)
        addresses = {"email": who.get("email"), "sms": who.get("phone"), "inbox": notice.recipient_id}
        for channel in CHANNELS:
            if preferences.get(channel, True) is False:
                continue
            address = addresses[channel]
            self.deliveries.create(
                {
                    "_id": delivery_id(event_id, notice.recipient_id, channel, notice.kind),
                    "event_id": event_id,
                    "contest_id": contest_id,
                    "recipient_id": notice.recipient_id,
                    "name": who["name"],
                    "channel": channel,
                    "kind": notice.kind,
                    "address": address or "",
                    "subject": subject,
                    "body": body,
                    "status": "pending" if address else "undeliverable",
                    **({} if address else {"last_error": f"no {'e-mail address' if channel == 'email' else 'phone'}"}),
                }
            )

    # -- reminders ----------------------------------------------------------------------
    def remind(self) -> int:
        """Record the reminders of sessions starting within the reminder window, once each."""
        horizon = datetime.now(UTC) + timedelta(hours=self.reminder_hours)
        due = self.db.sessions.find(
            {"starts_at": {"$gt": datetime.now(UTC), "$lte": horizon}, "reminded": {"$ne": True}}
        )
        count = 0
        for session in due:
            for notice in reminders_for(session):
                self._record(f"reminder:{session['_id']}", session["contest_id"], notice)
                count += 1
            self.db.sessions.update_one({"_id": session["_id"]}, {"$set": {"reminded": True}})
        return count

    # -- sending ------------------------------------------------------------------------
    def send_due(self, limit: int = 100) -> int:
        """Send what is due; returns how many went out. A store outage raises, and the
        outcomes not yet recorded are recorded first thing in the next round."""
        try:
            return self._send_due(limit)
        except Exception as exc:
            if not is_outage(exc):
                raise
            if not self._store_down:  # once an outage, not ten times a second
                log.warning("store outage: sending waits for it", extra={"error": f"{type(exc).__name__}: {exc}"[:500]})
            self._store_down = True
            return 0

    def _send_due(self, limit: int) -> int:
        self._record_outcomes()  # before anything new is claimed
        self._store_down = False
        sent = 0
        self.deliveries.recover()  # once a round, not once a delivery
        for delivery in self.deliveries.claim_due(limit):
            bucket = self.rates.get(delivery["channel"])
            while bucket is not None and not bucket.take():
                eventlet.sleep(0.02)
            outcome = metrics.NOTICES.labels(delivery["channel"], "sent")
            try:
                self.channels[delivery["channel"]].send(delivery)
            except channels.PermanentFailure as exc:
                outcome = metrics.NOTICES.labels(delivery["channel"], "failed")
                self._outcomes.append(partial(self.deliveries.failed, delivery, str(exc)))
            except channels.TemporaryFailure as exc:
                outcome = metrics.NOTICES.labels(delivery["channel"], "failed_for_now")
                self._outcomes.append(partial(self.deliveries.failed_for_now, delivery, str(exc)))
            else:
                self._outcomes.append(partial(self.deliveries.sent, delivery))
                sent += 1
            outcome.inc()
            self._record_outcomes()
        return sent

    def _record_outcomes(self) -> None:
        """Record each channel's answer, oldest first. What the store does not take now (an
        outage) stays here and is recorded when it answers again: a message that went out is
        then marked sent before its lease runs out, and is not sent a second time."""
        while self._outcomes:
            self._outcomes[0]()
            self._outcomes.popleft()


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


class NotifierProvider(MongoProvider):
    def setup(self) -> None:
        super().setup()
        self.notifier = Notifier(self.db, notify_settings(self.container.config.get("LEITAI_NOTIFY") or {}))
        self.notifier.deliveries.ensure_indexes()

    def get_dependency(self, worker_ctx) -> Notifier:
        return self.notifier

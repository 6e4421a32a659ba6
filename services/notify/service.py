"""The notify service: tells contestants, judges and the organiser what happened, once, by e-mail, SMS and inbox."""

from __future__ import annotations

from nameko.timer import timer
from pymongo import ReturnDocument

from leitai.application import Idempotency
from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.dependencies import Operations
from leitai.errors import Conflict
from leitai.messaging.consumer import reliable_handler
from leitai.roles import ORGANISER, require_role
from leitai.rpc import rpc
from services.notify.notifier import CHANNELS, NotifierProvider

SEND_EVERY_S = 0.1
REMIND_EVERY_S = 1.0


def _summary(delivery: dict) -> dict:
    return {
        k: delivery.get(k)
        for k in (
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
    }


def _organiser(actor: dict) -> None:
    require_role(actor, ORGANISER, to="see or change notices")


class NotifyService:
    name = "notify"
    notifier = NotifierProvider()
    ops = Operations()

    # -- events that may call for notices (the published subscriptions: CONSUMES["notify"]) --
    @reliable_handler("registration", "ContestCreated", registry=REGISTRY)
    def on_contest_created(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("registration", "StageDefined", registry=REGISTRY)
    def on_stage_defined(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("registration", "EntrySubmitted", registry=REGISTRY)
    def on_entry_submitted(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("registration", "JudgeRegistered", registry=REGISTRY)
    def on_judge_registered(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("registration", "SessionOpened", registry=REGISTRY)
    def on_session_opened(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("registration", "ForumSeriesCreated", registry=REGISTRY)
    def on_forum_series_created(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("registration", "ForumMeetingScheduled", registry=REGISTRY)
    def on_forum_meeting_scheduled(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("registration", "AdvancementChangeFollowed", registry=REGISTRY)
    def on_advancement_change_followed(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("registration", "AdvancementChangeReferred", registry=REGISTRY)
    def on_advancement_change_referred(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("registration", "AdvancementChangeDecided", registry=REGISTRY)
    def on_advancement_change_decided(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("scoring", "ToleranceFlagRaised", registry=REGISTRY)
    def on_tolerance_flag_raised(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("scoring", "EntryScored", registry=REGISTRY)
    def on_entry_scored(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("ranking", "StageResultsPublished", registry=REGISTRY)
    def on_stage_results_published(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("ranking", "StageResultsRepublished", registry=REGISTRY)
    def on_stage_results_republished(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("ranking", "AppealFiled", registry=REGISTRY)
    def on_appeal_filed(self, event: Event) -> None:
        self.notifier.handle(event)

    @reliable_handler("ranking", "AppealDecided", registry=REGISTRY)
    def on_appeal_decided(self, event: Event) -> None:
        self.notifier.handle(event)

    # -- sending -----------------------------------------------------------------------
    @timer(interval=SEND_EVERY_S)
    def send_due(self) -> None:
        self.notifier.send_due()

    @timer(interval=REMIND_EVERY_S)
    def remind(self) -> None:
        self.notifier.remind()

    @rpc
    def health(self) -> str:
        return "ok" if self.notifier.db.command("ping").get("ok") == 1 else "store not answering"

    @rpc
    def deliveries(
        self,
        actor: dict,
        contest_id: str,
        recipient_id: str | None = None,
        status: str | None = None,
        kind: str | None = None,
    ) -> list[dict]:
        _organiser(actor)
        query = {
            "contest_id": contest_id,
            **{k: v for k, v in (("recipient_id", recipient_id), ("status", status), ("kind", kind)) if v},
        }
        return [_summary(d) for d in self.notifier.deliveries.find(query)]

    @rpc
    def retry_delivery(self, actor: dict, contest_id: str, delivery_id: str) -> dict:
        _organiser(actor)

        def retry(key: str | None) -> dict:
            again = self.notifier.deliveries.retry(contest_id, delivery_id, key)
            if again is None:
                raise Conflict(f"delivery {delivery_id} is not a failed delivery of contest {contest_id}")
            return _summary(again)

        return self.notifier.answers.answer(Idempotency.of(actor), retry)

    @rpc
    def set_preferences(self, actor: dict, contest_id: str, recipient_id: str, preferences: dict) -> dict:
        _organiser(actor)
        values = {c: bool(preferences[c]) for c in CHANNELS if c in preferences}

        def store(key: str | None) -> dict:  # setting the same values again changes nothing
            now = self.notifier.db.preferences.find_one_and_update(
                {"_id": f"{contest_id}:{recipient_id}"},
                {"$set": values},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
            return {"recipient_id": recipient_id, **{c: now.get(c, True) for c in CHANNELS}}

        return self.notifier.answers.answer(Idempotency.of(actor), store)

    @rpc
    def inbox(self, actor: dict, contest_id: str, recipient_id: str) -> list[dict]:
        _organiser(actor)
        return [
            {k: m[k] for k in ("_id", "kind", "subject", "body", "at")}
            for m in self.notifier.db.inbox.find(
                {"contest_id": contest_id, "recipient_id": recipient_id}, sort=[("at", 1), ("_id", 1)]
            )
        ]

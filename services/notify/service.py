"""The notify service's entrypoints: the events that may call for notices (from its handler
table, EVENT_HANDLERS), the timers that send and remind, and the organiser's requests. Each
maps onto the service layer (application.py) or the sender (sending.py)."""

from __future__ import annotations

from nameko.timer import timer

from leitai.contracts.product import REGISTRY
from leitai.dependencies import CheckedSettings, Operations
from leitai.messaging.consumer import handling
from leitai.rpc import rpc
from services.notify.application import EVENT_HANDLERS, Notify
from services.notify.dependencies import NotifyProvider
from services.notify.settings import load as load_settings

SEND_EVERY_S = 0.1
REMIND_EVERY_S = 1.0


@handling(EVENT_HANDLERS, "notify", REGISTRY)
class NotifyService:
    name = "notify"
    settings = CheckedSettings(load_settings)
    parts = NotifyProvider()
    ops = Operations()

    @property
    def notify(self) -> Notify:
        return self.parts.notify

    @timer(interval=SEND_EVERY_S)
    def send_due(self) -> None:
        self.parts.sender.send_due()

    @timer(interval=REMIND_EVERY_S)
    def remind(self) -> None:
        self.notify.remind()

    @rpc
    def health(self) -> str:
        return self.notify.health()

    @rpc
    def deliveries(
        self,
        actor: dict,
        contest_id: str,
        recipient_id: str | None = None,
        status: str | None = None,
        kind: str | None = None,
    ) -> list[dict]:
        return self.notify.deliveries(actor, contest_id, recipient_id, status, kind)

    @rpc
    def retry_delivery(self, actor: dict, contest_id: str, delivery_id: str) -> dict:
        return self.notify.retry_delivery(actor, contest_id, delivery_id)

    @rpc
    def set_preferences(self, actor: dict, contest_id: str, recipient_id: str, preferences: dict) -> dict:
        return self.notify.set_preferences(actor, contest_id, recipient_id, preferences)

    @rpc
    def inbox(self, actor: dict, contest_id: str, recipient_id: str) -> list[dict]:
        return self.notify.inbox(actor, contest_id, recipient_id)

"""The dependency that hands the notify service its parts over one MongoDB client: the service
layer over the store (application.py, store.py) and the sender with its channels (sending.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leitai.dependencies import MongoProvider, personal_data
from services.notify import channels
from services.notify.application import Notify
from services.notify.deliveries import Deliveries, Policy
from services.notify.sending import Sender
from services.notify.settings import notify_settings
from services.notify.store import MongoNoticeStore
from services.notify.wording import Wording


@dataclass(frozen=True)
class Parts:
    notify: Notify  # the service layer: events, reminders, the organiser's requests
    sender: Sender  # what the send timer runs


class NotifyProvider(MongoProvider):
    """Validates LEITAI_NOTIFY at start-up (settings.py) and makes notify's parts over one client."""

    def setup(self) -> None:
        super().setup()
        settings = notify_settings(self.container.config.get("LEITAI_NOTIFY") or {})
        deliveries = Deliveries(
            self.db, Policy(settings["max_attempts"], settings["base_delay"], settings["lease_seconds"])
        )
        deliveries.ensure_indexes()
        store = MongoNoticeStore(self.db, deliveries)
        sending: dict[str, Any] = {
            "email": channels.Email(**settings["smtp"]),
            "sms": channels.Sms(settings["sms"]["url"], settings["sms"]["api_key"]),
            "inbox": channels.Inbox(self.db),
        }
        vault = personal_data(self.client, self.container.config)
        self.parts = Parts(
            Notify(store, vault, Wording.load(), settings["reminder_hours"]),
            Sender(deliveries, sending, settings["rates"]),
        )

    def get_dependency(self, worker_ctx: Any) -> Parts:
        return self.parts

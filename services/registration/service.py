"""The registration service's entrypoints: region trees, contests, stages, judges, entries,
sessions. Each maps onto one method of the service layer (application.py); the event handlers
come from its handler table (EVENT_HANDLERS)."""

from __future__ import annotations

from leitai.contracts.product import REGISTRY
from leitai.dependencies import (
    CheckedSettings,
    EventStoreProvider,
    Operations,
    PersonalDataProvider,
    PublishedLog,
    StoreHealth,
    StoreProvider,
)
from leitai.messaging.consumer import handling
from leitai.rpc import rpc
from services.registration.application import EVENT_HANDLERS, Registration, new_seed
from services.registration.grants import GrantStore
from services.registration.settings import load as load_settings


@handling(EVENT_HANDLERS, "registration", REGISTRY)
class RegistrationService(StoreHealth, PublishedLog):
    name = "registration"
    settings = CheckedSettings(load_settings)
    store = EventStoreProvider(REGISTRY)
    grants = StoreProvider(GrantStore.opened)  # minted grants (grants.py; `leitai grant`)
    personal = PersonalDataProvider()  # people's contact data, never in an event (leitai/privacy.py)
    ops = Operations()

    @property
    def registration(self) -> Registration:
        return Registration(self.store, new_seed, self.grants, self.personal)

    @rpc
    def import_regions(
        self, actor: dict, tree_id: str, regions: list[dict] | None = None, csv_text: str | None = None
    ) -> dict:
        return self.registration.import_regions(actor, tree_id, regions, csv_text)

    @rpc
    def get_regions(self, tree_id: str) -> dict:
        return self.registration.regions(tree_id)

    @rpc
    def contest_place(self, contest_id: str) -> dict | None:
        return self.registration.contest_place(contest_id)

    @rpc
    def create_contest(self, actor: dict, contest: dict) -> dict:
        return self.registration.create_contest(actor, contest)

    @rpc
    def define_stage(self, actor: dict, contest_id: str, stage: dict) -> dict:
        return self.registration.define_stage(actor, contest_id, stage)

    @rpc
    def register_judge(self, actor: dict, contest_id: str, judge: dict) -> dict:
        return self.registration.register_judge(actor, contest_id, judge)

    @rpc
    def submit_entries(self, actor: dict, contest_id: str, entries: list[dict]) -> list[dict]:
        return self.registration.submit_entries(actor, contest_id, entries)

    @rpc
    def register_roster(self, actor: dict, contest_id: str, judges: list[dict], entries: list[dict]) -> list[dict]:
        return self.registration.register_roster(actor, contest_id, judges, entries)

    @rpc
    def roster_basis(self, actor: dict, contest_id: str) -> dict:
        return self.registration.roster_basis(actor, contest_id)

    @rpc
    def withdraw_entry(self, actor: dict, contest_id: str, entry_id: str, reason: str = "") -> dict:
        return self.registration.withdraw_entry(actor, contest_id, entry_id, reason)

    @rpc
    def schedule_session(self, actor: dict, contest_id: str, session: dict) -> dict:
        return self.registration.schedule_session(actor, contest_id, session)

    @rpc
    def seat_panel(self, actor: dict, contest_id: str, session_id: str, seats: list[dict]) -> dict:
        return self.registration.seat_panel(actor, contest_id, session_id, seats)

    @rpc
    def draw_order(self, actor: dict, contest_id: str, session_id: str, seed: str | None = None) -> dict:
        return self.registration.draw_order(actor, contest_id, session_id, seed)

    @rpc
    def open_session(self, actor: dict, contest_id: str, session_id: str) -> dict:
        return self.registration.open_session(actor, contest_id, session_id)

    @rpc
    def create_series(self, actor: dict, contest_id: str, series: dict) -> dict:
        return self.registration.create_series(actor, contest_id, series)

    @rpc
    def schedule_meeting(self, actor: dict, contest_id: str, meeting: dict) -> dict:
        return self.registration.schedule_meeting(actor, contest_id, meeting)

    @rpc
    def record_meeting(self, actor: dict, contest_id: str, record: dict) -> dict:
        return self.registration.record_meeting(actor, contest_id, record)

    @rpc
    def participation(self, contest_id: str) -> list[dict]:
        return self.registration.participation(contest_id)

    @rpc
    def get_contest(self, actor: dict, contest_id: str) -> dict:
        return self.registration.contest_view(actor, contest_id)

    @rpc
    def decide_advancement(self, actor: dict, contest_id: str, change_id: str, decision: dict) -> dict:
        return self.registration.decide_advancement(actor, contest_id, change_id, decision)

    @rpc
    def invite(self, actor: dict, contest_id: str, invitation: dict) -> dict:
        return self.registration.invite(actor, contest_id, invitation)

    @rpc
    def invitations(self, actor: dict, contest_id: str) -> list[dict]:
        return self.registration.invitations(actor, contest_id)

    @rpc
    def revoke_invitation(self, actor: dict, contest_id: str, grant_id: str, reason: str) -> dict:
        return self.registration.revoke_invitation(actor, contest_id, grant_id, reason)

    @rpc
    def grant_holder(self, digest: str) -> dict | None:
        """The gateway's look-up of a minted token it does not know, by its sha256 (hex): the
        grant's actor, or None (unknown, expired or revoked)."""
        return self.grants.holder(digest)

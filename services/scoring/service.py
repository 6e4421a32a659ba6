"""The scoring service's entrypoints: judges' sheets, the lock, a session's scoring and
results. Each maps onto one method of the service layer (application.py); the event handlers
come from its handler table (EVENT_HANDLERS)."""

from __future__ import annotations

from leitai.contracts.product import REGISTRY
from leitai.dependencies import (
    CheckedSettings,
    EventStoreProvider,
    Operations,
    PublishedLog,
    ReadModelProvider,
    StoreHealth,
)
from leitai.messaging.consumer import handling
from leitai.rpc import rpc
from services.scoring.application import EVENT_HANDLERS, Scoring
from services.scoring.settings import load as load_settings


@handling(EVENT_HANDLERS, "scoring", REGISTRY)
class ScoringService(StoreHealth, PublishedLog):
    name = "scoring"
    settings = CheckedSettings(load_settings)
    store = EventStoreProvider(REGISTRY)
    ops = Operations()
    plans = ReadModelProvider()

    @property
    def scoring(self) -> Scoring:
        return Scoring(self.store, self.plans)

    @rpc
    def submit_sheet(
        self,
        actor: dict,
        session_id: str,
        entry_id: str,
        submission_id: str,
        scores: dict,
        strengths: str = "",
        suggestions: str = "",
    ) -> dict:
        return self.scoring.submit_sheet(actor, session_id, entry_id, submission_id, scores, strengths, suggestions)

    @rpc
    def lock_session(self, actor: dict, session_id: str, override_reason: str | None = None) -> dict:
        return self.scoring.lock_session(actor, session_id, override_reason)

    @rpc
    def hall(self, actor: dict, session_id: str) -> dict:
        return self.scoring.hall(actor, session_id)

    @rpc
    def session_place(self, session_id: str) -> dict | None:
        return self.scoring.session_place(session_id)

    @rpc
    def judge_desk(self, actor: dict) -> dict:
        return self.scoring.judge_desk(actor)

    @rpc
    def session_status(self, actor: dict, session_id: str) -> dict:
        return self.scoring.session_status(actor, session_id)

    @rpc
    def session_results(self, actor: dict, session_id: str) -> dict:
        return self.scoring.session_results(actor, session_id)

    @rpc
    def propose_correction(self, actor: dict, session_id: str, correction: dict) -> dict:
        return self.scoring.propose_correction(actor, session_id, correction)

    @rpc
    def decide_correction(self, actor: dict, session_id: str, correction_id: str, decision: dict) -> dict:
        return self.scoring.decide_correction(actor, session_id, correction_id, decision)

    @rpc
    def corrections(self, actor: dict, session_id: str) -> list[dict]:
        return self.scoring.corrections(actor, session_id)

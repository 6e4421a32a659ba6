"""The scoring service: judges' sheets, recusal, tolerance flags, locking and aggregation."""
from __future__ import annotations

from decimal import Decimal

from nameko.rpc import rpc

from leitai.application import execute, folding
from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.dependencies import EventStoreProvider, ReadModelProvider, StoreHealth
from leitai.errors import Forbidden, NotFound
from leitai.messaging.consumer import reliable_handler
from services.scoring.session import ScoringSession, SessionPlan

SESSIONS = "sessions"


def stream_of(session_id: str) -> str:
    return f"scoring-{session_id}"


class ScoringService(StoreHealth):
    name = "scoring"
    store = EventStoreProvider(REGISTRY)
    plans = ReadModelProvider()

    @reliable_handler("registration", "SessionOpened", registry=REGISTRY)
    def on_session_opened(self, event: Event) -> None:
        plan = event.to_wire(REGISTRY)["payload"]
        self.plans.apply_once(SESSIONS, plan["session_id"], event.event_id, {"$set": {"plan": plan}})

    # -- commands -------------------------------------------------------------------
    @rpc
    def submit_sheet(self, actor: dict, session_id: str, entry_id: str, submission_id: str, scores: dict,
                     strengths: str = "", suggestions: str = "") -> dict:
        if actor["role"] != "judge":
            raise Forbidden("only a judge submits score sheets")
        values = {k: Decimal(v) for k, v in scores.items()}
        sheet = execute(self.store, stream_of(session_id), self._fold(session_id),
                        lambda s: s.submit(actor["id"], entry_id, submission_id, values, strengths, suggestions),
                        actor=actor["id"], correlation_id=actor.get("request_id"))
        return sheet.as_dict()

    @rpc
    def lock_session(self, actor: dict, session_id: str, override_reason: str | None = None) -> dict:
        def decide(session: ScoringSession):
            decisions = session.lock(actor["id"], actor["role"] == "organiser", override_reason)
            return [d.payload for d in decisions if d.type == "EntryScored"], decisions

        results = execute(self.store, stream_of(session_id), self._fold(session_id), decide,
                          actor=actor["id"], correlation_id=actor.get("request_id"))
        return {"session_id": session_id, "locked": True, "results": [_published(r) for r in results]}

    # -- queries --------------------------------------------------------------------
    @rpc
    def session_status(self, actor: dict, session_id: str) -> dict:
        """Sheets, flags and missing sheets: for organisers and the head judge in full; a
        seated judge sees their own sheets; nobody else sees anything before the lock."""
        session = self._fold(session_id)(self.store.read_stream(stream_of(session_id)))
        judge = session.plan.panel.get(actor.get("id"))
        full = actor["role"] == "organiser" or (judge is not None and judge.head)
        if not full and judge is None:
            raise Forbidden("only organisers and this session's judges see its scoring")
        entries = sorted(session.plan.entries.values(), key=lambda e: e.order)
        return {
            "session_id": session_id, "locked": session.locked,
            "entries": [{
                "entry_id": e.entry_id, "order": e.order, "name": e.name,
                "sheets": [s.as_dict() for (entry, j), s in sorted(session.sheets.items())
                           if entry == e.entry_id and (full or j == actor["id"])],
                "open_flags": session.open_flags(e.entry_id) if full else [],
                "missing": session.missing(e.entry_id) if full else [],
            } for e in entries],
        }

    @rpc
    def session_results(self, session_id: str) -> dict:
        session = self._fold(session_id)(self.store.read_stream(stream_of(session_id)))
        if not session.locked:
            raise NotFound(f"session {session_id} has no published results yet")
        entries = sorted(session.plan.entries.values(), key=lambda e: e.order)
        return {"session_id": session_id, "results": [
            dict(_published(session.scored[e.entry_id]), name=e.name, order=e.order,
                 comments=[{"judge_id": s.judge_id, "strengths": s.strengths, "suggestions": s.suggestions}
                           for (entry, _), s in sorted(session.sheets.items()) if entry == e.entry_id])
            for e in entries]}

    def _fold(self, session_id: str):
        document = self.plans.get(SESSIONS, session_id)
        if document is None:
            raise NotFound(f"session {session_id} is not open for scoring")
        plan = SessionPlan.from_payload(document["plan"])
        return folding(lambda: ScoringSession(plan))


def _published(scored: dict) -> dict:
    """An EntryScored payload in JSON form (Decimals as strings)."""
    return REGISTRY.get("EntryScored").schema.dump(scored)

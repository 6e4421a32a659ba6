"""Scoring's service layer: the plans registration opened, judges' sheets, the lock, and what
each reader may see. No nameko here: service.py maps entrypoints onto these methods."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from leitai.application import execute, on_behalf
from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.domain import folding
from leitai.errors import Forbidden, NotFound
from leitai.eventstore import EventStore
from leitai.roles import JUDGE, ORGANISER, has_role, require_role
from services.scoring.session import ScoringSession, SessionPlan

SESSIONS = "sessions"


class Plans(Protocol):
    """Where the opened sessions' plans are kept (a read model: see leitai.readmodel)."""

    def apply_once(self, collection: str, key: Any, event_id, update: dict) -> bool: ...

    def get(self, collection: str, key: Any) -> dict | None: ...


def stream_of(session_id: str) -> str:
    return f"scoring-{session_id}"


def published(scored: dict) -> dict:
    """An EntryScored payload in JSON form (Decimals as strings)."""
    return REGISTRY.get("EntryScored").schema.dump(scored)


class Scoring:
    def __init__(self, store: EventStore, plans: Plans) -> None:
        self._store = store
        self._plans = plans

    def session_opened(self, event: Event) -> None:
        plan = event.to_wire(REGISTRY)["payload"]
        self._plans.apply_once(SESSIONS, plan["session_id"], event.event_id, {"$set": {"plan": plan}})

    # -- commands -------------------------------------------------------------------
    def submit_sheet(self, actor: dict, session_id: str, entry_id: str, submission_id: str, scores: dict,
                     strengths: str = "", suggestions: str = "") -> dict:
        require_role(actor, JUDGE, to="submit score sheets")
        values = {k: Decimal(v) for k, v in scores.items()}

        def decide(session):
            sheet, decisions = session.submit(actor["id"], entry_id, submission_id, values, strengths, suggestions)
            return sheet.as_dict(), decisions  # an answer as the client sees it, which a retry may find stored

        return execute(self._store, stream_of(session_id), self._fold(session_id), decide, **on_behalf(actor))

    def lock_session(self, actor: dict, session_id: str, override_reason: str | None = None) -> dict:
        def decide(session: ScoringSession):
            decisions = session.lock(actor["id"], has_role(actor, ORGANISER), override_reason)
            return [d.payload for d in decisions if d.type == "EntryScored"], decisions

        results = execute(self._store, stream_of(session_id), self._fold(session_id), decide,
                          **on_behalf(actor))
        return {"session_id": session_id, "locked": True, "results": [published(r) for r in results]}

    # -- queries --------------------------------------------------------------------
    def session_status(self, actor: dict, session_id: str) -> dict:
        """Sheets, flags and missing sheets: for organisers and the head judge in full; a
        seated judge sees their own sheets; nobody else sees anything before the lock."""
        session = self._session(session_id)
        judge = session.plan.panel.get(actor.get("id"))
        full = has_role(actor, ORGANISER) or (judge is not None and judge.head)
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

    def session_results(self, session_id: str) -> dict:
        session = self._session(session_id)
        if not session.locked:
            raise NotFound(f"session {session_id} has no published results yet")
        entries = sorted(session.plan.entries.values(), key=lambda e: e.order)
        return {"session_id": session_id, "results": [
            dict(published(session.scored[e.entry_id]), name=e.name, order=e.order,
                 comments=[{"judge_id": s.judge_id, "strengths": s.strengths, "suggestions": s.suggestions}
                           for (entry, _), s in sorted(session.sheets.items()) if entry == e.entry_id])
            for e in entries]}

    def _session(self, session_id: str) -> ScoringSession:
        return self._fold(session_id)(self._store.read_stream(stream_of(session_id)))

    def _fold(self, session_id: str):
        document = self._plans.get(SESSIONS, session_id)
        if document is None:
            raise NotFound(f"session {session_id} is not open for scoring")
        plan = SessionPlan.from_payload(document["plan"])
        return folding(lambda: ScoringSession(plan))

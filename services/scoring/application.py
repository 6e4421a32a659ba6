"""Scoring's service layer: the plans registration opened, judges' sheets, the lock, and what
each reader may see. No nameko here: service.py maps entrypoints onto these methods."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from decimal import Decimal
from typing import Any, Protocol

from leitai.access import allows, reaches, require, require_role_for
from leitai.application import execute, on_behalf
from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.domain import folding
from leitai.errors import Conflict, Forbidden, NotFound, RuleViolated
from leitai.eventstore import EventStore
from leitai.handlers import EventHandlers
from leitai.messages import N_
from leitai.roles import ORGANISER, has_role
from services.scoring.session import CORRECTION_REUSED, SUBMISSION_REUSED, ScoringSession, SessionPlan

SESSIONS = "sessions"
PUBLISHED = "published_stages"  # stages whose results are published: corrections are for those


class Plans(Protocol):
    """Where the opened sessions' plans are kept (a read model: see leitai.readmodel)."""

    def apply_once(self, collection: str, key: Any, event_id, update: dict) -> bool: ...

    def get(self, collection: str, key: Any) -> dict | None: ...

    def find(self, collection: str, query: dict | None = None) -> list[dict]: ...


def stream_of(session_id: str) -> str:
    return f"scoring-{session_id}"


def scored_wire(scored: dict) -> dict:
    """An EntryScored payload in JSON form (Decimals as strings)."""
    return REGISTRY.get("EntryScored").schema.dump(scored)


class Scoring:
    def __init__(self, store: EventStore, plans: Plans) -> None:
        self._store = store
        self._plans = plans

    def session_opened(self, event: Event) -> None:
        plan = event.to_wire(REGISTRY)["payload"]
        known = self._plans.get(SESSIONS, plan["session_id"])
        if known is not None and known["plan"]["contest_id"] != plan["contest_id"]:
            # session ids are the deployment's: two contests' sessions must never share a
            # scoring log. Refused, it is retried and then dead-lettered, where operators see it
            raise Conflict(
                "session {session_id} of contest {contest_id} has the id of a session of "
                "contest {other_contest_id}: not opened for scoring",
                session_id=plan["session_id"],
                contest_id=plan["contest_id"],
                other_contest_id=known["plan"]["contest_id"],
            )
        self._plans.apply_once(SESSIONS, plan["session_id"], event.event_id, {"$set": {"plan": plan}})

    def stage_published(self, event: Event) -> None:
        """A stage's result is published: corrections are open for it, and each of its sessions
        notes the publication in its stream (which an auditor's bundle then runs through)."""
        p = event.payload
        self._plans.apply_once(
            PUBLISHED,
            f"{p['contest_id']}:{p['stage_id']}",
            event.event_id,
            {"$set": {"contest_id": p["contest_id"], "stage_id": p["stage_id"]}},
        )
        self.stage_republished(event)

    def stage_republished(self, event: Event) -> None:
        note_publication(self._store, self._plans, event)

    # -- commands -------------------------------------------------------------------
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
        # the session narrows it: a judge seated on it, not standing aside
        plan = self._plan_for(actor, "submit_sheet", session_id)
        values = {k: Decimal(v) for k, v in scores.items()}

        def decide(session):
            sheet, decisions = session.submit(actor["id"], entry_id, submission_id, values, strengths, suggestions)
            return sheet.as_dict(), decisions  # an answer as the client sees it, which a retry may find stored

        # the submission id is the sheet's event id: used in another session (or for another of
        # the store's events) it is refused as a conflict, as a different sheet in this one is
        reused = Conflict(SUBMISSION_REUSED, {"submission_id": submission_id}, submission_id=submission_id)
        return execute(self._store, stream_of(session_id), _folding(plan), decide, reused=reused, **on_behalf(actor))

    def lock_session(self, actor: dict, session_id: str, override_reason: str | None = None) -> dict:
        # the session narrows it: an organiser, or its head judge
        plan = self._plan_for(actor, "lock_session", session_id)

        def decide(session: ScoringSession):
            decisions = session.lock(actor["id"], has_role(actor, ORGANISER), override_reason)
            return [d.payload for d in decisions if d.type == "EntryScored"], decisions

        results = execute(self._store, stream_of(session_id), _folding(plan), decide, **on_behalf(actor))
        return {"session_id": session_id, "locked": True, "results": [scored_wire(r) for r in results]}

    # -- corrections (复核) ------------------------------------------------------------
    def propose_correction(self, actor: dict, session_id: str, correction: dict) -> dict:
        plan = self._plan_for(actor, "propose_correction", session_id)
        if self._plans.get(PUBLISHED, f"{plan.contest_id}:{plan.stage_id}") is None:
            problems = {"stage_id": [N_("not published")]}
            raise RuleViolated(
                "stage {stage_id} is not published: until then a sheet is revised by its judge before the lock; "
                "a correction answers a published result",
                problems,
                stage_id=plan.stage_id,
            )
        scores = {k: Decimal(v) for k, v in correction["scores"].items()} if correction.get("scores") else None
        correction_id = correction.get("correction_id") or f"correction-{uuid.uuid4().hex[:12]}"

        def decide(session: ScoringSession):
            proposed, decisions = session.propose(
                actor["id"],
                actor["role"],
                correction_id,
                correction["kind"],
                correction["entry_id"],
                correction["judge_id"],
                scores,
                correction["reason"],
                correction.get("appeal_id"),
            )
            return _plain(proposed), decisions

        reused = Conflict(CORRECTION_REUSED, {"correction_id": correction_id}, correction_id=correction_id)
        return execute(self._store, stream_of(session_id), _folding(plan), decide, reused=reused, **on_behalf(actor))

    def decide_correction(self, actor: dict, session_id: str, correction_id: str, decision: dict) -> dict:
        """``decision``: approve (a second person: an organiser or a supervisor), reject (with a
        reason) or withdraw (the proposer)."""
        # the session narrows it: never the proposer approves; only they withdraw
        plan = self._plan_for(actor, "decide_correction", session_id)

        def decide(session: ScoringSession):
            action = decision["action"]
            if action == "approve":
                decided, decisions = session.approve(actor["id"], actor["role"], correction_id)
            elif action == "reject":
                decided, decisions = session.reject(
                    actor["id"], actor["role"], correction_id, decision.get("reason") or ""
                )
            else:
                decided, decisions = session.withdraw(actor["id"], actor["role"], correction_id)
            return _plain(decided), decisions

        return execute(self._store, stream_of(session_id), _folding(plan), decide, **on_behalf(actor))

    def corrections(self, actor: dict, session_id: str) -> list[dict]:
        plan = self._plan_for(actor, "see_corrections", session_id)
        return [_plain(c) for c in self._session(plan).corrections.values()]

    # -- queries --------------------------------------------------------------------
    def session_status(self, actor: dict, session_id: str) -> dict:
        """Sheets, flags and missing sheets: for organisers and the head judge in full; a
        seated judge sees their own sheets; nobody else sees anything before the lock."""
        # narrowed below: this session's judges only
        session = self._session(self._plan_for(actor, "see_session_scoring", session_id))
        judge = session.plan.panel.get(actor["id"])
        full = has_role(actor, ORGANISER) or (judge is not None and judge.head)
        if not full and judge is None:
            raise Forbidden("only organisers and this session's judges see its scoring")
        entries = sorted(session.plan.entries.values(), key=lambda e: e.order)
        return {
            "session_id": session_id,
            "locked": session.locked,
            "entries": [
                {
                    "entry_id": e.entry_id,
                    "order": e.order,
                    "name": e.name,
                    "sheets": [
                        s.as_dict()
                        for (entry, j), s in sorted(session.sheets.items())
                        if entry == e.entry_id and (full or j == actor["id"])
                    ],
                    "open_flags": session.open_flags(e.entry_id) if full else [],
                    "missing": session.missing(e.entry_id) if full else [],
                }
                for e in entries
            ],
        }

    def hall(self, actor: dict, session_id: str) -> dict:
        """现场亮分 for the hall's screen (and organisers): ScoringSession.hall, scores as strings."""
        view = self._session(self._plan_for(actor, "see_hall", session_id)).hall()
        return view | {
            "entries": [
                e
                | (
                    {
                        "stage_score": str(e["stage_score"]),
                        "seats": [s | {"total": str(s["total"])} for s in e["seats"]],
                    }
                    if e["complete"]
                    else {}
                )
                for e in view["entries"]
            ],
            "standings": [r | {"stage_score": str(r["stage_score"])} for r in view["standings"]],
        }

    def session_place(self, session_id: str) -> dict | None:
        """The session's contest and the office that owns it (the gateway's check of a grant),
        or None if it is not open for scoring."""
        document = self._plans.get(SESSIONS, session_id)
        return None if document is None else asdict(SessionPlan.from_payload(document["plan"]).place)

    def judge_desk(self, actor: dict) -> dict:
        """Every session the calling judge is seated on, as their tablet shows it (see
        ScoringSession.desk), with the stage's criteria and where and when it sits."""
        require(actor, "see_judge_desk", None)
        sessions, name = [], None
        for document in self._plans.find(SESSIONS, {"plan.panel.judge_id": actor["id"]}):
            plan = document["plan"]
            seated = SessionPlan.from_payload(plan)
            if not reaches(actor, seated.place):  # a judge of the same id in another contest
                continue
            desk = _folding(seated)(self._store.read_stream(stream_of(plan["session_id"])))
            name = seated.panel[actor["id"]].name  # as the organiser registered them
            sessions.append(
                desk.desk(actor["id"])
                | {
                    k: plan.get(k, "")
                    for k in (
                        "contest_id",
                        "stage_id",
                        "group_id",
                        "starts_at",
                        "place",
                        "video_room",
                        "criteria",
                        "tolerance",
                    )
                }
            )
        sessions.sort(key=lambda s: (s["locked"], s["starts_at"], s["session_id"]))
        return {"judge_id": actor["id"], "name": name, "sessions": sessions}

    def session_results(self, actor: dict, session_id: str) -> dict:
        """A locked session's scores, sheets and comments: public once its stage is published;
        before, for organisers and the session's head judge only (to everyone else it does not
        exist yet, as a result published later must not be guessed at)."""
        plan = self._plan(session_id)
        session = self._session(plan)
        published = self._plans.get(PUBLISHED, f"{plan.contest_id}:{plan.stage_id}") is not None
        # before publication: an organiser of the contest, or the session's head judge
        widened = allows(actor, "see_unpublished_scores", plan.place)
        judge = plan.panel.get(actor["id"]) if widened else None
        early = widened and (has_role(actor, ORGANISER) or (judge is not None and judge.head))
        if not session.locked or not (published or early):
            raise NotFound("session {session_id} has no published results yet", session_id=session_id)
        entries = sorted(session.plan.entries.values(), key=lambda e: e.order)
        return {
            "session_id": session_id,
            "results": [
                dict(
                    scored_wire(session.scored[e.entry_id]),
                    name=e.name,
                    order=e.order,
                    comments=[
                        {"judge_id": s.judge_id, "strengths": s.strengths, "suggestions": s.suggestions}
                        for (entry, _), s in sorted(session.sheets.items())
                        if entry == e.entry_id
                    ],
                )
                for e in entries
            ],
        }

    def _session(self, plan: SessionPlan) -> ScoringSession:
        return _folding(plan)(self._store.read_stream(stream_of(plan.session_id)))

    def _plan_for(self, actor: dict, action: str, session_id: str) -> SessionPlan:
        """The session's plan, once ``actor`` may do ``action`` on it: a role that never may is
        refused before the session is looked up, a grant for another contest after."""
        require_role_for(actor, action)
        plan = self._plan(session_id)
        require(actor, action, plan.place)
        return plan

    def _plan(self, session_id: str) -> SessionPlan:
        document = self._plans.get(SESSIONS, session_id)
        if document is None:
            raise NotFound("session {session_id} is not open for scoring", session_id=session_id)
        return SessionPlan.from_payload(document["plan"])


def note_publication(store: EventStore, plans: Plans, event: Event) -> None:
    """``event`` (a publication of a stage's result) noted in the stream of each session of the
    stage, once; also what `leitai audit note-publications` runs over earlier publications."""
    p = event.payload
    stage = {"plan.contest_id": p["contest_id"], "plan.stage_id": p["stage_id"]}
    for document in plans.find(SESSIONS, stage):
        plan = SessionPlan.from_payload(document["plan"])
        execute(
            store,
            stream_of(plan.session_id),
            _folding(plan),
            lambda session: (None, session.note_result(str(event.event_id), p.get("version", 1))),
            actor="ranking",
            correlation_id=event.correlation_id,
        )


def _folding(plan: SessionPlan):
    return folding(lambda: ScoringSession(plan))


def _plain(correction: dict) -> dict:
    """A correction as the client sees it: scores as strings."""
    scores = correction.get("scores")
    return dict(correction, scores={k: str(v) for k, v in scores.items()} if scores else None)


EVENT_HANDLERS: EventHandlers[Scoring] = EventHandlers(
    "scoring",
    {
        "SessionOpened": Scoring.session_opened,
        "StageResultsPublished": Scoring.stage_published,
        "StageResultsRepublished": Scoring.stage_republished,
    },
)

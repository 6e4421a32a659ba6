"""The ranking service: leaderboards projected from events, publication and advancement."""
from __future__ import annotations

from nameko.rpc import rpc

from leitai.arithmetic import publish
from leitai.contracts import Event, NewEvent
from leitai.contracts.product import REGISTRY, handler_name
from leitai.dependencies import EventStoreProvider, MongoProvider, ReadModelProvider, StoreHealth
from leitai.errors import Conflict, Forbidden, NotFound, RuleViolated
from leitai.eventstore import ConcurrencyConflict
from leitai.messaging.consumer import reliable_handler
from services.ranking import board
from services.ranking.projection import SOURCES, project

STAFF = ("organiser", "screen")


class _Projector(MongoProvider):
    """Applies events to the read model (see projection.py)."""

    def get_dependency(self, worker_ctx):
        return lambda event: project(self.db, event)


def _projecting(source: str, event_type: str):
    """A handler that hands the event to the projection (see projection.py)."""
    @reliable_handler(source, event_type, registry=REGISTRY)
    def handle(self, event: Event) -> None:
        self.project(event)

    handle.__name__ = handler_name(event_type)
    return handle


class RankingService(StoreHealth):
    name = "ranking"
    store = EventStoreProvider(REGISTRY)
    read = ReadModelProvider()
    project = _Projector()

    # -- publication ----------------------------------------------------------------
    @rpc
    def publish_stage(self, actor: dict, contest_id: str, stage_id: str) -> dict:
        if actor.get("role") != "organiser":
            raise Forbidden("only an organiser publishes results")
        stage = board.stage_doc(self.read, contest_id, stage_id)
        sessions = self.read.find("sessions", {"contest_id": contest_id, "stage_id": stage_id})
        open_sessions = sorted(s["session_id"] for s in sessions if not s.get("locked"))
        if not sessions or open_sessions:
            raise RuleViolated("every session of the stage must be locked first",
                               {"sessions_not_locked": open_sessions or ["(none scheduled)"]})
        scored = {r.entry_id for r in board.results_of(self.read, stage)}
        unscored = sorted(e["entry_id"] for s in sessions for e in s.get("entries", []) if e["entry_id"] not in scored)
        if unscored:
            raise RuleViolated("locked sessions are still being counted; try again in a moment",
                               {"entries_not_scored": unscored})
        rows = [board.standing_row(s) for s in board.table(self.read, stage)]
        following = board.next_stage_id(self.read, stage)
        positions = {d["_id"]: d["position"] for d in self.read.find("positions")}
        ref = {"contest_id": contest_id, "stage_id": stage_id}
        summary = dict(ref, next_stage_id=following, standings=rows, rule_sha256=board.rule_sha256(stage),
                       log_positions=positions)
        events = [NewEvent("StageResultsPublished", summary, actor=actor["id"], correlation_id=actor.get("request_id"))]
        for row in rows:
            kind = "ContestantAdvanced" if row["advanced"] and following else "ContestantEliminated"
            if row["advanced"] and not following:
                continue  # the last stage: nobody goes on, nobody is eliminated
            payload = dict(ref, entry_id=row["entry_id"], contestant_id=row["contestant_id"], rank=row["rank"],
                           stage_score=row["stage_score"])
            if kind == "ContestantAdvanced":
                payload["next_stage_id"] = following
            events.append(NewEvent(kind, payload, actor=actor["id"], correlation_id=actor.get("request_id")))
        try:
            self.store.append(f"results-{contest_id}-{stage_id}", 0, events)
        except ConcurrencyConflict:
            raise Conflict(f"results of stage {stage_id} are published already") from None
        return summary

    # -- queries --------------------------------------------------------------------
    @rpc
    def leaderboard(self, actor: dict, contest_id: str, stage_id: str, group_id: str | None = None,
                    criterion_id: str | None = None) -> dict:
        """Live standings for organisers and the venue screen; the published ones for everyone else."""
        stage = board.stage_doc(self.read, contest_id, stage_id)
        published = self.read.get("published", f"{contest_id}:{stage_id}")
        if actor.get("role") in STAFF:
            rows = [board.standing_row(s) for s in board.table(self.read, stage)]
        elif published is not None:
            rows = published["standings"]
        else:
            raise NotFound(f"results of stage {stage_id} are not published yet")
        if group_id:
            rows = [r for r in rows if r["group_id"] == group_id]
        if criterion_id:
            if criterion_id not in {c["criterion_id"] for c in stage["criteria"]}:
                raise NotFound(f"criterion {criterion_id} is not one of the stage's")
            means = {r.entry_id: r.criterion_means[criterion_id] for r in board.results_of(self.read, stage)}
            rows = sorted(rows, key=lambda r: (-means[r["entry_id"]], r["position"]))
            rows = [dict(r, criterion_mean=str(publish(means[r["entry_id"]]))) for r in rows]
        return {"contest_id": contest_id, "stage_id": stage_id, "name": stage["name"],
                "published": published is not None, "standings": rows}

    @rpc
    def stage_results(self, contest_id: str, stage_id: str) -> dict:
        published = self.read.get("published", f"{contest_id}:{stage_id}")
        if published is None:
            raise NotFound(f"results of stage {stage_id} are not published yet")
        return {k: published[k] for k in ("contest_id", "stage_id", "next_stage_id", "standings", "rule_sha256",
                                          "log_positions")}

    @rpc
    def entry_working(self, contest_id: str, stage_id: str, entry_id: str) -> dict:
        result = self.read.get("results", f"{contest_id}:{stage_id}:{entry_id}")
        if result is None:
            raise NotFound(f"entry {entry_id} has no locked score in stage {stage_id}")
        sheets = self.read.find("sheets", {"session_id": result["session_id"], "entry_id": entry_id},
                                sort=[("judge_id", 1)])
        return {k: result[k] for k in ("contest_id", "stage_id", "session_id", "entry_id", "recused", "dropped_high",
                                       "dropped_low", "counted_sum", "counted", "stage_score", "rounding")} | {
            "sheets": [{k: s[k] for k in ("judge_id", "revision", "scores", "total")} for s in sheets]}

    @rpc
    def export(self, contest_id: str, stage_id: str) -> dict:
        """Rows for a stage's export: standings (live) and every sheet, with names."""
        stage = board.stage_doc(self.read, contest_id, stage_id)
        entries = {e["entry_id"]: e for e in self.read.find("entries", {"contest_id": contest_id})}
        results = {r["entry_id"]: r for r in board.scored_results(self.read, stage)}
        sessions = {r["session_id"] for r in results.values()}
        sheets = [s for s in self.read.find("sheets", {"contest_id": contest_id}, sort=[("session_id", 1),
                                                                                        ("entry_id", 1),
                                                                                        ("judge_id", 1)])
                  if s["session_id"] in sessions]
        return {
            "stage": {k: stage[k] for k in ("stage_id", "name", "criteria")},
            "standings": [dict(board.standing_row(s), dropped_high=results[s.result.entry_id]["dropped_high"],
                               dropped_low=results[s.result.entry_id]["dropped_low"],
                               recused=results[s.result.entry_id]["recused"],
                               township=entries.get(s.result.entry_id, {}).get("township_code", ""))
                          for s in board.table(self.read, stage, list(results.values()))],
            "sheets": [dict(s, name=entries.get(s["entry_id"], {}).get("name", "")) for s in sheets],
        }

    @rpc
    def live(self, contest_id: str, stage_id: str) -> dict:
        """What the venue's big screen shows: standings, the entry locked last, sheets coming in."""
        stage = board.stage_doc(self.read, contest_id, stage_id)
        results = board.scored_results(self.read, stage)  # one read: the highlight is always in the table
        rows = [board.standing_row(s) for s in board.table(self.read, stage, results)]
        last = max(results, key=lambda r: r["position"], default=None)
        highlight = None
        if last is not None:
            totals = {s["judge_id"]: s["total"] for s in last["sheets"]}
            row = next(r for r in rows if r["entry_id"] == last["entry_id"])
            highlight = {"entry_id": last["entry_id"], "name": row["name"], "stage_score": last["stage_score"],
                         "rank": row["rank"], "dropped_high": [totals[j] for j in last["dropped_high"]],
                         "dropped_low": [totals[j] for j in last["dropped_low"]]}
        scoring = [s for s in self.read.find("sessions", {"contest_id": contest_id, "stage_id": stage_id,
                                                            "opened": True}) if not s.get("locked")]
        received = board.sheets_by_entry(self.read, {s["session_id"] for s in scoring})
        progress = [{"session_id": session["session_id"], "order": entry["order"], "name": entry["name"],
                     "received": len(received.get((session["session_id"], entry["entry_id"]), [])),
                     "expected": len(session.get("panel", []))}
                    for session in scoring for entry in sorted(session.get("entries", []), key=lambda e: e["order"])]
        return {"contest_id": contest_id, "stage_id": stage_id, "stage_name": stage["name"],
                "groups": {g["group_id"]: g["name"] for g in stage["groups"]},
                "standings": rows, "last_locked": highlight, "progress": progress}


# One projecting handler per event type ranking subscribes to, named as the published
# subscriptions say (on_entry_scored ...): nameko takes each queue's name from it.
for _source, _types in SOURCES.items():
    for _type in _types:
        setattr(RankingService, handler_name(_type), _projecting(_source, _type))

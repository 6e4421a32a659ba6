"""Ranking's service layer: the projection, publication, and the boards each reader may see,
over the read model the projection keeps; and its handler table. No nameko here: service.py maps
entrypoints onto these methods."""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import Decimal

from leitai.access import Place, allows, reaches, require
from leitai.application import execute, on_behalf
from leitai.arithmetic import rounded_mean
from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.domain import folding
from leitai.errors import Conflict, NotFound
from leitai.eventstore import EventStore
from leitai.handlers import EventHandlers
from leitai.readmodel import ReadModel
from leitai.roles import ORGANISER, has_role
from leitai.version import VERSION
from services.ranking import appeals, board, calibration, projection, publication


class Ranking:
    def __init__(self, store: EventStore, read: ReadModel) -> None:
        self._store = store
        self._read = read

    # -- the projection (its events: EVENT_HANDLERS below) ----------------------------
    def project(self, events: list[Event]) -> None:
        """``events`` applied to the read model, folded into one bulk write per collection
        (projection.py says why no event-id bookkeeping is needed)."""
        self._read.apply(write for event in events for write in projection.writes_of(event))

    def correction_approved(self, events: list[Event]) -> None:
        """EntryRescored: projected, then the stage is published again, once per correction."""
        self.project(events)
        for event in events:
            self.republish_after(event.to_wire(REGISTRY)["payload"])

    # -- publication ----------------------------------------------------------------
    def publish_stage(self, actor: dict, contest_id: str, stage_id: str) -> dict:
        require(actor, "publish_results", self._place(contest_id))

        def decide(published: _Publication) -> tuple[dict, list]:
            if published.version:
                raise Conflict("results of stage {stage_id} are published already", stage_id=stage_id)
            stage = board.stage_doc(self._read, contest_id, stage_id)
            sessions = self._read.find("sessions", {"contest_id": contest_id, "stage_id": stage_id})
            publication.check_publishable(sessions, {r.entry_id for r in board.results_of(self._read, stage)})
            rows, rule, positions, streams = self._basis(stage, sessions)
            return publication.publish(
                contest_id, stage_id, rows, board.next_stage_id(self._read, stage), rule, positions, streams, VERSION
            )

        return execute(
            self._store,
            publication.results_stream(contest_id, stage_id),
            folding(_Publication),
            decide,
            **on_behalf(actor),
        )

    def republish_after(self, rescored: dict) -> dict | None:
        """Publish the stage again after an approved correction (``rescored``: its EntryRescored
        payload, JSON form), once the read model holds the corrected sheet; once per correction."""
        contest_id, stage_id = rescored["contest_id"], rescored["stage_id"]
        key = f"{rescored['session_id']}:{rescored['entry_id']}:{rescored['judge_id']}"
        sheet, voided = self._read.get("sheets", key), self._read.get("voided", key)
        if rescored["correction_id"] not in ((sheet or {}).get("correction_id"), (voided or {}).get("correction_id")):
            raise NotYetProjected(f"the sheet correction {rescored['correction_id']} changed is not projected yet")
        stage = board.stage_doc(self._read, contest_id, stage_id)

        def decide(published: _Publication) -> tuple[dict | None, list]:
            if published.latest is None or rescored["correction_id"] in published.corrections:
                return None, []  # never published (nothing to correct), or published after it already
            sessions = self._read.find("sessions", {"contest_id": contest_id, "stage_id": stage_id})
            summary, decision = publication.republish(
                published.latest, published.latest["version"] + 1, *self._basis(stage, sessions), VERSION, rescored
            )
            return summary, [decision]

        return execute(
            self._store,
            publication.results_stream(contest_id, stage_id),
            folding(_Publication),
            decide,
            actor="ranking",
        )

    def _basis(self, stage: dict, sessions: list[dict]) -> tuple[list[dict], str, dict[str, int], dict]:
        """What a publication records of the read model as it stands: the standings' rows, the
        rule fingerprint, how far each source log was read and each source stream's head."""
        return (
            [board.standing_row(s) for s in board.table(self._read, stage)],
            board.rule_sha256(stage),
            {d["_id"]: d["position"] for d in self._read.find("positions")},
            board.source_streams(self._read, stage, [s["session_id"] for s in sessions]),
        )

    # -- queries --------------------------------------------------------------------
    def contests(self, actor: dict) -> list[dict]:
        """Every contest with its stages and how far each has got: sessions scheduled, open
        and locked, and the published version (organisers' console)."""
        require(actor, "list_contests", None)  # narrowed below: the contests the grant reaches
        stages: dict[str, list[dict]] = {}
        sessions: dict[str, list[dict]] = {}
        for session in self._read.find("sessions"):
            sessions.setdefault(f"{session['contest_id']}:{session['stage_id']}", []).append(session)
        published = {d["_id"]: d["version"] for d in self._read.find("published")}
        for stage in self._read.find("stages", sort=[("contest_id", 1), ("order", 1)]):
            key = f"{stage['contest_id']}:{stage['stage_id']}"
            mine = sessions.get(key, [])
            stages.setdefault(stage["contest_id"], []).append(
                {
                    "stage_id": stage["stage_id"],
                    "name": stage["name"],
                    "order": stage["order"],
                    "sessions": len(mine),
                    "opened": sum(1 for s in mine if s.get("opened")),
                    "locked": sum(1 for s in mine if s.get("locked")),
                    "published_version": published.get(key),
                }
            )
        return [
            {k: c[k] for k in ("contest_id", "name", "format")} | {"stages": stages.get(c["contest_id"], [])}
            for c in self._read.find("contests", sort=[("contest_id", 1)])
            if reaches(actor, Place(c["contest_id"], c["county_code"]))
        ]

    def leaderboard(
        self,
        actor: dict,
        contest_id: str,
        stage_id: str,
        group_id: str | None = None,
        criterion_id: str | None = None,
        as_of: str | None = None,
    ) -> dict:
        """Live standings for organisers and the venue screen; the published ones for everyone else.

        ``as_of`` (organisers and the screen): the live standings as they stood at a scoring
        log position, or at a moment (ISO 8601). Standings change only when an entry is
        scored, so they are those of the entries scored at positions up to it (or at moments
        up to it); ``as_of.position`` names the last of those, which is what a live board
        reports it reflects."""
        stage = board.stage_doc(self._read, contest_id, stage_id)
        published = self._read.get("published", f"{contest_id}:{stage_id}")
        scored = None
        if as_of is not None:
            require(actor, "see_live_standings", self._place(contest_id))
            scored = board.scored_results(self._read, stage, as_of)
        elif allows(actor, "see_live_standings", self._place(contest_id)):
            scored = board.scored_results(self._read, stage)
        if scored is not None:
            rows = [board.standing_row(s) for s in board.table(self._read, stage, scored)]
        elif published is not None:
            rows = published["standings"]
        else:
            raise NotFound("results of stage {stage_id} are not published yet", stage_id=stage_id)
        if group_id:
            rows = [r for r in rows if r["group_id"] == group_id]
        if criterion_id:
            if criterion_id not in {c["criterion_id"] for c in stage["criteria"]}:
                raise NotFound("criterion {criterion_id} is not one of the stage's", criterion_id=criterion_id)
            means = {r.entry_id: r.criterion_means[criterion_id] for r in board.results_of(self._read, stage, scored)}
            rows = sorted(rows, key=lambda r: (-means[r["entry_id"]], r["position"]))
            rows = [dict(r, criterion_mean=str(rounded_mean(means[r["entry_id"]]))) for r in rows]
        reflected = {"position": max((r["position"] for r in scored), default=0)} if scored is not None else {}
        return {
            "contest_id": contest_id,
            "stage_id": stage_id,
            "name": stage["name"],
            "published": published is not None,
            "standings": rows,
            **({"as_of": dict(reflected, requested=as_of)} if as_of is not None else {}),
            **({"reflects": reflected} if scored is not None else {}),
        }

    def stage_results(self, contest_id: str, stage_id: str, version: int | None = None) -> dict:
        """The latest published version of the stage's results, or ``version``."""
        if version is None:
            published = self._read.get("published", f"{contest_id}:{stage_id}")
        else:
            published = self._read.get("publications", f"{contest_id}:{stage_id}:{version}")
        if published is None:
            if version is None:
                raise NotFound("results of stage {stage_id} are not published yet", stage_id=stage_id)
            raise NotFound("stage {stage_id} has no published version {version}", stage_id=stage_id, version=version)
        return {
            k: published[k]
            for k in (
                "contest_id",
                "stage_id",
                "next_stage_id",
                "standings",
                "rule_sha256",
                "log_positions",
                "standings_sha256",
                "software_version",
                "streams",
                "event_position",
                "version",
            )
        } | {k: published[k] for k in ("replaces_sha256", "correction_id", "diff") if k in published}

    def entry_working(self, actor: dict, contest_id: str, stage_id: str, entry_id: str) -> dict:
        """An entry's sheets and how they make its score: public once the stage is published;
        before, for organisers and its session's head judge only."""
        stage = board.stage_doc(self._read, contest_id, stage_id)
        result = next((r for r in board.scored_results(self._read, stage) if r["entry_id"] == entry_id), None)
        if result is None or not self._sees_scores(actor, contest_id, stage_id, result["session_id"]):
            raise NotFound(
                "entry {entry_id} has no published score in stage {stage_id}", entry_id=entry_id, stage_id=stage_id
            )
        sheets = board.sheets_by_entry(self._read, {result["session_id"]}).get((result["session_id"], entry_id), [])
        sheets = sorted(sheets, key=lambda s: s["judge_id"])
        return {
            k: result[k]
            for k in (
                "contest_id",
                "stage_id",
                "session_id",
                "entry_id",
                "recused",
                "dropped_high",
                "dropped_low",
                "counted_sum",
                "counted",
                "stage_score",
                "rounding",
            )
        } | {"sheets": [{k: s[k] for k in ("judge_id", "revision", "scores", "total")} for s in sheets]}

    def _sees_scores(self, actor: dict, contest_id: str, stage_id: str, session_id: str) -> bool:
        if self._read.get("published", f"{contest_id}:{stage_id}") is not None:
            return True
        if not allows(actor, "see_unpublished_scores", self._place(contest_id)):  # only where the grant reaches
            return False
        if has_role(actor, ORGANISER):
            return True
        session = self._read.get("sessions", session_id) or {}
        return session.get("head") == actor["id"]

    def _place(self, contest_id: str) -> Place:
        """The contest a grant must reach, and the office that owns it (None: not known here)."""
        contest = self._read.get("contests", contest_id)
        return Place(contest_id, contest["county_code"] if contest else None)

    def export(self, contest_id: str, stage_id: str) -> dict:
        """Rows for a stage's export: standings (live) and every sheet, with names."""
        stage = board.stage_doc(self._read, contest_id, stage_id)
        entries = {e["entry_id"]: e for e in self._read.find("entries", {"contest_id": contest_id})}
        results = {r["entry_id"]: r for r in board.scored_results(self._read, stage)}
        sessions = {r["session_id"] for r in results.values()}
        sheets = sorted(
            (s for by_entry in board.sheets_by_entry(self._read, sessions).values() for s in by_entry),
            key=lambda s: (s["session_id"], s["entry_id"], s["judge_id"]),
        )
        return {
            "stage": {k: stage[k] for k in ("stage_id", "name", "criteria")},
            "standings": [
                dict(
                    board.standing_row(s),
                    dropped_high=results[s.result.entry_id]["dropped_high"],
                    dropped_low=results[s.result.entry_id]["dropped_low"],
                    recused=results[s.result.entry_id]["recused"],
                    township=entries.get(s.result.entry_id, {}).get("township_code", ""),
                )
                for s in board.table(self._read, stage, list(results.values()))
            ],
            "sheets": [dict(s, name=entries.get(s["entry_id"], {}).get("name", "")) for s in sheets],
        }

    # -- appeals ----------------------------------------------------------------------
    def file_appeal(self, actor: dict, contest_id: str, stage_id: str, appeal: dict) -> dict:
        require(actor, "file_appeal", self._place(contest_id))
        board.stage_doc(self._read, contest_id, stage_id)
        published = self._read.get("published", f"{contest_id}:{stage_id}")
        appeal_id = appeal.get("appeal_id") or f"appeal-{uuid.uuid4().hex[:12]}"
        return execute(
            self._store,
            appeals.appeals_stream(contest_id, stage_id),
            folding(appeals.Appeals),
            lambda state: appeals.file(
                state,
                published["standings"] if published else None,
                contest_id,
                stage_id,
                appeal_id,
                appeal["entry_id"],
                appeal["reason"],
                actor["id"],
            ),
            **on_behalf(actor),
        )

    def decide_appeal(self, actor: dict, contest_id: str, stage_id: str, appeal_id: str, decision: dict) -> dict:
        require(actor, "decide_appeal", self._place(contest_id))
        return execute(
            self._store,
            appeals.appeals_stream(contest_id, stage_id),
            folding(appeals.Appeals),
            lambda state: appeals.decide(state, appeal_id, decision["decision"], decision["reason"], actor["id"]),
            **on_behalf(actor),
        )

    def appeals(self, actor: dict, contest_id: str, stage_id: str) -> list[dict]:
        require(actor, "see_appeals", self._place(contest_id))
        board.stage_doc(self._read, contest_id, stage_id)
        state = folding(appeals.Appeals)(self._store.read_stream(appeals.appeals_stream(contest_id, stage_id)))
        return list(state.appeals.values())

    def calibration(self, actor: dict, contest_id: str, stage_id: str) -> dict:
        """How each judge scored against the panel, over the stage's locked entries (organisers)."""
        require(actor, "see_calibration", self._place(contest_id))
        stage = board.stage_doc(self._read, contest_id, stage_id)
        results = board.scored_results(self._read, stage)
        sessions = self._read.find("sessions", {"contest_id": contest_id, "stage_id": stage_id, "opened": True})
        flags = Counter(
            (flag["session_id"], flag["judge_id"])
            for flag in self._read.find(
                "flags", {"contest_id": contest_id, "session_id": {"$in": sorted(s["session_id"] for s in sessions)}}
            )
        )
        entries = [
            calibration.ScoredEntry(
                r["session_id"],
                r["entry_id"],
                {s["judge_id"]: Decimal(s["total"]) for s in r["sheets"]},
                Decimal(r["stage_score"]),
                frozenset(r["dropped_high"]),
                frozenset(r["dropped_low"]),
            )
            for r in sorted(results, key=lambda r: (r["session_id"], r["entry_id"]))
        ]
        panels = {s["session_id"]: s["panel"] for s in sessions if s.get("locked")}
        return {
            "contest_id": contest_id,
            "stage_id": stage_id,
            "name": stage["name"],
            "published": self._read.get("published", f"{contest_id}:{stage_id}") is not None,
            **calibration.report(entries, panels, flags),
        }

    def live(self, contest_id: str, stage_id: str) -> dict:
        """What the venue's big screen shows: standings, the entry locked last, sheets coming in."""
        stage = board.stage_doc(self._read, contest_id, stage_id)
        results = board.scored_results(self._read, stage)  # one read: the highlight is always in the table
        rows = [board.standing_row(s) for s in board.table(self._read, stage, results)]
        last = max(results, key=lambda r: r["position"], default=None)
        highlight = None
        if last is not None:
            totals = {s["judge_id"]: s["total"] for s in last["sheets"]}
            row = next(r for r in rows if r["entry_id"] == last["entry_id"])
            highlight = {
                "entry_id": last["entry_id"],
                "name": row["name"],
                "stage_score": last["stage_score"],
                "rank": row["rank"],
                "dropped_high": [totals[j] for j in last["dropped_high"]],
                "dropped_low": [totals[j] for j in last["dropped_low"]],
            }
        scoring = [
            s
            for s in self._read.find("sessions", {"contest_id": contest_id, "stage_id": stage_id, "opened": True})
            if not s.get("locked")
        ]
        received = board.sheets_by_entry(self._read, {s["session_id"] for s in scoring})
        progress = [
            {
                "session_id": session["session_id"],
                "order": entry["order"],
                "name": entry["name"],
                "received": len(received.get((session["session_id"], entry["entry_id"]), [])),
                "expected": len(session.get("panel", [])),
            }
            for session in scoring
            for entry in sorted(session.get("entries", []), key=lambda e: e["order"])
        ]
        return {
            "contest_id": contest_id,
            "stage_id": stage_id,
            "stage_name": stage["name"],
            "groups": {g["group_id"]: g["name"] for g in stage["groups"]},
            # published: the screen says so (the standings are the live ones either way)
            "published": self._read.get("published", f"{contest_id}:{stage_id}") is not None,
            "standings": rows,
            "last_locked": highlight,
            "progress": progress,
        }


class NotYetProjected(Exception):
    """An event refers to what the read model has not caught up with yet (events arrive on
    parallel queues): the handler fails, and its retry finds it."""


class _Publication:
    """A stage's publication stream: whether it has begun, and its latest version."""

    def __init__(self) -> None:
        self.version = 0  # of the stream
        self.latest: dict | None = None  # the latest publication's payload
        self.corrections: set[str] = set()  # those a version was published after

    def apply(self, event) -> None:
        self.version = event.stream_version
        if event.type in publication.PUBLICATIONS:
            self.latest = dict(event.payload, version=event.payload.get("version", 1))
            if event.type == "StageResultsRepublished":
                self.corrections.add(event.payload["correction_id"])


# Every event the read model is built from is projected in batches; an approved correction
# also publishes its stage again.
EVENT_HANDLERS: EventHandlers[Ranking] = EventHandlers(
    "ranking",
    {
        **dict.fromkeys(
            (
                "ContestCreated",
                "StageDefined",
                "EntrySubmitted",
                "SessionScheduled",
                "SessionOpened",
                "ScoreSheetSubmitted",
                "ScoreSheetRevised",
                "ToleranceFlagRaised",
                "EntryScored",
                "SessionLocked",
                "ScoreSheetCorrected",
                "ScoreSheetVoided",
                "StageResultsPublished",
                "StageResultsRepublished",
            ),
            Ranking.project,
        ),
        "EntryRescored": Ranking.correction_approved,
    },
    batch=True,
)

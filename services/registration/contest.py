"""A contest (比武) and everything registered for it, as one event-sourced aggregate.

One stream per contest keeps every registration command consistent with the rest: one
entry per contestant, withdrawals before the session, lots drawn over exactly the entries
that are in, a panel seated from the contest's judges.

Pure domain code: no I/O, no clock, no randomness (a fresh seed comes in as an argument).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from leitai.domain import Decision, DomainEvent
from leitai.errors import Conflict, DomainError, NotFound, RuleViolated
from leitai.lots import draw_order
from leitai.messages import N_, Text, text
from services.registration.regions import Region

SESSIONS = uuid.UUID("0b6f3a52-4f0e-4b8e-9a7c-5d2e8f1c3a94")  # the namespace of SessionScheduled event ids
SESSION_ID_TAKEN = N_("session id {session_id} is taken by another contest; choose another")


def _township_problem(code: str | None, tree: dict[str, Region]) -> Text | None:
    """Why a judge's township (for recusal) cannot be ``code``, or None."""
    if code and (code not in tree or tree[code].level != "township"):
        return text("{township} is not a township of the region tree", township=code)
    return None


def session_event_id(session_id: str) -> str:
    """The event id of session ``session_id``'s scheduling: one per deployment."""
    return str(uuid.uuid5(SESSIONS, session_id))


@dataclass
class Contest:
    contest_id: str
    version: int = 0
    info: dict[str, Any] | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    judges: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # advancement changes after corrections, by change_id
    recorded: set[str] = field(default_factory=set)  # the publications recorded, by event id

    # -- folding -------------------------------------------------------------------
    def apply(self, event: DomainEvent) -> None:
        p = dict(event.payload)
        kind = event.type
        if kind == "ContestCreated":
            self.info = p
        elif kind == "StageDefined":
            self.stages[p["stage_id"]] = p
        elif kind == "JudgeRegistered":
            self.judges[p["judge_id"]] = p
        elif kind == "EntrySubmitted":
            self.entries[p["entry_id"]] = dict(p, withdrawn=False)
        elif kind == "EntryWithdrawn":
            self.entries[p["entry_id"]]["withdrawn"] = True
        elif kind == "EntryAdvanced":
            self.entries[p["entry_id"]].update(stage_id=p["to_stage_id"], revoked_from=None)
        elif kind == "EntryAdvancementRevoked":
            self.entries[p["entry_id"]].update(stage_id=p["to_stage_id"], revoked_from=p["from_stage_id"])
        elif kind == "AdvancementChangeFollowed":
            self.changes[p["change_id"]] = dict(p, status="followed")
        elif kind == "AdvancementChangeReferred":
            self.changes[p["change_id"]] = dict(p, status="referred")
        elif kind == "AdvancementChangeDecided":
            self.changes[p["change_id"]].update(
                status="decided", decision={k: p[k] for k in ("action", "reason", "decided_by")}
            )
        elif kind == "StageResultsRecorded":
            self.recorded.add(p["publication_event_id"])
        elif kind == "SessionScheduled":
            self.sessions[p["session_id"]] = dict(p, seats=[], seed=None, order=[], opened=False)
        elif kind == "PanelSeated":
            self.sessions[p["session_id"]]["seats"] = p["seats"]
        elif kind == "OrderDrawn":
            self.sessions[p["session_id"]].update(seed=p["seed"], order=p["order"])
        elif kind == "SessionOpened":
            self.sessions[p["session_id"]]["opened"] = True
        elif kind == "ForumSeriesCreated":
            self.series[p["series_id"]] = p
        elif kind == "ForumMeetingScheduled":
            self.meetings[p["meeting_id"]] = dict(p, held=None)
        elif kind == "ForumMeetingHeld":
            self.meetings[p["meeting_id"]]["held"] = p
        self.version = event.stream_version

    # -- helpers ---------------------------------------------------------------------
    def require_info(self) -> dict[str, Any]:
        if self.info is None:
            raise NotFound("contest {contest_id} does not exist", contest_id=self.contest_id)
        return self.info

    def _session(self, session_id: str) -> dict[str, Any]:
        self.require_info()
        if session_id not in self.sessions:
            raise NotFound(
                "session {session_id} does not exist in contest {contest_id}",
                session_id=session_id,
                contest_id=self.contest_id,
            )
        return self.sessions[session_id]

    def _unopened(self, session_id: str) -> dict[str, Any]:
        session = self._session(session_id)
        if session["opened"]:
            raise Conflict("session {session_id} is already open for scoring", session_id=session_id)
        return session

    def first_stage(self) -> dict[str, Any] | None:
        return min(self.stages.values(), key=lambda s: s["order"], default=None)

    def group_of(self, stage: dict[str, Any], township: str | None) -> dict[str, Any] | None:
        return next((g for g in stage["groups"] if township in g["townships"]), None)

    def session_entries(self, session: dict[str, Any]) -> list[dict[str, Any]]:
        group = self._group(session)
        return sorted(
            (
                e
                for e in self.entries.values()
                if not e["withdrawn"]
                and e["stage_id"] == session["stage_id"]
                and e["township_code"] in group["townships"]
            ),
            key=lambda e: e["entry_id"],
        )

    def ref(self, **fields: Any) -> dict[str, Any]:
        return {"contest_id": self.contest_id, **fields}

    # -- commands ----------------------------------------------------------------------
    def create(
        self,
        name: str,
        tree_id: str,
        county_code: str,
        format: str,
        description: str,
        tree: dict[str, Region],
        organiser: dict[str, Any] | None = None,
    ) -> list[Decision]:
        """``organiser``: the organising office's contact (name, e-mail, phone), for its notices."""
        if self.info is not None:
            raise Conflict("contest {contest_id} exists already", contest_id=self.contest_id)
        county = tree.get(county_code)
        if county is None or county.level != "county":
            raise RuleViolated(
                "{county_code} is not a county/city of region tree {tree_id}", county_code=county_code, tree_id=tree_id
            )
        return [
            Decision(
                "ContestCreated",
                self.ref(
                    name=name,
                    tree_id=tree_id,
                    county_code=county_code,
                    format=format,
                    description=description,
                    organiser=organiser,
                ),
            )
        ]

    def define_stage(self, stage: dict[str, Any], tree: dict[str, Region], fresh_seed: str) -> list[Decision]:
        """``fresh_seed`` becomes the stage's lot seed unless the organiser gave one."""
        info = self.require_info()
        if stage["stage_id"] in self.stages:
            raise Conflict(
                "stage {stage} ({stage_id}) is defined already", stage=stage["name"], stage_id=stage["stage_id"]
            )
        if any(s["order"] == stage["order"] for s in self.stages.values()):
            raise Conflict("a stage with order {order} is defined already", order=stage["order"])
        seen: set[str] = set()
        for group in stage["groups"]:
            for code in group["townships"]:
                region = tree.get(code)
                if region is None or region.level != "township" or region.parent != info["county_code"]:
                    raise RuleViolated(
                        "{township} is not a township of {county_code}", township=code, county_code=info["county_code"]
                    )
                if code in seen:
                    raise RuleViolated("township {township} is in two groups", township=code)
                seen.add(code)
        ids = [c["criterion_id"] for c in stage["criteria"]]
        if len(set(ids)) != len(ids):
            raise RuleViolated("criterion ids must differ")
        if len({g["group_id"] for g in stage["groups"]}) != len(stage["groups"]):
            raise RuleViolated("group ids must differ")
        return [Decision("StageDefined", self.ref(**dict(stage, lot_seed=stage.get("lot_seed") or fresh_seed)))]

    def register_judge(self, judge: dict[str, Any], tree: dict[str, Region]) -> list[Decision]:
        self.require_info()
        for _, refusal, said in self._judge_problems([judge], tree):
            raise refusal(said["msgid"], None, said["params"])  # the first: one judge, one answer
        return [Decision("JudgeRegistered", self.ref(**judge))]

    def submit_entries(self, entries: list[dict[str, Any]], tree: dict[str, Region]) -> list[Decision]:
        stage = self._entry_stage()
        for _, refusal, said in self._entry_problems(entries, stage, tree):
            raise refusal(said["msgid"], None, said["params"])  # the first: the call is all or none
        return [self._entry_submitted(entry, stage, tree) for entry in entries]

    def register_roster(
        self, judges: list[dict[str, Any]], entries: list[dict[str, Any]], tree: dict[str, Region]
    ) -> list[Decision]:
        """Judges and entries from one sheet, all or nothing: every problem of every row is
        found (not only the first), so that an organiser fixes the sheet once; nothing is
        registered while any is left."""
        self.require_info()
        stage = self._entry_stage() if entries else None
        problems: dict[str, dict[str, list[Text]]] = {"judges": {}, "entries": {}}
        for n, _, said in self._judge_problems(judges, tree):
            problems["judges"].setdefault(str(n), []).append(said)
        for n, _, said in self._entry_problems(entries, stage, tree):
            problems["entries"].setdefault(str(n), []).append(said)
        contestants = {e["contestant_id"] for e in self.entries.values()} | {e["contestant_id"] for e in entries}
        for n, judge in enumerate(judges):
            for contestant in judge.get("conflicts", []):
                if contestant not in contestants:
                    unknown = text("contestant {contestant_id} has no entry in this contest", contestant_id=contestant)
                    problems["judges"].setdefault(str(n), []).append(unknown)
        found = {part: rows for part, rows in problems.items() if rows}
        if found:
            rows = sum(len(r) for r in found.values())
            raise RuleViolated("{rows} rows have problems; nothing was registered", found, rows=rows)
        return [Decision("JudgeRegistered", self.ref(**judge)) for judge in judges] + [
            self._entry_submitted(entry, stage, tree) for entry in entries
        ]

    def _judge_problems(
        self, judges: list[dict[str, Any]], tree: dict[str, Region]
    ) -> Iterator[tuple[int, type[DomainError], Text]]:
        """Each problem of ``judges`` in turn: the judge's index, the refusal's class, its message."""
        ids = set(self.judges)
        for n, judge in enumerate(judges):
            if judge["judge_id"] in ids:
                yield (
                    n,
                    Conflict,
                    text(
                        "judge {judge} ({judge_id}) is registered already",
                        judge=judge["name"],
                        judge_id=judge["judge_id"],
                    ),
                )
            ids.add(judge["judge_id"])
            if township := _township_problem(judge.get("township_code"), tree):
                yield n, RuleViolated, township

    def _entry_problems(
        self, entries: list[dict[str, Any]], stage: dict[str, Any] | None, tree: dict[str, Region]
    ) -> Iterator[tuple[int, type[DomainError], Text]]:
        """Each problem of ``entries`` in turn, as ``_judge_problems``; an entry earlier in the
        list counts as registered for those after it."""
        ids, contestants = set(self.entries), {e["contestant_id"] for e in self.entries.values()}
        for n, entry in enumerate(entries):
            if entry["entry_id"] in ids:
                yield n, Conflict, text("entry {entry_id} exists already", entry_id=entry["entry_id"])
            if entry["contestant_id"] in contestants:
                yield (
                    n,
                    Conflict,
                    text(
                        "contestant {contestant_id} has an entry in this contest already",
                        contestant_id=entry["contestant_id"],
                    ),
                )
            ids.add(entry["entry_id"])
            contestants.add(entry["contestant_id"])
            if village := self._village_problem(entry["village_code"], stage, tree):
                yield n, RuleViolated, village

    def _entry_stage(self) -> dict[str, Any]:
        """The stage entries are registered in: the contest's first."""
        self.require_info()
        stage = self.first_stage()
        if stage is None:
            raise RuleViolated("define the first stage before registering entries")
        return stage

    def _village_problem(self, code: str, stage: dict[str, Any] | None, tree: dict[str, Region]) -> Text | None:
        village = tree.get(code)
        if village is None or village.level != "village":
            return text("{village_code} is not a village/community of the region tree", village_code=code)
        if stage is not None and self.group_of(stage, village.parent) is None:
            return text(
                "township {township} takes no part in stage {stage} ({stage_id})",
                township=village.parent,
                stage=stage["name"],
                stage_id=stage["stage_id"],
            )
        return None

    def _entry_submitted(self, entry: dict[str, Any], stage: Any, tree: dict[str, Region]) -> Decision:
        township = tree[entry["village_code"]].parent
        return Decision("EntrySubmitted", self.ref(**entry, township_code=township, stage_id=stage["stage_id"]))

    def advance(self, entry_id: str, from_stage_id: str, to_stage_id: str) -> list[Decision]:
        """Ranking published the entry as advanced; redelivery finds it moved already."""
        entry = self.entries.get(entry_id)
        if entry is None:
            raise NotFound("entry {entry_id} does not exist", entry_id=entry_id)
        if to_stage_id not in self.stages:
            raise NotFound("stage {stage_id} does not exist", stage_id=to_stage_id)
        if entry["stage_id"] != from_stage_id or entry.get("revoked_from") == to_stage_id:
            return []  # moved already, or a correction took this advancement away since
        return [
            Decision("EntryAdvanced", self.ref(entry_id=entry_id, from_stage_id=from_stage_id, to_stage_id=to_stage_id))
        ]

    def record_result(self, publication_event_id: str, published: dict[str, Any]) -> list[Decision]:
        """Ranking published a version of a stage's result (``published``: its payload, JSON
        form): recorded once, however often told."""
        if publication_event_id in self.recorded:
            return []
        return [
            Decision(
                "StageResultsRecorded",
                self.ref(
                    stage_id=published["stage_id"],
                    version=published.get("version", 1),
                    publication_event_id=publication_event_id,
                    standings_sha256=published["standings_sha256"],
                    advanced=[row["entry_id"] for row in published["standings"] if row["advanced"]],
                    correction_id=published.get("correction_id"),
                ),
            )
        ]

    # -- advancement changed by a correction ----------------------------------------------
    def follow_republication(self, republished: dict[str, Any]) -> list[Decision]:
        """Ranking published a stage again after a correction (``republished``: the
        StageResultsRepublished payload, JSON form). If it changed who advances, the entries
        follow while the next stage has not started (no session of it open); once it has,
        nothing moves and the change is referred to an organiser. Once per correction."""
        change_id, next_stage_id = republished["correction_id"], republished.get("next_stage_id")
        if not next_stage_id or change_id in self.changes:
            return []
        diff = republished["diff"]
        gained = [_who(d) for d in diff if d["after"]["advanced"] and not d["before"]["advanced"]]
        lost = [_who(d) for d in diff if d["before"]["advanced"] and not d["after"]["advanced"]]
        if not gained and not lost:
            return []
        change = self.ref(
            change_id=change_id,
            stage_id=republished["stage_id"],
            next_stage_id=next_stage_id,
            version=republished["version"],
            gained=gained,
            lost=lost,
        )
        opened = sorted(
            s["session_id"] for s in self.sessions.values() if s["stage_id"] == next_stage_id and s["opened"]
        )
        if opened:
            return [Decision("AdvancementChangeReferred", dict(change, opened_sessions=opened))]
        moved = {e["entry_id"] for e in gained + lost}
        redraw = sorted(
            s["session_id"]
            for s in self.sessions.values()
            if s["stage_id"] == next_stage_id
            and s["seed"]
            and any(self.entries[e]["township_code"] in self._group(s)["townships"] for e in moved)
        )
        return [Decision("AdvancementChangeFollowed", dict(change, redraw=redraw)), *self._moves(change, gained, lost)]

    def decide_change(self, change_id: str, action: str, reason: str, decided_by: str) -> list[Decision]:
        """An organiser's decision on a change referred because the next stage had started:
        ``follow``, ``admit`` or ``keep`` (see AdvancementChangeDecided). Whoever must move
        must not be presenting in an open session. The same decision again changes nothing."""
        self.require_info()
        change = self.changes.get(change_id)
        if change is None:
            raise NotFound(
                "no advancement change {change_id} in contest {contest_id}",
                change_id=change_id,
                contest_id=self.contest_id,
            )
        if change["status"] == "followed":
            raise Conflict(
                "advancement change {change_id} was followed when the stage was published again; "
                "there is nothing to decide",
                change_id=change_id,
            )
        if change["status"] == "decided":
            if change["decision"]["action"] == action:
                return []
            raise Conflict(
                "advancement change {change_id} was decided already: {action}",
                change_id=change_id,
                action=change["decision"]["action"],
            )
        joining = change["gained"] if action in ("follow", "admit") else []
        leaving = change["lost"] if action == "follow" else []
        next_stage = self.stages[change["next_stage_id"]]
        for who in joining:
            entry = self.entries[who["entry_id"]]
            group = self.group_of(next_stage, entry["township_code"])
            opened = sorted(
                s["session_id"]
                for s in self.sessions.values()
                if s["stage_id"] == next_stage["stage_id"]
                and group
                and s["group_id"] == group["group_id"]
                and s["opened"]
            )
            if group is None or opened:
                named = {"contestant": who["name"], "stage": next_stage["name"], "stage_id": next_stage["stage_id"]}
                if opened:
                    raise RuleViolated(
                        "{contestant} cannot join stage {stage} ({stage_id}) now: "
                        "session {session_id} of the group is open already",
                        {"entry_id": who["entry_id"]},
                        session_id=opened[0],
                        **named,
                    )
                raise RuleViolated(
                    "{contestant} cannot join stage {stage} ({stage_id}) now: "
                    "the stage has no group for the entry's township",
                    {"entry_id": who["entry_id"]},
                    named,
                )
        for who in leaving:
            presenting = sorted(
                s["session_id"] for s in self.sessions.values() if s["opened"] and who["entry_id"] in s["order"]
            )
            if presenting:
                raise RuleViolated(
                    "{contestant} presents in session {session_id}, which is open; admit or keep instead",
                    {"entry_id": who["entry_id"]},
                    contestant=who["name"],
                    session_id=presenting[0],
                )
        return [
            Decision(
                "AdvancementChangeDecided",
                self._change_record(change, action=action, reason=reason, decided_by=decided_by),
            ),
            *self._moves(change, joining, leaving),
        ]

    def decided(self, change_id: str) -> dict[str, Any]:
        """A decided change as its AdvancementChangeDecided recorded it."""
        change = self.changes[change_id]
        return self._change_record(change, **change["decision"])

    def _change_record(self, change: dict[str, Any], **decision: str) -> dict[str, Any]:
        return self.ref(
            **{k: change[k] for k in ("change_id", "stage_id", "next_stage_id", "version", "gained", "lost")},
            **decision,
        )

    def _moves(
        self, change: dict[str, Any], joining: list[dict[str, Any]], leaving: list[dict[str, Any]]
    ) -> list[Decision]:
        """The entries that join the next stage and those that go back, if not there already."""
        stage_id, next_stage_id = change["stage_id"], change["next_stage_id"]
        moves = [
            Decision(
                "EntryAdvanced",
                self.ref(
                    entry_id=w["entry_id"],
                    from_stage_id=stage_id,
                    to_stage_id=next_stage_id,
                    change_id=change["change_id"],
                ),
            )
            for w in joining
            if self.entries[w["entry_id"]]["stage_id"] == stage_id
        ]
        return moves + [
            Decision(
                "EntryAdvancementRevoked",
                self.ref(
                    entry_id=w["entry_id"],
                    from_stage_id=next_stage_id,
                    to_stage_id=stage_id,
                    change_id=change["change_id"],
                ),
            )
            for w in leaving
            if self.entries[w["entry_id"]]["stage_id"] == next_stage_id
        ]

    def _group(self, session: dict[str, Any]) -> dict[str, Any]:
        return next(g for g in self.stages[session["stage_id"]]["groups"] if g["group_id"] == session["group_id"])

    def withdraw(self, entry_id: str, reason: str) -> list[Decision]:
        self.require_info()
        entry = self.entries.get(entry_id)
        if entry is None:
            raise NotFound("entry {entry_id} does not exist", entry_id=entry_id)
        if entry["withdrawn"]:
            raise Conflict("entry {entry_id} is withdrawn already", entry_id=entry_id)
        for session in self.sessions.values():
            if session["opened"] and entry_id in session["order"]:
                raise Conflict(
                    "entry {entry_id} presents in session {session_id}, which is open",
                    entry_id=entry_id,
                    session_id=session["session_id"],
                )
        return [Decision("EntryWithdrawn", self.ref(entry_id=entry_id, reason=reason))]

    def schedule(self, session: dict[str, Any]) -> list[Decision]:
        self.require_info()
        if session["session_id"] in self.sessions:
            raise Conflict("session {session_id} exists already", session_id=session["session_id"])
        stage = self.stages.get(session["stage_id"])
        if stage is None:
            raise NotFound("stage {stage_id} does not exist", stage_id=session["stage_id"])
        if session["group_id"] not in {g["group_id"] for g in stage["groups"]}:
            raise NotFound(
                "group {group_id} is not in stage {stage_id}",
                group_id=session["group_id"],
                stage_id=session["stage_id"],
            )
        # its event id follows from the session id: the store's unique event ids then refuse
        # the same session id in another contest (scoring, ranking and notify know a session
        # by its id alone, and its routes name no contest)
        return [Decision("SessionScheduled", self.ref(**session), event_id=session_event_id(session["session_id"]))]

    def seat(self, session_id: str, seats: list[dict[str, Any]]) -> list[Decision]:
        session = self._unopened(session_id)
        stage = self.stages[session["stage_id"]]
        unknown = [s["judge_id"] for s in seats if s["judge_id"] not in self.judges]
        if unknown:
            raise NotFound("judges not registered: {judge_ids}", judge_ids=", ".join(unknown))
        if len({s["judge_id"] for s in seats}) != len(seats):
            raise RuleViolated("a judge is seated twice")
        regular = [s for s in seats if not s["reserve"]]
        if len(regular) != stage["panel_size"]:
            raise RuleViolated(
                "stage {stage} ({stage_id}) seats {panel_size} judges, not {seated}",
                stage=stage["name"],
                stage_id=stage["stage_id"],
                panel_size=stage["panel_size"],
                seated=len(regular),
            )
        if sum(1 for s in regular if s["head"]) != 1 or any(s["head"] for s in seats if s["reserve"]):
            raise RuleViolated("exactly one seated (non-reserve) judge is the head judge")
        return [Decision("PanelSeated", self.ref(session_id=session_id, seats=seats))]

    def draw(self, session_id: str, seed: str | None, fresh_seed: str) -> list[Decision]:
        """Draw with ``seed`` if the organiser gave one, else with ``fresh_seed``."""
        session = self._unopened(session_id)
        entries = [e["entry_id"] for e in self.session_entries(session)]
        if not entries:
            raise RuleViolated("session {session_id} has no entries to draw", session_id=session_id)
        seed = seed or fresh_seed
        return [Decision("OrderDrawn", self.ref(session_id=session_id, seed=seed, order=draw_order(seed, entries)))]

    def open(self, session_id: str) -> list[Decision]:
        session = self._unopened(session_id)
        if not session["seats"]:
            raise RuleViolated("seat the panel of session {session_id} before opening it", session_id=session_id)
        if not session["seed"]:
            raise RuleViolated("draw the order of session {session_id} before opening it", session_id=session_id)
        current = {e["entry_id"] for e in self.session_entries(session)}
        if set(session["order"]) != current:
            raise RuleViolated("entries changed since the draw; draw again")
        stage = self.stages[session["stage_id"]]
        panel = [
            dict(
                judge_id=s["judge_id"],
                head=s["head"],
                reserve=s["reserve"],
                **{k: self.judges[s["judge_id"]][k] for k in ("name", "township_code", "work_unit", "conflicts")},
            )
            for s in session["seats"]
        ]
        entries = [
            {
                "entry_id": e,
                "order": n,
                **{k: self.entries[e][k] for k in ("contestant_id", "name", "township_code", "work_unit")},
            }
            for n, e in enumerate(session["order"], start=1)
        ]
        return [
            Decision(
                "SessionOpened",
                self.ref(
                    session_id=session_id,
                    stage_id=stage["stage_id"],
                    group_id=session["group_id"],
                    county_code=self.require_info()["county_code"],
                    starts_at=session["starts_at"],
                    place=session.get("place", ""),
                    video_room=session.get("video_room", ""),
                    criteria=stage["criteria"],
                    drop_rule=stage["drop_rule"],
                    tolerance=stage["tolerance"],
                    panel=panel,
                    entries=entries,
                ),
            )
        ]

    def create_series(self, series: dict[str, Any]) -> list[Decision]:
        self.require_info()
        if series["series_id"] in self.series:
            raise Conflict("forum series {series_id} exists already", series_id=series["series_id"])
        return [Decision("ForumSeriesCreated", self.ref(**series))]

    def schedule_meeting(self, meeting: dict[str, Any]) -> list[Decision]:
        self.require_info()
        series = self.series.get(meeting["series_id"])
        if series is None:
            raise NotFound("forum series {series_id} does not exist", series_id=meeting["series_id"])
        if meeting["meeting_id"] in self.meetings:
            raise Conflict("meeting {meeting_id} exists already", meeting_id=meeting["meeting_id"])
        if meeting["theme"] not in series["themes"]:
            raise RuleViolated('theme "{theme}" is not one of the series\' themes', theme=meeting["theme"])
        return [Decision("ForumMeetingScheduled", self.ref(**meeting))]

    def hold_meeting(self, record: dict[str, Any], tree: dict[str, Region]) -> list[Decision]:
        """Record a meeting that took place: the scheduled presenters' presentations, who
        attended, and the comments of the meeting's evaluators on the presenters."""
        self.require_info()
        meeting = self.meetings.get(record["meeting_id"])
        if meeting is None:
            raise NotFound("meeting {meeting_id} does not exist", meeting_id=record["meeting_id"])
        if meeting["held"] is not None:
            raise Conflict("meeting {meeting_id} is recorded already", meeting_id=record["meeting_id"])
        presented = [p["contestant_id"] for p in record["presentations"]]
        if len(set(presented)) != len(presented) or set(presented) != set(meeting["presenters"]):
            raise RuleViolated(
                "the presentations are those of the scheduled presenters, once each",
                {"scheduled": sorted(meeting["presenters"]), "recorded": sorted(presented)},
            )
        for presentation in record["presentations"]:
            village = tree.get(presentation["village_code"])
            if village is None or village.level != "village":
                raise RuleViolated(
                    "{village_code} is not a village/community of the region tree",
                    village_code=presentation["village_code"],
                )
        for comment in record.get("comments", []):
            if comment["evaluator_id"] not in meeting["evaluators"]:
                raise RuleViolated(
                    "{evaluator_id} is not an evaluator of meeting {meeting_id}",
                    evaluator_id=comment["evaluator_id"],
                    meeting_id=record["meeting_id"],
                )
            if comment["contestant_id"] not in presented:
                raise RuleViolated(
                    "{contestant_id} did not present at meeting {meeting_id}",
                    contestant_id=comment["contestant_id"],
                    meeting_id=record["meeting_id"],
                )
        return [
            Decision(
                "ForumMeetingHeld",
                self.ref(
                    series_id=meeting["series_id"],
                    meeting_id=record["meeting_id"],
                    presentations=record["presentations"],
                    attendees=record.get("attendees", []),
                    comments=record.get("comments", []),
                ),
            )
        ]

    # -- views -----------------------------------------------------------------------
    def participation(self) -> list[dict[str, Any]]:
        """Each presenter's year: the meetings he presented at (in date order), the ones he
        attended, and the evaluators' comments he received."""
        people: dict[str, dict[str, Any]] = {}
        held = sorted((m for m in self.meetings.values() if m["held"]), key=lambda m: (str(m["date"]), m["meeting_id"]))
        for meeting in held:
            record = meeting["held"]
            for p in record["presentations"]:
                person = people.setdefault(
                    p["contestant_id"],
                    {"contestant_id": p["contestant_id"], "presented": [], "attended": [], "comments": []},
                )
                person.update(name=p["name"], village_code=p["village_code"])
                person["presented"].append(
                    {
                        "meeting_id": meeting["meeting_id"],
                        "series_id": meeting["series_id"],
                        "date": str(meeting["date"]),
                        "theme": meeting["theme"],
                        "topic": p["topic"],
                    }
                )
        for meeting in held:
            record = meeting["held"]
            for attendee in record["attendees"]:
                if attendee in people:
                    people[attendee]["attended"].append(meeting["meeting_id"])
            for comment in record["comments"]:
                people[comment["contestant_id"]]["comments"].append(dict(comment, meeting_id=meeting["meeting_id"]))
        return sorted(people.values(), key=lambda p: p["contestant_id"])

    def view(self, level: str) -> dict[str, Any]:
        """The contest as ``level`` may see it: ``contacts`` (its organisers: everything, the
        office included; the people's contacts are the vault's, added by the service layer),
        ``setup`` (panels, conflicts, the video room, lot seeds) or ``public`` (what the
        contest's own rules make public: PUBLIC_FIELDS)."""
        info = self.require_info()
        if level == "public":
            return self._public_view(info)

        def shown(record: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in record.items() if k not in ("contest_id", "revoked_from")}

        return {
            **{k: v for k, v in info.items() if k != "organiser" or level == "contacts"},
            "version": self.version,
            "stages": sorted((shown(s) for s in self.stages.values()), key=lambda s: s["order"]),
            "judges": sorted((shown(j) for j in self.judges.values()), key=lambda j: j["judge_id"]),
            "entries": sorted((shown(e) for e in self.entries.values()), key=lambda e: e["entry_id"]),
            "sessions": sorted((shown(s) for s in self.sessions.values()), key=lambda s: s["session_id"]),
            "forum_series": sorted((shown(s) for s in self.series.values()), key=lambda s: s["series_id"]),
            "meetings": sorted((shown(m) for m in self.meetings.values()), key=lambda m: m["meeting_id"]),
            "advancement_changes": sorted((shown(c) for c in self.changes.values()), key=lambda c: c["change_id"]),
        }

    def _public_view(self, info: dict[str, Any]) -> dict[str, Any]:
        def allowed(part: str, record: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in record.items() if k in PUBLIC_FIELDS[part]}

        sessions = []
        for session in sorted(self.sessions.values(), key=lambda s: s["session_id"]):
            shown = allowed("sessions", session)
            if not session["order"]:  # a seed is revealed with the draw it made, not before
                shown.pop("seed", None)
            sessions.append(shown)

        def listed(part: str, records: Any, key: str) -> list[dict[str, Any]]:
            return sorted((allowed(part, r) for r in records), key=lambda r: r[key])

        return {
            **allowed("contest", info),
            "version": self.version,
            "stages": listed("stages", self.stages.values(), "order"),
            "judges": [],  # who sits on which panel, and their conflicts, are the organisers' business
            "entries": listed("entries", self.entries.values(), "entry_id"),
            "sessions": sessions,
            "forum_series": sorted(
                (allowed("forum_series", s) for s in self.series.values()), key=lambda s: s["series_id"]
            ),
            "meetings": sorted((allowed("meetings", m) for m in self.meetings.values()), key=lambda m: m["meeting_id"]),
            "advancement_changes": [],
        }


# What anyone may read of a contest (GET /contests/{id} without a grant that sees more): an
# allow-list, so that a field added to an event is private until it is put here on purpose.
PUBLIC_FIELDS: dict[str, frozenset[str]] = {
    "contest": frozenset({"contest_id", "name", "tree_id", "county_code", "format", "description"}),
    "stages": frozenset({"stage_id", "name", "order", "groups", "criteria", "panel_size", "drop_rule", "advancement"}),
    "entries": frozenset(
        {
            "entry_id",
            "contestant_id",
            "name",
            "village_code",
            "township_code",
            "work_unit",
            "title",
            "stage_id",
            "withdrawn",
        }
    ),
    "sessions": frozenset({"session_id", "stage_id", "group_id", "starts_at", "place", "order", "seed", "opened"}),
    "forum_series": frozenset({"series_id", "name", "cadence", "township_code", "day_of_month", "themes", "scored"}),
    "meetings": frozenset({"series_id", "meeting_id", "date", "theme", "central_task"}),
}


def _who(difference: dict[str, Any]) -> dict[str, Any]:
    return {k: difference[k] for k in ("entry_id", "contestant_id", "name")}

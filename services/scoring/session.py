"""A scoring session: the plan registration opened, the sheets judges submitted, the lock.

Pure domain code: it folds events into state and decides the events a command produces.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from leitai.access import Place
from leitai.arithmetic import ROUNDING, median
from leitai.domain import Decision, DomainEvent
from leitai.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolated
from leitai.messages import N_, Text, text
from services.scoring.rules import Criterion, DropTier, aggregate, score_problems, sheet_total

# a submission id is its sheet's key (and its event's id): once used, for that sheet only
SUBMISSION_REUSED = N_("submission_id {submission_id} was already used for another sheet; use a new one")
CORRECTION_REUSED = N_("correction_id {correction_id} was already used in this contest; use a new one")
CORRECTIONS = uuid.UUID("6b1d4d2e-7c55-4e0c-9a43-2f7d0c3b8a10")  # the namespace of correction event ids


def correction_event_id(contest_id: str, correction_id: str) -> str:
    """The event id of correction ``correction_id``'s proposal: one per contest."""
    return str(uuid.uuid5(CORRECTIONS, f"{contest_id}:{correction_id}"))


@dataclass(frozen=True)
class PanelJudge:
    judge_id: str
    name: str
    township_code: str | None
    work_unit: str
    conflicts: frozenset[str]
    head: bool
    reserve: bool


@dataclass(frozen=True)
class SessionEntry:
    entry_id: str
    contestant_id: str
    name: str
    township_code: str
    work_unit: str
    order: int


@dataclass(frozen=True)
class SessionPlan:
    contest_id: str
    office: str | None  # the county that owns the contest (None: opened before it was carried)
    session_id: str
    stage_id: str
    group_id: str
    criteria: tuple[Criterion, ...]
    drop_rule: tuple[DropTier, ...]
    tolerance: Decimal | None
    panel: dict[str, PanelJudge]
    entries: dict[str, SessionEntry]
    starts_at: str = ""
    venue: str = ""  # the place, or the video room

    @property
    def place(self) -> Place:
        """What a grant must reach to act on the session: its contest and the contest's office."""
        return Place(self.contest_id, self.office)

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> SessionPlan:
        return cls(
            contest_id=p["contest_id"],
            office=p.get("county_code"),
            session_id=p["session_id"],
            stage_id=p["stage_id"],
            group_id=p["group_id"],
            criteria=tuple(
                Criterion(c["criterion_id"], c["name"], Decimal(c["max"]), Decimal(c["weight"]), Decimal(c["step"]))
                for c in p["criteria"]
            ),
            drop_rule=tuple(DropTier(t["min_sheets"], t["drop_high"], t["drop_low"]) for t in p["drop_rule"]),
            tolerance=None if p.get("tolerance") is None else Decimal(p["tolerance"]),
            panel={
                j["judge_id"]: PanelJudge(
                    j["judge_id"],
                    j["name"],
                    j.get("township_code"),
                    j.get("work_unit", ""),
                    frozenset(j.get("conflicts", ())),
                    j["head"],
                    j["reserve"],
                )
                for j in p["panel"]
            },
            entries={
                e["entry_id"]: SessionEntry(
                    e["entry_id"], e["contestant_id"], e["name"], e["township_code"], e.get("work_unit", ""), e["order"]
                )
                for e in p["entries"]
            },
            starts_at=p.get("starts_at", ""),
            venue=p.get("place") or p.get("video_room") or "",
        )

    def ref(self) -> dict[str, Any]:
        return {"contest_id": self.contest_id, "session_id": self.session_id}


CORRECTION_STEPS = {
    "CorrectionApproved": "approved",
    "CorrectionRejected": "rejected",
    "CorrectionWithdrawn": "withdrawn",
}


# a panel's median says which sheet is off once the panel is complete, and of three sheets at
# least (of two, the median is their midpoint: each is as far from it as the other)
FLAG_MIN_SHEETS = 3


def outliers(totals: Mapping[str, Decimal], tolerance: Decimal | None) -> tuple[set[str], Decimal | None]:
    """The judges whose total lies further than ``tolerance`` from the panel's median, and
    that median; nobody while there is no tolerance or fewer than two sheets."""
    if tolerance is None or len(totals) < 2:
        return set(), None
    middle = median(totals.values())
    return {j for j, t in totals.items() if abs(t - middle) > tolerance}, middle


SAME_TOWNSHIP = N_("recused: judge {judge} ({judge_id}) is from the township of {contestant} ({township_code})")
SAME_UNIT = N_("recused: judge {judge} ({judge_id}) is from the work unit of {contestant} ({work_unit})")
DECLARED = N_("recused: judge {judge} ({judge_id}) declared a conflict with {contestant}")
# the same reasons as the judge reads them on their own tablet: about them, in the second person
TO_THE_JUDGE = {
    SAME_TOWNSHIP: N_("{contestant} is from your township"),
    SAME_UNIT: N_("{contestant} is from your work unit"),
    DECLARED: N_("you declared a conflict with {contestant}"),
}


def recusal(judge: PanelJudge, entry: SessionEntry) -> Text | None:
    """Why ``judge`` may not score ``entry`` (回避), or None: the refusal's message."""
    names = {"judge": judge.name, "judge_id": judge.judge_id, "contestant": entry.name}
    if judge.township_code and judge.township_code == entry.township_code:
        return text(SAME_TOWNSHIP, township_code=entry.township_code, **names)
    if judge.work_unit and judge.work_unit == entry.work_unit:
        return text(SAME_UNIT, work_unit=entry.work_unit, **names)
    if entry.contestant_id in judge.conflicts:
        return text(DECLARED, **names)
    return None


def recusal_to_the_judge(judge: PanelJudge, entry: SessionEntry) -> Text | None:
    """``recusal`` as the judge's view of the session says it to them (the gateway renders it
    in the reader's language), or None."""
    found = recusal(judge, entry)
    return text(TO_THE_JUDGE[found["msgid"]], contestant=entry.name) if found else None


@dataclass
class Sheet:
    judge_id: str
    entry_id: str
    scores: dict[str, Decimal]
    total: Decimal
    strengths: str
    suggestions: str
    revision: int
    submission_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge_id": self.judge_id,
            "entry_id": self.entry_id,
            "revision": self.revision,
            "scores": {k: str(v) for k, v in sorted(self.scores.items())},
            "total": str(self.total),
            "strengths": self.strengths,
            "suggestions": self.suggestions,
            "submission_id": self.submission_id,
        }


@dataclass
class ScoringSession:
    plan: SessionPlan
    sheets: dict[tuple[str, str], Sheet] = field(default_factory=dict)  # (entry, judge) -> latest
    submissions: dict[str, Sheet] = field(default_factory=dict)
    flagged: set[tuple[str, str, int]] = field(default_factory=set)  # (entry, judge, revision) ever raised
    withdrawn: set[tuple[str, str, int]] = field(default_factory=set)  # of those, no longer holding
    scored: dict[str, dict[str, Any]] = field(default_factory=dict)
    corrections: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> the proposal, with its status
    locked: bool = False
    noted: set[str] = field(default_factory=set)  # the publications of the stage noted, by event id
    version: int = 0

    # -- folding -------------------------------------------------------------------
    def apply(self, event: DomainEvent) -> None:
        p = event.payload
        if event.type in ("ScoreSheetSubmitted", "ScoreSheetRevised", "ScoreSheetCorrected"):
            sheet = Sheet(
                p["judge_id"],
                p["entry_id"],
                dict(p["scores"]),
                p["total"],
                p["strengths"],
                p["suggestions"],
                p["revision"],
                str(event.event_id),
            )
            self.sheets[(sheet.entry_id, sheet.judge_id)] = sheet
            self.submissions[sheet.submission_id] = sheet
        elif event.type == "ScoreSheetVoided":
            del self.sheets[(p["entry_id"], p["judge_id"])]
        elif event.type == "CorrectionProposed":
            self.corrections[p["correction_id"]] = dict(p, status="proposed")
        elif event.type in CORRECTION_STEPS:
            self.corrections[p["correction_id"]].update(status=CORRECTION_STEPS[event.type], decided_by=p["by"])
        elif event.type == "ToleranceFlagRaised":
            self.flagged.add((p["entry_id"], p["judge_id"], p["revision"]))
        elif event.type == "ToleranceFlagWithdrawn":
            self.withdrawn.add((p["entry_id"], p["judge_id"], p["revision"]))
        elif event.type in ("EntryScored", "EntryRescored"):
            self.scored[p["entry_id"]] = p
        elif event.type == "SessionLocked":
            self.locked = True
        elif event.type == "StageResultsNoted":
            self.noted.add(p["publication_event_id"])
        self.version = event.stream_version

    # -- queries -------------------------------------------------------------------
    def totals(self, entry_id: str) -> dict[str, Decimal]:
        return {judge: s.total for (entry, judge), s in self.sheets.items() if entry == entry_id}

    def open_flags(self, entry_id: str) -> list[str]:
        """Judges whose sheet was flagged (further than the tolerance from the panel's median,
        once the panel was complete) and not withdrawn since."""
        return sorted({j for (e, j, r) in self.flagged - self.withdrawn if e == entry_id})

    def missing(self, entry_id: str) -> list[str]:
        entry = self.plan.entries[entry_id]
        return sorted(
            j.judge_id
            for j in self.plan.panel.values()
            if not j.reserve and recusal(j, entry) is None and (entry_id, j.judge_id) not in self.sheets
        )

    def desk(self, judge_id: str) -> dict[str, Any]:
        """What a seated judge's tablet shows of the session: each entry in the order of
        appearance, whether this judge may score it (not recused, not locked, and for a reserve
        only where a seated judge is recused), the sheets received of those expected, the
        judge's own sheet, and who is on stage: the first entry still waiting for a sheet."""
        judge = self.plan.panel[judge_id]
        seated = [j for j in self.plan.panel.values() if not j.reserve]
        entries = sorted(self.plan.entries.values(), key=lambda e: e.order)
        rows = []
        for entry in entries:
            recused = recusal_to_the_judge(judge, entry)
            mine = self.sheets.get((entry.entry_id, judge_id))
            needed = not judge.reserve or mine is not None or self._reserve_needed(entry)
            rows.append(
                {
                    "entry_id": entry.entry_id,
                    "order": entry.order,
                    "name": entry.name,
                    "work_unit": entry.work_unit,
                    "recused": recused,
                    "may_score": not self.locked and recused is None and needed,
                    "received": len(self.totals(entry.entry_id)),
                    "expected": len(seated),
                    "sheet": mine.as_dict() if mine else None,
                }
            )
        on_stage = None if self.locked else next((e.entry_id for e in entries if self.missing(e.entry_id)), None)
        return {
            "session_id": self.plan.session_id,
            "locked": self.locked,
            "head": judge.head,
            "reserve": judge.reserve,
            "on_stage": on_stage,
            "entries": rows,
        }

    # -- commands ------------------------------------------------------------------
    def submit(
        self,
        judge_id: str,
        entry_id: str,
        submission_id: str,
        scores: dict[str, Decimal],
        strengths: str,
        suggestions: str,
    ) -> tuple[Sheet, list[Decision]]:
        earlier = self.submissions.get(submission_id)
        if earlier is not None:
            if (earlier.judge_id, earlier.entry_id, earlier.scores, earlier.strengths, earlier.suggestions) != (
                judge_id,
                entry_id,
                scores,
                strengths,
                suggestions,
            ):
                raise Conflict(SUBMISSION_REUSED, {"submission_id": submission_id}, submission_id=submission_id)
            return earlier, []
        judge = self.plan.panel.get(judge_id)
        if judge is None:
            raise Forbidden(
                "judge {judge_id} is not seated on session {session_id}",
                judge_id=judge_id,
                session_id=self.plan.session_id,
            )
        entry = self._entry(entry_id)
        if self.locked:
            raise Conflict("session {session_id} is locked", session_id=self.plan.session_id)
        recused = recusal(judge, entry)
        if recused:
            raise RuleViolated(recused["msgid"], {"judge_id": judge_id, "entry_id": entry_id}, recused["params"])
        if judge.reserve and (entry_id, judge_id) not in self.sheets and not self._reserve_needed(entry):
            raise RuleViolated(
                "reserve judge {judge} ({judge_id}) is not needed for {contestant}: no seated judge is recused",
                judge=judge.name,
                judge_id=judge_id,
                contestant=entry.name,
            )
        problems = score_problems(self.plan.criteria, scores)
        if problems:
            raise InvalidInput("scores are not valid for this stage", problems)

        previous = self.sheets.get((entry_id, judge_id))
        sheet = Sheet(
            judge_id,
            entry_id,
            scores,
            sheet_total(self.plan.criteria, scores),
            strengths,
            suggestions,
            previous.revision + 1 if previous else 1,
            submission_id,
        )
        decisions = [
            Decision(
                "ScoreSheetRevised" if previous else "ScoreSheetSubmitted",
                {
                    **self.plan.ref(),
                    "entry_id": entry_id,
                    "judge_id": judge_id,
                    "scores": scores,
                    "total": sheet.total,
                    "strengths": strengths,
                    "suggestions": suggestions,
                    "revision": sheet.revision,
                },
                event_id=submission_id,
            )
        ]
        decisions += self._new_flags(entry_id, sheet)
        return sheet, decisions

    def _entry(self, entry_id: str) -> SessionEntry:
        entry = self.plan.entries.get(entry_id)
        if entry is None:
            raise NotFound(
                "entry {entry_id} does not present in session {session_id}",
                entry_id=entry_id,
                session_id=self.plan.session_id,
            )
        return entry

    def _stand_ins(self, entry: SessionEntry) -> tuple[int, int, int]:
        """(seated judges who stand aside, reserves who may score the entry, reserves' sheets in)."""
        recused = sum(1 for j in self.plan.panel.values() if not j.reserve and recusal(j, entry))
        able = sum(1 for j in self.plan.panel.values() if j.reserve and not recusal(j, entry))
        reserves_in = sum(1 for (e, j) in self.sheets if e == entry.entry_id and self.plan.panel[j].reserve)
        return recused, able, reserves_in

    def _reserves_awaited(self, entry: SessionEntry) -> int:
        """How many reserves' sheets the entry still waits for: one for each seated judge who
        stands aside, as far as the panel has reserves who may score it."""
        recused, able, reserves_in = self._stand_ins(entry)
        return max(0, min(recused, able) - reserves_in)

    def _reserve_needed(self, entry: SessionEntry) -> bool:
        """Whether a reserve scores the entry: fewer reserves' sheets are in than judges stand aside."""
        recused, _, reserves_in = self._stand_ins(entry)
        return reserves_in < recused

    def _new_flags(self, entry_id: str, sheet: Sheet) -> list[Decision]:
        """Once the entry's panel is complete (every sheet expected is in, FLAG_MIN_SHEETS at
        least: before, a median says little), a flag for each sheet off the median unless raised
        before; and each open flag that no longer holds withdrawn."""
        totals = dict(self.totals(entry_id), **{sheet.judge_id: sheet.total})
        still_missing = set(self.missing(entry_id)) - {sheet.judge_id}
        if still_missing or len(totals) < FLAG_MIN_SHEETS:
            return []
        off, middle = outliers(totals, self.plan.tolerance)
        revisions = {j: s.revision for (e, j), s in self.sheets.items() if e == entry_id}
        revisions[sheet.judge_id] = sheet.revision
        withdrawn = [
            Decision(
                "ToleranceFlagWithdrawn",
                {**self.plan.ref(), "entry_id": entry_id, "judge_id": judge, "revision": revision, "median": middle},
            )
            for (entry, judge, revision) in sorted(self.flagged - self.withdrawn)
            if entry == entry_id and (judge not in off or revisions.get(judge) != revision)
        ]
        return withdrawn + [
            Decision(
                "ToleranceFlagRaised",
                {
                    **self.plan.ref(),
                    "entry_id": entry_id,
                    "judge_id": judge,
                    "revision": revisions[judge],
                    "total": totals[judge],
                    "median": middle,
                    "tolerance": self.plan.tolerance,
                },
            )
            for judge in sorted(off)
            if (entry_id, judge, revisions[judge]) not in self.flagged
        ]

    def lock(self, actor_id: str, organiser: bool, override_reason: str | None) -> list[Decision]:
        head = self.plan.panel.get(actor_id)
        if not organiser and not (head and head.head):
            raise Forbidden("only the head judge or an organiser may lock a session")
        if self.locked:
            raise Conflict("session {session_id} is already locked", session_id=self.plan.session_id)
        entries = sorted(self.plan.entries.values(), key=lambda e: e.order)
        unscored = [e.entry_id for e in entries if not self.totals(e.entry_id)]
        if unscored:
            raise RuleViolated("entries without any sheet cannot be scored", {"entries": unscored})
        flags = {e.entry_id: self.open_flags(e.entry_id) for e in entries}
        missing = {e.entry_id: self.missing(e.entry_id) for e in entries}
        open_flags = sum(len(v) for v in flags.values())
        missing_sheets = sum(len(v) for v in missing.values())
        if (open_flags or missing_sheets) and not override_reason:
            raise RuleViolated(
                "locking needs an override reason",
                {
                    "open_flags": {k: v for k, v in flags.items() if v},
                    "missing_sheets": {k: v for k, v in missing.items() if v},
                },
            )
        decisions = [Decision("EntryScored", self._scored(entry, self.sheets)) for entry in entries]
        decisions.append(
            Decision(
                "SessionLocked",
                {
                    **self.plan.ref(),
                    "stage_id": self.plan.stage_id,
                    "group_id": self.plan.group_id,
                    "locked_by": actor_id,
                    "override_reason": override_reason or None,
                    "open_flags": open_flags,
                    "missing_sheets": missing_sheets,
                    "entries": [e.entry_id for e in entries],
                },
            )
        )
        return decisions

    def hall(self) -> dict[str, Any]:
        """现场亮分: what the hall's screen shows of the session as it runs. Each entry in the order
        of appearance; once its panel is complete (every sheet expected is in), each seat's
        total (seats numbered in the panel's order, no names), which were dropped, and the score
        they give (final once the session is locked); and the running standings of the entries
        scored so far. Before an entry's panel is complete, only how many sheets are in."""
        seats = {j.judge_id: n for n, j in enumerate(self.plan.panel.values(), start=1)}
        entries, scored = [], []
        for entry in sorted(self.plan.entries.values(), key=lambda e: e.order):
            totals = self.totals(entry.entry_id)
            missing = self.missing(entry.entry_id)
            awaited = self._reserves_awaited(entry)
            # locked, every entry with a sheet was scored, a missing sheet or not (the lock's reason)
            complete = bool(totals) and (self.locked or (not missing and not awaited))
            row: dict[str, Any] = {
                "entry_id": entry.entry_id,
                "order": entry.order,
                "name": entry.name,
                "sheets_in": len(totals),
                "sheets_expected": len(totals) + len(missing) + awaited,
                "complete": complete,
            }
            if complete:
                result = aggregate(entry.entry_id, totals, self.plan.drop_rule)
                dropped = set(result.dropped_high) | set(result.dropped_low)
                row |= {
                    "seats": [
                        {"seat": seats[j], "total": t, "dropped": j in dropped}
                        for j, t in sorted(totals.items(), key=lambda jt: seats[jt[0]])
                    ],
                    "stage_score": result.stage_score,
                }
                scored.append(row)
            entries.append(row)
        standings = sorted(scored, key=lambda r: (-r["stage_score"], r["order"]))  # ties: the same rank, in order
        on_stage = next((e for e in entries if not e["complete"]), None)
        return {
            "contest_id": self.plan.contest_id,
            "session_id": self.plan.session_id,
            "stage_id": self.plan.stage_id,
            "group_id": self.plan.group_id,
            "place": self.plan.venue,
            "starts_at": self.plan.starts_at,
            "locked": self.locked,
            "on_stage": on_stage["entry_id"] if on_stage else None,
            "entries": entries,
            "standings": [
                {
                    "rank": 1 + sum(1 for o in standings if o["stage_score"] > r["stage_score"]),
                    "entry_id": r["entry_id"],
                    "name": r["name"],
                    "stage_score": r["stage_score"],
                }
                for r in standings
            ],
        }

    def _scored(self, entry: SessionEntry, sheets: Mapping[tuple[str, str], Sheet]) -> dict[str, Any]:
        """An entry's EntryScored payload from ``sheets``."""
        totals = {judge: sheet.total for (e, judge), sheet in sheets.items() if e == entry.entry_id}
        result = aggregate(entry.entry_id, totals, self.plan.drop_rule)
        recused = sorted(j.judge_id for j in self.plan.panel.values() if recusal(j, entry))
        return {
            **self.plan.ref(),
            "stage_id": self.plan.stage_id,
            "group_id": self.plan.group_id,
            "entry_id": entry.entry_id,
            "sheets": [{"judge_id": j, "total": t} for j, t in result.sheets],
            "recused": recused,
            "dropped_high": list(result.dropped_high),
            "dropped_low": list(result.dropped_low),
            "counted_sum": result.counted_sum,
            "counted": result.counted,
            "stage_score": result.stage_score,
            "rounding": ROUNDING,
            "comments": [
                {"judge_id": s.judge_id, "strengths": s.strengths, "suggestions": s.suggestions}
                for (e, _), s in sorted(sheets.items())
                if e == entry.entry_id and (s.strengths or s.suggestions)
            ],
        }

    def note_result(self, publication_event_id: str, version: int) -> list[Decision]:
        """Ranking published a version of the stage's result: noted once, however often told."""
        if publication_event_id in self.noted:
            return []
        note = {
            **self.plan.ref(),
            "stage_id": self.plan.stage_id,
            "version": version,
            "publication_event_id": publication_event_id,
        }
        return [Decision("StageResultsNoted", note)]

    # -- corrections (复核): proposed by one person, in effect once another approves ----------
    def propose(
        self,
        actor_id: str,
        role: str,
        correction_id: str,
        kind: str,
        entry_id: str,
        judge_id: str,
        scores: dict[str, Decimal] | None,
        reason: str,
        appeal_id: str | None,
    ) -> tuple[dict[str, Any], list[Decision]]:
        asked = {
            "kind": kind,
            "entry_id": entry_id,
            "judge_id": judge_id,
            "reason": reason,
            "appeal_id": appeal_id,
            "scores": scores,
        }
        earlier = self.corrections.get(correction_id)
        if earlier is not None:
            if {k: earlier[k] for k in asked} != asked:
                raise Conflict(
                    "correction {correction_id} was proposed already, as another correction",
                    correction_id=correction_id,
                )
            return earlier, []
        if not self.locked:
            unlocked = {"session_id": [N_("not locked")]}
            raise RuleViolated(
                "session {session_id} is not locked: a judge revises a sheet until the lock; "
                "corrections are for locked sessions",
                unlocked,
                session_id=self.plan.session_id,
            )
        pending = next(
            (
                c
                for c in self.corrections.values()
                if c["status"] == "proposed" and (c["entry_id"], c["judge_id"]) == (entry_id, judge_id)
            ),
            None,
        )
        if pending is not None:
            raise Conflict(
                "correction {correction_id} of this sheet is open: approve, reject or withdraw it first",
                correction_id=pending["correction_id"],
            )
        entry = self._entry(entry_id)
        judge = self.plan.panel.get(judge_id)
        if judge is None:
            raise NotFound(
                "judge {judge_id} is not seated on session {session_id}",
                judge_id=judge_id,
                session_id=self.plan.session_id,
            )
        sheet = self.sheets.get((entry_id, judge_id))
        if kind in ("change_score", "void_sheet") and sheet is None:
            raise NotFound(
                "judge {judge} ({judge_id}) has no sheet for {contestant} to correct",
                judge=judge.name,
                judge_id=judge_id,
                contestant=entry.name,
            )
        if kind == "add_sheet":
            if sheet is not None:
                raise Conflict(
                    "judge {judge} ({judge_id}) has a sheet for {contestant}: correct it (change_score)",
                    judge=judge.name,
                    judge_id=judge_id,
                    contestant=entry.name,
                )
            recused = recusal(judge, entry)
            if recused:
                raise RuleViolated(recused["msgid"], {"judge_id": judge_id, "entry_id": entry_id}, recused["params"])
        if kind == "void_sheet":
            scores = None
        else:
            if not scores:
                missing = {"scores": [N_("give every criterion's score")]}
                raise InvalidInput("the corrected scores are missing", missing)
            problems = score_problems(self.plan.criteria, scores)
            if problems:
                raise InvalidInput("scores are not valid for this stage", problems)
            if sheet is not None and sheet.scores == scores:
                unchanged = {"scores": [N_("nothing would change")]}
                raise InvalidInput("the corrected scores are the sheet's own", unchanged)
        proposed = {
            **self.plan.ref(),
            "correction_id": correction_id,
            "kind": kind,
            "entry_id": entry_id,
            "judge_id": judge_id,
            "scores": scores,
            "reason": reason,
            "appeal_id": appeal_id,
            "cites": sheet.submission_id if sheet else None,
            "proposed_by": actor_id,
            "proposer_role": role,
        }
        # its event id follows from the contest and the correction's id: the store's unique event
        # ids then refuse the same correction id in another session of the contest (a 409), which
        # ranking and registration, who key a republication and an advancement change by it, rely on
        event_id = correction_event_id(self.plan.contest_id, correction_id)
        return dict(proposed, status="proposed"), [Decision("CorrectionProposed", proposed, event_id=event_id)]

    def approve(self, actor_id: str, role: str, correction_id: str) -> tuple[dict[str, Any], list[Decision]]:
        correction = self._correction(correction_id)
        if correction["status"] == "approved":
            return correction, []  # approved twice: once
        self._still_open(correction)
        if actor_id == correction["proposed_by"]:
            raise Forbidden("the proposer of a correction cannot approve it: a second person must")
        step = {**self.plan.ref(), "correction_id": correction_id, "by": actor_id, "role": role}
        return dict(correction, status="approved", decided_by=actor_id), [
            Decision("CorrectionApproved", step),
            *self._effect(correction),
        ]

    def reject(
        self, actor_id: str, role: str, correction_id: str, reason: str
    ) -> tuple[dict[str, Any], list[Decision]]:
        correction = self._correction(correction_id)
        if correction["status"] == "rejected":
            return correction, []
        self._still_open(correction)
        step = {**self.plan.ref(), "correction_id": correction_id, "by": actor_id, "role": role, "reason": reason}
        return dict(correction, status="rejected", decided_by=actor_id), [Decision("CorrectionRejected", step)]

    def withdraw(self, actor_id: str, role: str, correction_id: str) -> tuple[dict[str, Any], list[Decision]]:
        correction = self._correction(correction_id)
        if correction["status"] == "withdrawn":
            return correction, []
        self._still_open(correction)
        if actor_id != correction["proposed_by"]:
            raise Forbidden("only the proposer withdraws a correction; others reject it")
        step = {**self.plan.ref(), "correction_id": correction_id, "by": actor_id, "role": role}
        return dict(correction, status="withdrawn", decided_by=actor_id), [Decision("CorrectionWithdrawn", step)]

    def _correction(self, correction_id: str) -> dict[str, Any]:
        correction = self.corrections.get(correction_id)
        if correction is None:
            raise NotFound(
                "no correction {correction_id} in session {session_id}",
                correction_id=correction_id,
                session_id=self.plan.session_id,
            )
        return correction

    @staticmethod
    def _still_open(correction: dict[str, Any]) -> None:
        if correction["status"] != "proposed":
            raise Conflict(
                "correction {correction_id} was {status} already",
                correction_id=correction["correction_id"],
                status=correction["status"],
            )

    def _effect(self, correction: dict[str, Any]) -> list[Decision]:
        """The corrected sheet (or its voiding) and the entry scored again."""
        entry_id, judge_id = correction["entry_id"], correction["judge_id"]
        sheets = dict(self.sheets)
        ref = {
            **self.plan.ref(),
            "entry_id": entry_id,
            "judge_id": judge_id,
            "correction_id": correction["correction_id"],
        }
        if correction["kind"] == "void_sheet":
            del sheets[(entry_id, judge_id)]
            changed = Decision("ScoreSheetVoided", dict(ref, cites=correction["cites"]))
        else:
            before = self.sheets.get((entry_id, judge_id))
            scores = {k: Decimal(v) for k, v in correction["scores"].items()}
            sheet = Sheet(
                judge_id,
                entry_id,
                scores,
                sheet_total(self.plan.criteria, scores),
                before.strengths if before else "",
                before.suggestions if before else "",
                before.revision + 1 if before else 1,
                "",
            )
            sheets[(entry_id, judge_id)] = sheet
            changed = Decision(
                "ScoreSheetCorrected",
                dict(
                    ref,
                    scores=scores,
                    total=sheet.total,
                    strengths=sheet.strengths,
                    suggestions=sheet.suggestions,
                    revision=sheet.revision,
                    cites=correction["cites"],
                ),
            )
        rescored = dict(
            self._scored(self.plan.entries[entry_id], sheets),
            correction_id=correction["correction_id"],
            judge_id=judge_id,
        )
        return [changed, Decision("EntryRescored", rescored)]

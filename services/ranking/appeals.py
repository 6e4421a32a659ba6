"""Appeals (申诉) against a stage's published result. Pure domain code.

One stream per stage's appeals. An appeal is filed for an entry of the published standings
with a reason, and decided once: upheld (a correction follows, approved by two people) or
dismissed, with a reason. Filing or deciding again what was already recorded is answered
with the record and changes nothing; deciding otherwise what was decided is a Conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leitai.domain import Decision
from leitai.errors import Conflict, NotFound, RuleViolated
from leitai.messages import N_


def appeals_stream(contest_id: str, stage_id: str) -> str:
    return f"appeals-{contest_id}-{stage_id}"


@dataclass
class Appeals:
    """The appeals of one stage, as their events left them."""

    version: int = 0
    appeals: dict[str, dict] = field(default_factory=dict)

    def apply(self, event) -> None:
        self.version = event.stream_version
        p = event.payload
        if event.type == "AppealFiled":
            self.appeals[p["appeal_id"]] = {**p, "status": "filed", "decision": None}
        elif event.type == "AppealDecided":
            self.appeals[p["appeal_id"]].update(
                status="decided", decision=p["decision"], decision_reason=p["reason"], decided_by=p["decided_by"]
            )


def file(
    appeals: Appeals,
    published: list[dict] | None,
    contest_id: str,
    stage_id: str,
    appeal_id: str,
    entry_id: str,
    reason: str,
    filed_by: str,
) -> tuple[dict, list[Decision]]:
    """``published``: the stage's published standings, None while it is not published."""
    if published is None:
        problems = {"stage_id": [N_("not published yet")]}
        raise RuleViolated(
            "stage {stage_id} is not published: a result is appealed once it is published",
            problems,
            stage_id=stage_id,
        )
    row = next((r for r in published if r["entry_id"] == entry_id), None)
    if row is None:
        raise NotFound(
            "entry {entry_id} is not in the published standings of stage {stage_id}",
            entry_id=entry_id,
            stage_id=stage_id,
        )
    earlier = appeals.appeals.get(appeal_id)
    if earlier is not None:
        if (earlier["entry_id"], earlier["reason"]) != (entry_id, reason):
            raise Conflict(
                "appeal {appeal_id} was filed already, for {entry_id} with another reason",
                appeal_id=appeal_id,
                entry_id=earlier["entry_id"],
            )
        return earlier, []
    filed = {
        "contest_id": contest_id,
        "stage_id": stage_id,
        "appeal_id": appeal_id,
        "entry_id": entry_id,
        "contestant_id": row["contestant_id"],
        "name": row["name"],
        "reason": reason,
        "filed_by": filed_by,
    }
    return {**filed, "status": "filed", "decision": None}, [Decision("AppealFiled", filed)]


def decide(
    appeals: Appeals, appeal_id: str, decision: str, reason: str, decided_by: str
) -> tuple[dict, list[Decision]]:
    appeal = appeals.appeals.get(appeal_id)
    if appeal is None:
        raise NotFound("no appeal {appeal_id} in this stage", appeal_id=appeal_id)
    if appeal["decision"] is not None:
        if appeal["decision"] != decision:
            raise Conflict(
                "appeal {appeal_id} was {decision} already; a decision is not changed",
                appeal_id=appeal_id,
                decision=appeal["decision"],
            )
        return appeal, []
    decided = {k: appeal[k] for k in ("contest_id", "stage_id", "appeal_id", "entry_id", "contestant_id", "name")}
    decided.update(decision=decision, reason=reason, decided_by=decided_by)
    return (
        {**appeal, "status": "decided", "decision": decision, "decision_reason": reason, "decided_by": decided_by},
        [Decision("AppealDecided", decided)],
    )

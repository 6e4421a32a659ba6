"""What to tell whom: from an event to notices, each a kind and its context. Pure code:
the wording of each kind is in wording.py and templates/.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

# a recipient's id is the id the vault keeps their contact under: the organising office
# (OFFICE) is told what only it can decide
from leitai.privacy import OFFICE, contestant, judge

CHANNELS = ("email", "sms", "inbox")  # every notice goes by each, unless its recipient opted out


class NotYetKnown(Exception):
    """An event refers to something not projected yet (events arrive on parallel queues);
    the handler fails and its retry finds it."""


@dataclass(frozen=True)
class Notice:
    recipient_id: str
    kind: str
    context: dict[str, Any]
    # sent once per this, not once per event: a head judge hears of a judge's sheet off the
    # median once, however often its revisions are flagged again
    once_per: str | None = None


class Known(Protocol):
    def get(self, collection: str, key: str) -> dict[str, Any] | None: ...


def delivery_id(event_id: str, recipient_id: str, channel: str, kind: str) -> str:
    """One delivery per (event, recipient, channel, kind): its id, so that nothing is sent twice."""
    return hashlib.sha256(f"{event_id}|{recipient_id}|{channel}|{kind}".encode()).hexdigest()[:32]


def role(seat: dict[str, Any]) -> str:
    return "主评委" if seat["head"] else "候补评委" if seat["reserve"] else "评委"


def _need(known: Known, collection: str, key: str) -> dict[str, Any]:
    found = known.get(collection, key)
    if found is None:
        raise NotYetKnown(f"{collection}/{key} is not known yet")
    return found


def notices_for(event_type: str, p: dict[str, Any], known: Known) -> list[Notice]:
    c = p.get("contest_id")
    if event_type == "EntrySubmitted":
        contest = _need(known, "contests", p["contest_id"])  # its contract requires one
        return [
            Notice(
                contestant(p["contestant_id"]),
                "registration_confirmed",
                {"name": p["name"], "contest_name": contest["name"], "title": p["title"]},
            )
        ]
    if event_type == "SessionOpened":
        stage = _need(known, "stages", f"{c}:{p['stage_id']}")
        where = {
            "stage_name": stage["name"],
            "starts_at": p.get("starts_at", ""),
            "place": p.get("place", ""),
            "video_room": p.get("video_room", ""),
        }
        notices = [
            Notice(
                contestant(e["contestant_id"]),
                "session_notice",
                dict(where, name=e["name"], order=e["order"], total=len(p["entries"])),
            )
            for e in p["entries"]
        ]
        notices += [
            Notice(
                judge(j["judge_id"]),
                "judge_seated",
                dict(where, name=j["name"], entries=len(p["entries"]), role=role(j)),
            )
            for j in p["panel"]
        ]
        return notices
    if event_type == "EntryScored":
        if not p.get("comments"):
            return []
        entry = _need(known, "entries", f"{c}:{p['entry_id']}")
        return [
            Notice(contestant(entry["contestant_id"]), "comments", {"name": entry["name"], "comments": p["comments"]})
        ]
    if event_type == "ToleranceFlagRaised":
        session = _need(known, "sessions", p["session_id"])
        head = session["head"]
        once = f"tolerance:{p['session_id']}:{p['entry_id']}:{p['judge_id']}"
        # names, not ids: the judge's (from the recipients notify keeps) and the contestant's
        who = known.get("recipients", f"{c}:{judge(p['judge_id'])}") or {}
        entry = known.get("entries", f"{c}:{p['entry_id']}") or {}
        context = dict(
            p,
            name=head["name"],
            judge_name=who.get("name") or p["judge_id"],
            entry_name=entry.get("name") or p["entry_id"],
        )
        return [Notice(judge(head["judge_id"]), "tolerance_flag", context, once_per=once)]
    if event_type == "StageResultsPublished":
        stage = _need(known, "stages", f"{c}:{p['stage_id']}")
        following = _need(known, "stages", f"{c}:{p['next_stage_id']}")["name"] if p.get("next_stage_id") else ""
        return [
            Notice(
                contestant(row["contestant_id"]),
                "stage_result",
                {
                    "name": row["name"],
                    "stage_name": stage["name"],
                    "stage_score": row["stage_score"],
                    "rank": row["rank"],
                    "advanced": row["advanced"],
                    "next_stage_name": following,
                },
            )
            for row in p["standings"]
        ]
    if event_type == "StageResultsRepublished":  # only those a correction affected, and the corrected judge
        stage = _need(known, "stages", f"{c}:{p['stage_id']}")
        common = {"stage_name": stage["name"], "version": p["version"], "correction_id": p["correction_id"]}
        notices = [
            Notice(
                contestant(change["contestant_id"]),
                "result_corrected",
                dict(common, name=change["name"], before=change["before"], after=change["after"]),
            )
            for change in p["diff"]
        ]
        corrected = _need(known, "recipients", f"{c}:{judge(p['corrected_judge_id'])}")
        return notices + [
            Notice(judge(p["corrected_judge_id"]), "sheet_corrected", dict(common, name=corrected["name"]))
        ]
    if event_type in ("AppealFiled", "AppealDecided"):  # the contestant hears of receipt, then of the decision
        stage = _need(known, "stages", f"{c}:{p['stage_id']}")
        context = {
            "name": p["name"],
            "stage_name": stage["name"],
            "appeal_id": p["appeal_id"],
            "reason": p["reason"],
            "upheld": p.get("decision") == "upheld",
        }
        kind = "appeal_received" if event_type == "AppealFiled" else "appeal_decided"
        return [Notice(contestant(p["contestant_id"]), kind, context)]
    if event_type in ("AdvancementChangeFollowed", "AdvancementChangeReferred"):  # the organiser hears of it
        context = _advancement(known, p)
        if event_type == "AdvancementChangeFollowed":
            return [Notice(OFFICE, "advancement_followed", dict(context, redraw=p["redraw"]))]
        return [Notice(OFFICE, "advancement_referred", dict(context, opened_sessions=p["opened_sessions"]))]
    if event_type == "AdvancementChangeDecided":  # and those it concerned, of the organiser's decision
        context = dict(_advancement(known, p), action=p["action"], reason=p["reason"])
        goes_on = ((p["gained"], p["action"] in ("follow", "admit")), (p["lost"], p["action"] != "follow"))
        return [
            Notice(
                contestant(w["contestant_id"]), "advancement_decided", dict(context, name=w["name"], advances=advances)
            )
            for concerned, advances in goes_on
            for w in concerned
        ]
    if event_type == "ForumMeetingScheduled":
        series = _need(known, "series", f"{c}:{p['series_id']}")
        return [
            Notice(
                judge(e),
                "meeting_evaluator",
                {
                    "name": _need(known, "recipients", f"{c}:{judge(e)}")["name"],
                    "series_name": series["name"],
                    "date": p["date"],
                    "theme": p["theme"],
                    "central_task": p.get("central_task", ""),
                    "presenters": len(p["presenters"]),
                },
            )
            for e in p["evaluators"]
        ]
    return []


def _advancement(known: Known, p: dict[str, Any]) -> dict[str, Any]:
    c = p["contest_id"]
    return {
        "stage_name": _need(known, "stages", f"{c}:{p['stage_id']}")["name"],
        "next_stage_name": _need(known, "stages", f"{c}:{p['next_stage_id']}")["name"],
        "change_id": p["change_id"],
        "version": p["version"],
        "gained": [w["name"] for w in p["gained"]],
        "lost": [w["name"] for w in p["lost"]],
    }


def reminders_for(session: dict[str, Any]) -> list[Notice]:
    """The day-before reminder of an opened session, one for each judge seated on it."""
    return [
        Notice(
            judge(j["judge_id"]),
            "session_reminder",
            dict(session["where"], name=j["name"], role=j["role"], entries=session["entries"]),
        )
        for j in session["panel"]
    ]

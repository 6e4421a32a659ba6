"""From events to the ranking read model, in any order, any number of times.

Every write is idempotent and commutes with the others: facts that never change are set
(set twice, same values), a sheet keeps its highest revision, positions only grow. So a
duplicated or reordered delivery, a replay into a scratch database and the live consumer
all end with the same documents; no event-id bookkeeping is needed.
"""

from __future__ import annotations

from leitai.contracts import ContractRegistry, Event, format_timestamp
from leitai.contracts.product import REGISTRY
from leitai.eventstore import Stored
from leitai.writes import Write
from services.ranking.publication import PUBLICATIONS

COLLECTIONS = (
    "contests",
    "stages",
    "entries",
    "sessions",
    "sheets",
    "voided",
    "flags",
    "results",
    "rescored",
    "published",
    "publications",
    "positions",
    "streams",
)
# what the boards and the live screen ask of the read model (application.py, board.py); made at
# start-up, since the screen polls the board several times a second
INDEXES: dict[str, list[tuple[str, ...]]] = {
    "sheets": [("session_id", "entry_id"), ("contest_id", "session_id")],
    "sessions": [("contest_id", "stage_id")],
    "results": [("contest_id", "stage_id")],
    "rescored": [("contest_id", "stage_id")],
    "voided": [("session_id",)],
    "entries": [("contest_id",)],
    "stages": [("contest_id",)],
    "streams": [("contest_id", "source")],
    "flags": [("contest_id", "session_id")],
}


def writes_for(event: Event | Stored, wire: dict) -> list[Write]:
    """``wire`` is the JSON form of the payload (Decimals as strings), as stored; of ``event``
    only its type, position, stream and time are read."""
    p = wire
    c = p.get("contest_id")
    kind = event.type
    if kind == "ContestCreated":
        writes = [
            Write("contests", p["contest_id"], {k: p[k] for k in ("contest_id", "name", "format", "county_code")})
        ]
    elif kind == "StageDefined":
        writes = [
            Write(
                "stages",
                f"{c}:{p['stage_id']}",
                {
                    k: p[k]
                    for k in (
                        "contest_id",
                        "stage_id",
                        "name",
                        "order",
                        "groups",
                        "criteria",
                        "drop_rule",
                        "tolerance",
                        "advancement",
                        "lot_seed",
                    )
                },
            )
        ]
    elif kind == "EntrySubmitted":
        writes = [
            Write(
                "entries",
                f"{c}:{p['entry_id']}",
                {
                    k: p[k]
                    for k in (
                        "contest_id",
                        "entry_id",
                        "contestant_id",
                        "name",
                        "township_code",
                        "village_code",
                        "title",
                    )
                },
            )
        ]
    elif kind == "SessionScheduled":
        writes = [
            Write(
                "sessions",
                p["session_id"],
                {
                    k: p[k]
                    for k in ("contest_id", "session_id", "stage_id", "group_id", "starts_at", "place", "video_room")
                },
            )
        ]
    elif kind == "SessionOpened":
        writes = [
            Write(
                "sessions",
                p["session_id"],
                {
                    "contest_id": c,
                    "session_id": p["session_id"],
                    "stage_id": p["stage_id"],
                    "group_id": p["group_id"],
                    "entries": [{k: e[k] for k in ("entry_id", "name", "order")} for e in p["entries"]],
                    "panel": [j["judge_id"] for j in p["panel"] if not j["reserve"]],
                    "head": next((j["judge_id"] for j in p["panel"] if j.get("head")), None),
                    "opened": True,
                },
            )
        ]
    elif kind in ("ScoreSheetSubmitted", "ScoreSheetRevised", "ScoreSheetCorrected"):
        writes = [
            Write(
                "sheets",
                f"{p['session_id']}:{p['entry_id']}:{p['judge_id']}",
                {k: p[k] for k in ("contest_id", "session_id", "entry_id", "judge_id", "scores", "total", "revision")}
                | {"position": event.position}
                | ({"correction_id": p["correction_id"]} if "correction_id" in p else {}),
                newer_than_revision=p["revision"],
            )
        ]
    elif kind == "ToleranceFlagRaised":  # one a revision: counted by the judges' calibration
        writes = [
            Write(
                "flags",
                f"{p['session_id']}:{p['entry_id']}:{p['judge_id']}:{p['revision']}",
                {k: p[k] for k in ("contest_id", "session_id", "entry_id", "judge_id", "revision")},
            )
        ]
    elif kind == "ScoreSheetVoided":  # the sheet is kept; what counts leaves it out
        writes = [
            Write(
                "voided",
                f"{p['session_id']}:{p['entry_id']}:{p['judge_id']}",
                {k: p[k] for k in ("contest_id", "session_id", "entry_id", "judge_id", "correction_id")},
            )
        ]
    elif kind == "EntryScored":
        writes = [
            Write(
                "results",
                f"{c}:{p['stage_id']}:{p['entry_id']}",
                dict(p, position=event.position, occurred_at=_timestamp(event)),
            )
        ]
    elif kind == "EntryRescored":  # every version is kept: the standings as of any moment need them
        writes = [
            Write(
                "rescored",
                f"{c}:{p['stage_id']}:{p['entry_id']}:{p['correction_id']}",
                dict(p, position=event.position, occurred_at=_timestamp(event)),
            )
        ]
    elif kind == "SessionLocked":
        writes = [Write("sessions", p["session_id"], {"locked": True, "locked_position": event.position})]
    elif kind in PUBLICATIONS:
        # the latest version is the published result; every version stays readable
        version = p.get("version", 1)
        published = dict(p, version=version, revision=version, event_position=event.position)
        writes = [
            Write("published", f"{c}:{p['stage_id']}", published, newer_than_revision=version),
            Write("publications", f"{c}:{p['stage_id']}:{version}", published),
        ]
    else:
        raise ValueError(f"ranking does not project {kind}")
    source = _source_of(kind)
    seen = Write("positions", source, {}, positions={"position": event.position or 0})
    # each stream's head as far as the read model has it: what a publication's certificate
    # lists, so that an auditor can tell a bundle that leaves an event of them out
    stream = f"{source}:{event.stream_id}"
    session = {"session_id": p["session_id"]} if source == "scoring" else {}
    return [
        *writes,
        seen,
        Write("streams", stream, {"source": source, "stream_id": event.stream_id, "contest_id": c, **session}),
        Write("streams", stream, {}, positions={"version": event.stream_version}),
    ]


def _source_of(event_type: str) -> str:
    return REGISTRY.get(event_type).source


def _timestamp(event: Event | Stored) -> str:
    return event.occurred_at if isinstance(event.occurred_at, str) else format_timestamp(event.occurred_at)


def writes_of(event: Event, registry: ContractRegistry = REGISTRY) -> list[Write]:
    return writes_for(event, event.to_wire(registry)["payload"])


def writes_of_stored(stored: Stored) -> list[Write]:
    return writes_for(stored, stored.payload)

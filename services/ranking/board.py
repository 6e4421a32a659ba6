"""Building standings from the ranking read model (reads only; the rules are in standings.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from leitai.contracts import format_timestamp
from leitai.errors import InvalidInput, NotFound
from leitai.messages import N_
from leitai.readmodel import ReadModel
from services.ranking.standings import Result, Standing, standings


def stage_doc(read: ReadModel, contest_id: str, stage_id: str) -> dict:
    stage = read.get("stages", f"{contest_id}:{stage_id}")
    if stage is None:
        raise NotFound(
            "stage {stage_id} of contest {contest_id} is not known", stage_id=stage_id, contest_id=contest_id
        )
    return stage


def next_stage_id(read: ReadModel, stage: dict) -> str | None:
    later = [s for s in read.find("stages", {"contest_id": stage["contest_id"]}) if s["order"] > stage["order"]]
    return min(later, key=lambda s: s["order"])["stage_id"] if later else None


def rule_sha256(stage: dict) -> str:
    """The rule set the standings were computed under, as a fingerprint."""
    rule = {k: stage[k] for k in ("criteria", "groups", "drop_rule", "tolerance", "advancement", "lot_seed")}
    return hashlib.sha256(json.dumps(rule, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def source_streams(read: ReadModel, stage: dict, session_ids: list[str]) -> dict[str, dict[str, int]]:
    """The head version of every source stream the stage's standings depend on, as the read
    model has them: the contest's registration stream and the stage's scoring sessions."""
    streams = read.find(
        "streams",
        {
            "$or": [
                {"source": "registration", "contest_id": stage["contest_id"]},
                {"source": "scoring", "session_id": {"$in": sorted(session_ids)}},
            ]
        },
    )
    heads: dict[str, dict[str, int]] = {}
    for stream in sorted(streams, key=lambda s: (s["source"], s["stream_id"])):
        heads.setdefault(stream["source"], {})[stream["stream_id"]] = stream["version"]
    return heads


def scored_results(read: ReadModel, stage: dict, as_of: str | None = None) -> list[dict]:
    """Each scored entry's result as it stands (its latest version: an approved correction
    scores an entry again), or as it stood at ``as_of`` (see :func:`scored_as_of`)."""
    query = {"contest_id": stage["contest_id"], "stage_id": stage["stage_id"]}
    versions = read.find("results", query) + read.find("rescored", query)
    if as_of is not None:
        versions = scored_as_of(versions, as_of)
    latest: dict[str, dict] = {}
    for version in versions:
        if version["entry_id"] not in latest or version["position"] > latest[version["entry_id"]]["position"]:
            latest[version["entry_id"]] = version
    return sorted(latest.values(), key=lambda r: r["entry_id"])


def scored_as_of(scored: list[dict], as_of: str) -> list[dict]:
    """The results scored at scoring log positions up to ``as_of`` (digits), or at moments up
    to it (an ISO 8601 time with its zone)."""
    if as_of.isascii() and as_of.isdigit():
        return [r for r in scored if r["position"] <= int(as_of)]
    try:
        moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        problems = {"as_of": [N_("not an ISO 8601 time")]}
        raise InvalidInput("as_of is neither a log position nor a time", problems) from None
    if moment.tzinfo is None:
        problems = {"as_of": [N_("give the zone, e.g. +08:00 or Z")]}
        raise InvalidInput("as_of needs its time zone", problems)
    try:
        cut = format_timestamp(moment)  # the stored spelling: compared as strings, they sort in time
    except OverflowError:  # 0001-01-01T00:00+14:00 is before the first moment a clock can name
        problems = {"as_of": [N_("a time between the years 1 and 9999")]}
        raise InvalidInput("as_of is out of range", problems) from None
    return [r for r in scored if r.get("occurred_at", "~") <= cut]


def voided_sheets(read: ReadModel, session_ids: set[str]) -> set[tuple[str, str, str]]:
    """(session, entry, judge) of every sheet an approved correction voided."""
    return {
        (v["session_id"], v["entry_id"], v["judge_id"])
        for v in read.find("voided", {"session_id": {"$in": sorted(session_ids)}})
    }


def sheets_by_entry(read: ReadModel, session_ids: set[str]) -> dict[tuple[str, str], list[dict]]:
    """Every sheet of these sessions in one query, by (session, entry)."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    voided = voided_sheets(read, session_ids)
    for sheet in read.find("sheets", {"session_id": {"$in": sorted(session_ids)}}):
        if (sheet["session_id"], sheet["entry_id"], sheet["judge_id"]) in voided:
            continue
        grouped.setdefault((sheet["session_id"], sheet["entry_id"]), []).append(sheet)
    return grouped


def results_of(read: ReadModel, stage: dict, scored: list[dict] | None = None) -> list[Result]:
    """Results ready for ranking; pass ``scored`` to rank exactly the documents already read."""
    scored = scored_results(read, stage) if scored is None else scored
    entries = {e["entry_id"]: e for e in read.find("entries", {"contest_id": stage["contest_id"]})}
    by_entry = sheets_by_entry(read, {r["session_id"] for r in scored})
    results = []
    for r in scored:
        counted = {s["judge_id"] for s in r["sheets"]} - set(r["dropped_high"]) - set(r["dropped_low"])
        sheets = by_entry.get((r["session_id"], r["entry_id"]), [])
        means = {
            c["criterion_id"]: sum(
                (Fraction(Decimal(s["scores"][c["criterion_id"]])) for s in sheets if s["judge_id"] in counted),
                Fraction(0),
            )
            / max(len(counted), 1)
            for c in stage["criteria"]
        }
        entry = entries.get(r["entry_id"], {})
        results.append(
            Result(
                r["entry_id"],
                entry.get("contestant_id", r["entry_id"]),
                entry.get("name", ""),
                r["group_id"],
                Decimal(r["stage_score"]),
                tuple(Decimal(s["total"]) for s in r["sheets"]),
                means,
            )
        )
    return results


def table(read: ReadModel, stage: dict, scored: list[dict] | None = None) -> list[Standing]:
    return standings(results_of(read, stage, scored), stage["advancement"], stage.get("lot_seed") or "")


def standing_row(s: Standing) -> dict:
    r = s.result
    return {
        "entry_id": r.entry_id,
        "contestant_id": r.contestant_id,
        "name": r.name,
        "group_id": r.group_id,
        "stage_score": str(r.stage_score),
        "rank": s.rank,
        "group_rank": s.group_rank,
        "position": s.position,
        "advanced": s.advanced,
        "decided_by": s.decided_by,
    }

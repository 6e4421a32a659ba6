"""The demo's export: everything an auditor needs to re-derive every published number, in one
JSON file, read back from the services once they are at rest (format: docs/demo-export.md)."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from composition import audit
from composition.demo.runtime import PUBLISHERS, Runtime
from composition.demo.scored import ORGANISER
from leitai.contracts.product import REGISTRY
from leitai.eventstore import EventStore
from leitai.eventstore.mongodb import MongoCommitLog

FORMAT = "leitai-demo-export/1"
ROUNDING = {"mode": "ROUND_HALF_UP", "places": 2, "applies_to": "stage_score (the mean of the counted totals)"}


def contest(rt: Runtime, contest_id: str) -> tuple[dict, dict]:
    """(the export's contest, regions and judges; registration's whole view of the contest)."""
    view = rt.call("registration", "get_contest", ORGANISER, contest_id)
    return {
        "contest": {k: view[k] for k in ("contest_id", "name", "format", "county_code", "description")},
        "regions": rt.call("registration", "get_regions", view["tree_id"])["regions"],
        "judges": [{k: j.get(k) for k in ("judge_id", "name", "township_code", "work_unit")} for j in view["judges"]],
    }, view


def certified(rt: Runtime, contest_id: str, stage_ids: list[str], timeout: float = 60.0) -> dict[str, dict]:
    """Each published stage's certificate, once every checkpoint it cites is signed (a relay
    signs at its next seal), and its audit bundle written to bundles/ beside the export."""
    stores = {service: EventStore(MongoCommitLog(rt.db(service)), REGISTRY) for service in PUBLISHERS}
    deadline = time.monotonic() + timeout
    certificates = {}
    for sid in stage_ids:
        while (certificate := audit.certificate_of(stores, contest_id, sid))["pending"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"stage {sid}: no checkpoint of {certificate['pending']} within {timeout:g} s")
            time.sleep(0.2)
        certificates[sid] = certificate
        while True:  # until registration's record of the publication is signed into its log too
            try:
                bundle = audit.bundle(stores, contest_id, sid, [rt.signer.verifier], witnessed=rt.witness is not None)
                break
            except audit.Pending:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        path = rt.workdir / "bundles" / f"{contest_id}-{sid}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(bundle, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return certificates


def scored_stages(rt: Runtime, view: dict, regions: list[dict]) -> list[dict]:
    contest_id = view["contest_id"]
    certificates = certified(rt, contest_id, [stage["stage_id"] for stage in view["stages"]])
    townships = {r["code"]: r["name"] for r in regions}
    entries = {e["entry_id"]: e for e in view["entries"]}
    stages = []
    for stage in view["stages"]:
        sid = stage["stage_id"]
        published = rt.call("ranking", "stage_results", contest_id, sid)
        rows = rt.call("ranking", "export", contest_id, sid)
        sessions = [s for s in view["sessions"] if s["stage_id"] == sid]
        appears = {e: (s["session_id"], n) for s in sessions for n, e in enumerate(s["order"], start=1)}
        sheets: dict[str, list[dict]] = {}
        for sheet in rows["sheets"]:
            sheets.setdefault(sheet["entry_id"], []).append(
                {
                    "judge_id": sheet["judge_id"],
                    "scores": sheet["scores"],
                    "total": sheet["total"],
                    "revision": sheet["revision"],
                }
            )
        working = {r["entry_id"]: r for r in rows["standings"]}
        comments = {
            r["entry_id"]: [c for c in r["comments"] if c["strengths"] or c["suggestions"]]
            for s in sessions
            for r in rt.call("scoring", "session_results", ORGANISER, s["session_id"])["results"]
        }
        stages.append(
            {
                "id": sid,
                "name": stage["name"],
                "order": stage["order"],
                "criteria": [
                    {
                        "id": c["criterion_id"],
                        "name": c["name"],
                        "max": c["max"],
                        "weight": c["weight"],
                        "step": c["step"],
                    }
                    for c in stage["criteria"]
                ],
                "drop_rule": stage["drop_rule"],
                "advancement": stage["advancement"],
                "lot_seed": stage["lot_seed"],
                "tolerance": stage.get("tolerance"),
                "rounding": ROUNDING,
                "groups": [
                    {"id": g["group_id"], "name": g["name"], "townships": g["townships"]} for g in stage["groups"]
                ],
                "sessions": [
                    {
                        "id": s["session_id"],
                        "group": s["group_id"],
                        "starts_at": s["starts_at"],
                        "place": s.get("place", ""),
                        "draw_seed": s["seed"],
                        "order": s["order"],
                        "panel": [
                            {"judge_id": seat["judge_id"], "head": seat["head"], "reserve": seat["reserve"]}
                            for seat in s["seats"]
                        ],
                    }
                    for s in sessions
                ],
                "published": {
                    "rule_sha256": published["rule_sha256"],
                    "log_positions": published["log_positions"],
                    "next_stage": published["next_stage_id"],
                    "version": published["version"],
                },
                "versions": [
                    _version(rt.call("ranking", "stage_results", contest_id, sid, v))
                    for v in range(1, published["version"] + 1)
                ],
                "appeals": rt.call("ranking", "appeals", ORGANISER, contest_id, sid),
                "corrections": [
                    c for s in sessions for c in rt.call("scoring", "corrections", ORGANISER, s["session_id"])
                ],
                "certificate": certificates[sid],
                "calibration": {
                    k: v
                    for k, v in rt.call("ranking", "calibration", ORGANISER, contest_id, sid).items()
                    if k in ("rounding", "judges", "sessions")
                },
                "entries": [
                    dict(
                        _entry(row, entries[row["entry_id"]], townships, appears, sheets, working),
                        comments=comments[row["entry_id"]],
                    )
                    for row in published["standings"]
                ],
            }
        )
    return stages


def _version(published: dict) -> dict:
    """A published version: its digest, what it replaces and changed, and its standings in short."""
    return {
        "version": published["version"],
        "standings_sha256": published["standings_sha256"],
        **{k: published[k] for k in ("replaces_sha256", "correction_id", "diff") if k in published},
        "standings": [
            {k: r[k] for k in ("entry_id", "stage_score", "rank", "advanced")} for r in published["standings"]
        ],
    }


def _entry(row: dict, entry: dict, townships: dict, appears: dict, sheets: dict, working: dict) -> dict:
    session, order = appears[row["entry_id"]]
    return {
        "entry_id": row["entry_id"],
        "contestant_id": row["contestant_id"],
        "contestant": row["name"],
        "township": townships[entry["township_code"]],
        "township_code": entry["township_code"],
        "village_code": entry["village_code"],
        "title": entry["title"],
        "group": row["group_id"],
        "session": session,
        "order": order,
        "sheets": sorted(sheets.get(row["entry_id"], []), key=lambda s: s["judge_id"]),
        "recused": working[row["entry_id"]]["recused"],
        "dropped": {"high": working[row["entry_id"]]["dropped_high"], "low": working[row["entry_id"]]["dropped_low"]},
        "stage_score": row["stage_score"],
        "rank": row["rank"],
        "group_rank": row["group_rank"],
        "position": row["position"],
        "decided_by": row["decided_by"],
        "advanced": row["advanced"],
    }


def notifications(rt: Runtime, contest_id: str) -> dict:
    deliveries = rt.call("notify", "deliveries", ORGANISER, contest_id)
    by_kind: dict[str, Counter] = {}
    for d in deliveries:
        by_kind.setdefault(d["kind"], Counter())[f"{d['channel']}:{d['status']}"] += 1
    return {
        "deliveries": len(deliveries),
        "by_status": dict(sorted(Counter(d["status"] for d in deliveries).items())),
        "by_kind": {kind: dict(sorted(counts.items())) for kind, counts in sorted(by_kind.items())},
        "outbox": rt.outbox_counts(),
    }


def write(path: Path, scenario: str, seed: str, rt: Runtime, body: dict) -> dict:
    document = {
        "format": FORMAT,
        "scenario": scenario,
        "seed": seed,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "log_position": rt.heads(),
        **body,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=_plain) + "\n", encoding="utf-8")
    return document


def _plain(value):
    """Decimals as strings, exactly as computed, and dates in ISO form (RPC hands both over as objects)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no place in the export")


def scored_contest(rt: Runtime, contest_id: str) -> dict:
    """The export body of a scored contest, once ``rt`` has settled."""
    body, view = contest(rt, contest_id)
    return dict(body, stages=scored_stages(rt, view, body["regions"]), notifications=notifications(rt, contest_id))

"""Publishing a stage's results: when a stage may be published, and which events say so.
Pure domain code.

* A stage is published once every session scheduled in it is locked and every entry those
  sessions scored has reached the read model.
* The publication names the standings and their digest, the next stage (if any), the rule
  fingerprint, the software, the log positions it was computed at and the head version of
  every source stream it depends on (what its certificate cites); then each entry is told: ``ContestantAdvanced`` to
  the next stage or ``ContestantEliminated``. After the last stage nobody advances and the
  winners are not eliminated: only the others are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from leitai.canonical import canonical_json
from leitai.domain import Decision
from leitai.errors import RuleViolated
from leitai.messages import N_

PUBLICATIONS = ("StageResultsPublished", "StageResultsRepublished")  # version 1, then 2, 3, … after corrections


def results_stream(contest_id: str, stage_id: str) -> str:
    """One stream per stage's results: appended once, at version 0, so a second publication conflicts."""
    return f"results-{contest_id}-{stage_id}"


def check_publishable(sessions: Iterable[Mapping[str, Any]], scored_entry_ids: set[str]) -> None:
    """RuleViolated unless every session of the stage is locked and counted."""
    sessions = list(sessions)
    open_sessions = sorted(s["session_id"] for s in sessions if not s.get("locked"))
    if not sessions or open_sessions:
        problems = {"sessions_not_locked": open_sessions or [N_("(none scheduled)")]}
        raise RuleViolated(
            "every session of the stage must be locked first",
            problems,
        )
    unscored = sorted(
        e["entry_id"] for s in sessions for e in s.get("entries", []) if e["entry_id"] not in scored_entry_ids
    )
    if unscored:
        raise RuleViolated(
            "locked sessions are still being counted; try again in a moment", {"entries_not_scored": unscored}
        )


def standings_sha256(rows: list[dict[str, Any]]) -> str:
    """The digest a certificate names: SHA-256 of the standings' canonical JSON."""
    return hashlib.sha256(canonical_json(rows)).hexdigest()


def publish(
    contest_id: str,
    stage_id: str,
    rows: list[dict[str, Any]],
    next_stage_id: str | None,
    rule_sha256: str,
    log_positions: Mapping[str, int],
    streams: Mapping[str, Mapping[str, int]],
    software: str,
) -> tuple[dict[str, Any], list[Decision]]:
    """The publication's summary, and the events that record it and each entry's outcome.
    ``rows`` are the standings in their JSON form (scores as strings)."""
    ref = {"contest_id": contest_id, "stage_id": stage_id}
    summary = dict(
        ref,
        next_stage_id=next_stage_id,
        standings=rows,
        rule_sha256=rule_sha256,
        log_positions=dict(log_positions),
        standings_sha256=standings_sha256(rows),
        software_version=software,
        streams={k: dict(v) for k, v in streams.items()},
    )
    decisions = [Decision("StageResultsPublished", summary)]
    for row in rows:
        if row["advanced"] and not next_stage_id:
            continue  # the last stage: nobody goes on, nobody is eliminated
        outcome = dict(
            ref,
            entry_id=row["entry_id"],
            contestant_id=row["contestant_id"],
            rank=row["rank"],
            stage_score=row["stage_score"],
        )
        if row["advanced"]:
            decisions.append(Decision("ContestantAdvanced", dict(outcome, next_stage_id=next_stage_id)))
        else:
            decisions.append(Decision("ContestantEliminated", outcome))
    return summary, decisions


def differences(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each entry whose score, rank or advancement differs between two versions of the standings."""

    # scores as their text: the stored event's and the new rows' agree
    def outcome(row: Mapping[str, Any]) -> dict[str, Any]:
        return {"stage_score": str(row["stage_score"]), "rank": row["rank"], "advanced": row["advanced"]}

    earlier = {row["entry_id"]: outcome(row) for row in before}
    changed = []
    for row in after:
        old = earlier.get(row["entry_id"])
        if old is not None and old != outcome(row):
            changed.append(
                {
                    "entry_id": row["entry_id"],
                    "contestant_id": row["contestant_id"],
                    "name": row["name"],
                    "before": old,
                    "after": outcome(row),
                }
            )
    return changed


def republish(
    latest: Mapping[str, Any],
    version: int,
    rows: list[dict[str, Any]],
    rule_sha256: str,
    log_positions: Mapping[str, int],
    streams: Mapping[str, Mapping[str, int]],
    software: str,
    correction: Mapping[str, Any],
) -> tuple[dict[str, Any], Decision]:
    """The stage published again after an approved ``correction`` (its EntryRescored payload),
    as version ``version``, naming what it replaces and what changed. Its rows say who
    advances under the new standings; no entry is moved between stages by it."""
    summary, _ = publish(
        latest["contest_id"],
        latest["stage_id"],
        rows,
        latest.get("next_stage_id"),
        rule_sha256,
        log_positions,
        streams,
        software,
    )
    summary.update(
        version=version,
        replaces_sha256=latest["standings_sha256"],
        correction_id=correction["correction_id"],
        corrected_session_id=correction["session_id"],
        corrected_judge_id=correction["judge_id"],
        diff=differences(latest["standings"], rows),
    )
    return summary, Decision("StageResultsRepublished", summary)

"""Ranking's pure parts: what each event writes to the read model, and what a publication
decides."""

from __future__ import annotations

import hashlib
import uuid
from types import SimpleNamespace

import pytest

from leitai.canonical import canonical_json
from leitai.errors import RuleViolated
from services.ranking.projection import writes_for
from services.ranking.publication import check_publishable, publish


def event(kind: str, position: int = 7) -> SimpleNamespace:
    return SimpleNamespace(
        type=kind,
        position=position,
        event_id=uuid.uuid4(),
        stream_id="s-1",
        stream_version=3,
        occurred_at="2026-05-01T09:00:00.000000Z",
    )


SHEET = {
    "contest_id": "c",
    "session_id": "s1",
    "entry_id": "e1",
    "judge_id": "J1",
    "scores": {"a": "20"},
    "total": "20",
    "revision": 2,
    "strengths": "",
    "suggestions": "",
}


def test_a_sheet_is_written_only_over_a_lower_revision_and_every_event_moves_its_log_position():
    sheet, seen, *_ = writes_for(event("ScoreSheetRevised", 12), SHEET)
    assert (sheet.collection, sheet.key, sheet.newer_than_revision) == ("sheets", "s1:e1:J1", 2)
    assert sheet.set == {
        k: SHEET[k] for k in ("contest_id", "session_id", "entry_id", "judge_id", "scores", "total", "revision")
    } | {"position": 12}
    assert (seen.collection, seen.key, seen.positions) == ("positions", "scoring", {"position": 12})


def test_a_lock_marks_the_session_and_a_publication_is_kept_whole():
    [locked, *_] = writes_for(event("SessionLocked", 30), {"contest_id": "c", "session_id": "s1"})
    assert (locked.collection, locked.key, locked.set) == ("sessions", "s1", {"locked": True, "locked_position": 30})
    published = {"contest_id": "c", "stage_id": "p", "standings": [], "next_stage_id": None}
    [kept, version, seen, *_] = writes_for(event("StageResultsPublished", 3), published)
    assert (kept.key, kept.set) == ("c:p", dict(published, version=1, revision=1, event_position=3))
    assert (version.collection, version.key, version.set) == ("publications", "c:p:1", kept.set)
    assert seen.key == "ranking"
    # a later version replaces it, whatever order they come in; every version stays
    [later, *_] = writes_for(event("StageResultsRepublished", 9), dict(published, version=2))
    assert (later.key, later.newer_than_revision, kept.newer_than_revision) == ("c:p", 2, 1)


def test_an_opened_session_keeps_its_entries_and_its_seated_panel_without_reserves():
    opened = {
        "contest_id": "c",
        "session_id": "s1",
        "stage_id": "p",
        "group_id": "g",
        "entries": [{"entry_id": "e1", "name": "甲", "order": 1, "contestant_id": "x", "township_code": "t"}],
        "panel": [{"judge_id": "J1", "reserve": False}, {"judge_id": "R", "reserve": True}],
    }
    [session, *_] = writes_for(event("SessionOpened"), opened)
    assert session.set["entries"] == [{"entry_id": "e1", "name": "甲", "order": 1}]
    assert session.set["panel"] == ["J1"] and session.set["opened"] is True


def test_an_event_ranking_does_not_project_is_refused():
    with pytest.raises(ValueError, match="does not project"):
        writes_for(event("EntryWithdrawn"), {"contest_id": "c"})


ROWS = [
    {"entry_id": f"e{n}", "contestant_id": f"p{n}", "rank": n, "stage_score": f"{90 - n}.00", "advanced": n <= 2}
    for n in (1, 2, 3)
]


def test_a_publication_advances_to_the_next_stage_and_eliminates_the_rest():
    summary, decisions = publish(
        "c", "p", ROWS, "final", "f" * 64, {"scoring": 40}, {"scoring": {"session-s1": 9}}, "leitai 9.9"
    )
    assert summary["log_positions"] == {"scoring": 40} and summary["next_stage_id"] == "final"
    assert summary["streams"] == {"scoring": {"session-s1": 9}} and summary["software_version"] == "leitai 9.9"
    assert summary["standings_sha256"] == hashlib.sha256(canonical_json(ROWS)).hexdigest()
    assert [(d.type, d.payload.get("entry_id")) for d in decisions] == [
        ("StageResultsPublished", None),
        ("ContestantAdvanced", "e1"),
        ("ContestantAdvanced", "e2"),
        ("ContestantEliminated", "e3"),
    ]
    assert decisions[1].payload["next_stage_id"] == "final" and "next_stage_id" not in decisions[3].payload


def test_after_the_last_stage_nobody_advances_and_the_winners_are_not_eliminated():
    _, decisions = publish("c", "final", ROWS, None, "f" * 64, {}, {}, "leitai 9.9")
    assert [(d.type, d.payload.get("entry_id")) for d in decisions] == [
        ("StageResultsPublished", None),
        ("ContestantEliminated", "e3"),
    ]


def test_a_stage_is_publishable_only_with_every_session_locked_and_counted():
    with pytest.raises(RuleViolated) as refused:
        check_publishable([], set())
    assert refused.value.details == {"sessions_not_locked": ["(none scheduled)"]}
    sessions = [
        {"session_id": "s1", "locked": True, "entries": [{"entry_id": "e1"}, {"entry_id": "e2"}]},
        {"session_id": "s2", "locked": False, "entries": []},
    ]
    with pytest.raises(RuleViolated) as refused:
        check_publishable(sessions, {"e1", "e2"})
    assert refused.value.details == {"sessions_not_locked": ["s2"]}
    with pytest.raises(RuleViolated, match="still being counted") as refused:
        check_publishable(sessions[:1], {"e1"})
    assert refused.value.details == {"entries_not_scored": ["e2"]}
    check_publishable(sessions[:1], {"e1", "e2"})


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_moment_past_what_a_clock_can_name_is_refused_not_a_500(as_of):
    from leitai.errors import InvalidInput
    from services.ranking.board import scored_as_of

    with pytest.raises(InvalidInput, match="as_of is out of range"):
        scored_as_of([], as_of)

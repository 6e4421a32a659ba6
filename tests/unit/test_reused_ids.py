"""An id the client chose, used again for something else, is a 409 naming it, never a 500: a
sheet's submission_id is its event's id, which the store refuses in any other append (its
EventIdReused), in the same session or another."""

from __future__ import annotations

import pytest

from leitai.errors import Conflict
from services.gateway.http import status_of
from tests.unit.test_service_layer import ORG, judge, opened, prelim_published, registered, score, sub


def test_a_submission_id_used_again_for_another_sheet_is_a_409_naming_it_and_writes_nothing():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    opened(system, "s2", "prelim", "g2")
    first = system.scoring.submit_sheet(judge("J2"), "s1", "e1", sub("sheet"), {"a": "20", "b": "20"})
    before = {s: len(system.events("scoring", f"scoring-{s}")) for s in ("s1", "s2")}
    refusal = f"submission_id {sub('sheet')} was already used for another sheet; use a new one"
    for session, entry in (("s2", "e4"), ("s1", "e2")):  # a sheet of another session, another entry
        with pytest.raises(Conflict) as refused:
            system.scoring.submit_sheet(judge("J2"), session, entry, sub("sheet"), {"a": "20", "b": "20"})
        assert refused.value.message == refusal and refused.value.details == {"submission_id": sub("sheet")}
        assert status_of(refused.value) == (409, "conflict")
    assert {s: len(system.events("scoring", f"scoring-{s}")) for s in ("s1", "s2")} == before
    # the same sheet sent again still answers as the first time; a new id is taken
    assert system.scoring.submit_sheet(judge("J2"), "s1", "e1", sub("sheet"), {"a": "20", "b": "20"}) == first
    assert system.scoring.submit_sheet(judge("J2"), "s2", "e4", sub("fresh"), {"a": "20", "b": "20"})["revision"] == 1


def test_a_submission_id_that_is_the_id_of_another_event_is_a_409_too():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    opened(system, "s2", "prelim", "g2")
    score(system, "s1", ["e1", "e2", "e3"])
    system.scoring.lock_session(ORG, "s1")
    lock = str(system.events("scoring", "scoring-s1")[-1].event_id)  # an event no sheet was sent with
    with pytest.raises(Conflict, match=f"submission_id {lock} was already used for another sheet"):
        system.scoring.submit_sheet(judge("J2"), "s2", "e4", lock, {"a": "20", "b": "20"})


def test_a_correction_id_used_again_in_another_session_of_the_contest_is_a_409_and_writes_nothing():
    """Ranking publishes a stage again once per correction id and registration keys an
    advancement change by it: a second correction of the same id elsewhere in the contest would
    be approved and never republished. Its proposal's event id follows from the contest and the
    correction id, so the store refuses it."""
    system = prelim_published()
    change = {"kind": "change_score", "judge_id": "J2", "scores": {"a": "10", "b": "10"}, "reason": "录入错误"}
    first = system.scoring.propose_correction(ORG, "s1", dict(change, correction_id="fix-1", entry_id="e1"))
    before = {s: len(system.events("scoring", f"scoring-{s}")) for s in ("s1", "s2")}
    with pytest.raises(Conflict) as refused:
        system.scoring.propose_correction(ORG, "s2", dict(change, correction_id="fix-1", entry_id="e4"))
    assert refused.value.message == "correction_id fix-1 was already used in this contest; use a new one"
    assert status_of(refused.value) == (409, "conflict")
    assert {s: len(system.events("scoring", f"scoring-{s}")) for s in ("s1", "s2")} == before
    # the same proposal again answers as the first time; a new id is taken
    assert system.scoring.propose_correction(ORG, "s1", dict(change, correction_id="fix-1", entry_id="e1")) == first
    assert system.scoring.propose_correction(ORG, "s2", dict(change, correction_id="fix-2", entry_id="e4"))

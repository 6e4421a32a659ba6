"""An id the client chose, used again for something else, is a 409 naming it, never a 500: a
sheet's submission_id is its event's id, which the store refuses in any other append (its
EventIdReused), in the same session or another."""

from __future__ import annotations

import pytest

from leitai.errors import Conflict
from services.gateway.http import status_of
from tests.unit.test_service_layer import ORG, judge, opened, registered, score, sub


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

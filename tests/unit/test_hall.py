"""现场亮分: the hall's screen shows each contestant once their panel is complete (each seat's
total, the drops, the score) and the running standings; before, only how many sheets are in.
Against the in-memory system."""

from __future__ import annotations

import pytest

from leitai.errors import Forbidden
from tests.unit.test_service_layer import ORG, SCREEN, judge, opened, registered, scheduled, score, sub

THEIR_SCREEN = {"role": "screen", "id": "hall", "contest": "d"}


def test_the_hall_shows_an_entry_once_its_panel_is_complete_and_the_standings_so_far():
    system = registered()
    opened(system, "s1", "prelim", "g1")  # J1 (the head, seat 1) stands aside for t1: R sits in
    view = system.scoring.hall(SCREEN, "s1")
    assert [e["complete"] for e in view["entries"]] == [False, False, False] and view["standings"] == []
    assert view["on_stage"] == view["entries"][0]["entry_id"] and view["entries"][0]["sheets_expected"] == 3
    first, second = view["entries"][0]["entry_id"], view["entries"][1]["entry_id"]
    system.scoring.submit_sheet(judge("J2"), "s1", first, sub("h1"), {"a": "20", "b": "20"})
    partial = system.scoring.hall(SCREEN, "s1")["entries"][0]
    assert (partial["complete"], partial["sheets_in"], "seats" in partial) == (False, 1, False)  # no score yet
    score(system, "s1", [first, second])
    view = system.scoring.hall(SCREEN, "s1")
    shown = view["entries"][0]
    assert shown["complete"] and [s["seat"] for s in shown["seats"]] == [2, 3, 4]  # J2, J3 and R: seats, no names
    assert all(not s["dropped"] for s in shown["seats"]) and "judge_id" not in str(shown["seats"])
    assert [r["entry_id"] for r in view["standings"]] == sorted(
        [first, second], key=lambda e: -float(next(x for x in view["entries"] if x["entry_id"] == e)["stage_score"])
    )
    assert view["on_stage"] == view["entries"][2]["entry_id"]
    assert system.scoring.hall(ORG, "s1")["standings"] == view["standings"]
    assert (view["contest_id"], view["starts_at"]) == ("c", "2021-06-01T09:00:00+08:00")  # the screen's heading


def test_only_this_contests_screen_and_organisers_see_the_hall():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    with pytest.raises(Forbidden, match="this grant is for contest d"):
        system.scoring.hall(THEIR_SCREEN, "s1")
    with pytest.raises(Forbidden, match="only an organiser or a screen may see a hall's live scores"):
        system.scoring.hall(judge("J2"), "s1")


def test_a_judge_standing_aside_with_no_reserve_to_sit_in_leaves_the_panel_complete_without_them():
    system = registered()
    seats = [{"judge_id": j, "head": j == "J2", "reserve": False} for j in ("J1", "J2", "J3")]  # no reserve
    scheduled(system, "s1", "prelim", "g1")
    system.registration.seat_panel(ORG, "c", "s1", seats)
    system.registration.draw_order(ORG, "c", "s1")
    system.registration.open_session(ORG, "c", "s1")
    system.deliver()
    first = system.scoring.hall(SCREEN, "s1")["entries"][0]
    for j in ("J2", "J3"):  # J1 stands aside for t1
        system.scoring.submit_sheet(judge(j), "s1", first["entry_id"], sub(f"n-{j}"), {"a": "20", "b": "20"})
    shown = system.scoring.hall(SCREEN, "s1")["entries"][0]
    assert shown["complete"] and shown["sheets_expected"] == 2 and shown["stage_score"] == "40.00"


def test_once_locked_every_entry_scored_is_on_the_hall_a_missing_sheet_or_not():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    entries = [e["entry_id"] for e in system.scoring.hall(SCREEN, "s1")["entries"]]
    score(system, "s1", entries[:2])
    system.scoring.submit_sheet(judge("J2"), "s1", entries[2], sub("only-one"), {"a": "25", "b": "25"})
    assert len(system.scoring.hall(SCREEN, "s1")["standings"]) == 2  # the third waits for its panel
    system.scoring.lock_session(ORG, "s1", override_reason="缺评已核实")
    view = system.scoring.hall(SCREEN, "s1")
    assert view["locked"] and len(view["standings"]) == 3 and all(e["complete"] for e in view["entries"])

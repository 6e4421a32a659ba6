"""Corrections of a locked session (复核): proposed by one person, in effect once a second one
approves; rejected or withdrawn ones change nothing; every step cites what it corrects."""

from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from leitai.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolated
from tests.unit.test_scoring_session import session_with


def applied(session, decisions, start=100):
    for n, decision in enumerate(decisions, start=start):
        session.apply(
            SimpleNamespace(
                type=decision.type, payload=decision.payload, stream_version=n, event_id=decision.event_id or f"ev{n}"
            )
        )
    return session


def locked():
    # J2 stands aside from e1 (same township), J3 from e2 (a declared conflict): the reserve R sits in
    session = session_with(
        ("H", "e1", "40", "40"),
        ("J3", "e1", "30", "30"),
        ("R", "e1", "35", "35"),
        ("H", "e2", "40", "40"),
        ("J2", "e2", "20", "20"),
    )
    return applied(session, session.lock("org", organiser=True, override_reason="e2 is far apart"), start=50)


def test_a_changed_score_takes_effect_only_when_a_second_person_approves_it():
    session = locked()
    cited = session.sheets[("e1", "J3")].submission_id
    proposal, decisions = session.propose(
        "org1",
        "organiser",
        "k1",
        "change_score",
        "e1",
        "J3",
        {"a": D("38"), "b": D("38")},
        "录入错误：应为38",
        "appeal-1",
    )
    assert [d.type for d in decisions] == ["CorrectionProposed"] and decisions[0].payload["cites"] == cited
    applied(session, decisions)
    assert session.sheets[("e1", "J3")].total == D("60")  # nothing changed yet
    with pytest.raises(Conflict, match="of this sheet is open"):
        session.propose("org2", "organiser", "k9", "void_sheet", "e1", "J3", None, "another view", None)
    with pytest.raises(Forbidden, match="proposer"):
        session.approve("org1", "organiser", "k1")
    approved, decisions = session.approve("inspector", "supervisor", "k1")
    assert [d.type for d in decisions] == ["CorrectionApproved", "ScoreSheetCorrected", "EntryRescored"]
    corrected, rescored = decisions[1].payload, decisions[2].payload
    assert (corrected["total"], corrected["revision"], corrected["cites"]) == (D("76"), 2, cited)
    assert rescored["correction_id"] == "k1" and rescored["stage_score"] == D("75.33")  # (80 + 76 + 70) / 3
    applied(session, decisions, start=200)
    assert session.sheets[("e1", "J3")].total == D("76") and session.scored["e1"]["correction_id"] == "k1"
    assert session.approve("inspector", "supervisor", "k1")[1] == []  # approved twice: once
    with pytest.raises(Conflict, match="approved already"):
        session.reject("inspector", "supervisor", "k1", "too late")


def test_a_sheet_voided_for_a_missed_recusal_leaves_the_entry_scored_without_it():
    session = locked()
    applied(
        session, session.propose("org1", "organiser", "k2", "void_sheet", "e1", "J3", None, "应回避未回避", None)[1]
    )
    _, decisions = session.approve("org2", "organiser", "k2")
    assert decisions[1].type == "ScoreSheetVoided" and decisions[1].payload["cites"]
    assert sorted(s["judge_id"] for s in decisions[2].payload["sheets"]) == ["H", "R"]
    assert decisions[2].payload["stage_score"] == D("75.00")  # (80 + 70) / 2
    applied(session, decisions)
    assert ("e1", "J3") not in session.sheets


def test_rejected_and_withdrawn_proposals_change_nothing_and_only_the_proposer_withdraws():
    session = locked()
    with pytest.raises(RuleViolated, match="recused"):  # J3 declared a conflict with e2's contestant
        session.propose("org1", "organiser", "k", "add_sheet", "e2", "J3", {"a": D("25"), "b": D("25")}, "x", None)
    applied(
        session,
        session.propose(
            "org1", "organiser", "k3", "add_sheet", "e2", "R", {"a": D("25"), "b": D("25")}, "漏录一张评分表", None
        )[1],
    )
    with pytest.raises(Forbidden, match="only the proposer"):
        session.withdraw("org2", "organiser", "k3")
    rejected, decisions = session.reject("org2", "organiser", "k3", "原件无此表")
    assert [d.type for d in decisions] == ["CorrectionRejected"]
    applied(session, decisions)
    assert ("e2", "R") not in session.sheets
    with pytest.raises(Conflict):
        session.approve("org2", "organiser", "k3")
    applied(
        session,
        session.propose(
            "org1", "organiser", "k4", "change_score", "e2", "J2", {"a": D("21"), "b": D("20")}, "笔误", None
        )[1],
    )
    applied(session, session.withdraw("org1", "organiser", "k4")[1])
    assert session.corrections["k4"]["status"] == "withdrawn" and session.sheets[("e2", "J2")].total == D("40")


def test_bad_proposals_are_refused_and_a_repeat_is_answered_with_the_record():
    session = session_with(("H", "e1", "40", "40"))
    with pytest.raises(RuleViolated, match="not locked"):
        session.propose("org1", "organiser", "k", "change_score", "e1", "H", {"a": D("1"), "b": D("1")}, "x", None)
    session = locked()
    with pytest.raises(NotFound, match="no sheet"):
        session.propose("org1", "organiser", "k", "change_score", "e2", "R", {"a": D("1"), "b": D("1")}, "x", None)
    with pytest.raises(InvalidInput):
        session.propose(
            "org1", "organiser", "k", "change_score", "e1", "H", {"a": D("51"), "b": D("1")}, "x", None
        )  # above max
    with pytest.raises(InvalidInput, match="the sheet's own"):
        session.propose("org1", "organiser", "k", "change_score", "e1", "H", {"a": D("40"), "b": D("40")}, "x", None)
    with pytest.raises(Conflict, match="has a sheet"):
        session.propose("org1", "organiser", "k", "add_sheet", "e1", "H", {"a": D("1"), "b": D("1")}, "x", None)
    with pytest.raises(NotFound, match="no correction"):
        session.approve("org2", "organiser", "nope")
    decisions = session.propose("org1", "organiser", "k5", "void_sheet", "e1", "H", None, "x", None)[1]
    applied(session, decisions)
    assert session.propose("org1", "organiser", "k5", "void_sheet", "e1", "H", None, "x", None)[1] == []
    with pytest.raises(Conflict, match="another correction"):
        session.propose("org1", "organiser", "k5", "void_sheet", "e1", "R", None, "x", None)

from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from leitai.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolated
from services.scoring.session import ScoringSession, SessionPlan

PLAN = {
    "contest_id": "c",
    "session_id": "s",
    "stage_id": "p",
    "group_id": "g",
    "tolerance": "10",
    "criteria": [
        {"criterion_id": "a", "name": "甲", "max": "50", "weight": "1", "step": "0.5"},
        {"criterion_id": "b", "name": "乙", "max": "50", "weight": "1", "step": "0.5"},
    ],
    "drop_rule": [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}, {"min_sheets": 5, "drop_high": 1, "drop_low": 1}],
    "panel": [
        {"judge_id": "H", "name": "主评委", "township_code": "t9", "head": True, "reserve": False},
        {"judge_id": "J2", "name": "评委2", "township_code": "t1", "head": False, "reserve": False},
        {
            "judge_id": "J3",
            "name": "评委3",
            "township_code": "t9",
            "head": False,
            "reserve": False,
            "conflicts": ["c-2"],
        },
        {"judge_id": "R", "name": "候补", "township_code": "t9", "head": False, "reserve": True},
    ],
    "entries": [
        {"entry_id": "e1", "contestant_id": "c-1", "name": "甲书记", "township_code": "t1", "order": 1},
        {"entry_id": "e2", "contestant_id": "c-2", "name": "乙书记", "township_code": "t2", "order": 2},
    ],
}


def session_with(*sheets) -> ScoringSession:
    """Fold decisions as the store would hand the events back."""
    session = ScoringSession(SessionPlan.from_payload(PLAN))
    version = 0
    for judge, entry, a, b in sheets:
        _, decisions = session.submit(judge, entry, f"sub-{judge}-{entry}-{version}", {"a": D(a), "b": D(b)}, "", "")
        for decision in decisions:
            version += 1
            session.apply(
                SimpleNamespace(
                    type=decision.type,
                    payload=decision.payload,
                    stream_version=version,
                    event_id=decision.event_id or f"ev{version}",
                )
            )
    return session


def test_a_judge_from_the_contestants_township_or_with_a_declared_conflict_is_recused():
    session = session_with()
    with pytest.raises(RuleViolated, match="township"):
        session.submit("J2", "e1", "x", {"a": D(1), "b": D(1)}, "", "")
    with pytest.raises(RuleViolated, match="conflict"):
        session.submit("J3", "e2", "x", {"a": D(1), "b": D(1)}, "", "")


def test_a_reserve_judge_scores_only_where_a_seated_judge_is_recused():
    e3 = {"entry_id": "e3", "contestant_id": "c-3", "name": "丙书记", "township_code": "t3", "order": 3}
    session = ScoringSession(SessionPlan.from_payload(dict(PLAN, entries=[*PLAN["entries"], e3])))
    with pytest.raises(RuleViolated, match="reserve"):
        session.submit("R", "e3", "x", {"a": D(1), "b": D(1)}, "", "")  # nobody is recused from e3
    session = session_with(("R", "e1", "20", "20"))  # J2 is recused from e1
    assert session.totals("e1") == {"R": D(40)}


def test_order_of_refusals_seated_then_entry_then_lock_then_recusal_then_scores():
    session = session_with()
    with pytest.raises(Forbidden):
        session.submit("X", "e1", "x", {"a": D(1), "b": D(1)}, "", "")
    with pytest.raises(NotFound):
        session.submit("H", "e9", "x", {"a": D(1), "b": D(1)}, "", "")
    with pytest.raises(InvalidInput) as error:
        session.submit("H", "e1", "x", {"a": D(51), "b": D("1.2")}, "", "")
    assert set(error.value.details) == {"scores.a", "scores.b"}
    with pytest.raises(RuleViolated, match="recused"):  # recusal is decided before the scores are read
        session.submit("J2", "e1", "x", {"a": D(51), "b": D("1.2")}, "", "")
    session.apply(SimpleNamespace(type="SessionLocked", payload={}, stream_version=1, event_id="lock"))
    with pytest.raises(Conflict, match="locked"):  # and the lock before recusal
        session.submit("J2", "e1", "x", {"a": D(51), "b": D("1.2")}, "", "")
    with pytest.raises(NotFound):  # but an unknown entry is unknown, locked or not
        session.submit("H", "e9", "x", {"a": D(1), "b": D(1)}, "", "")


def test_a_revision_is_a_new_revision_of_the_same_sheet():
    session = session_with(("H", "e1", "20", "20"), ("H", "e1", "25", "20"))
    assert session.sheets[("e1", "H")].revision == 2 and session.totals("e1") == {"H": D(45)}


def test_a_sheet_far_from_the_median_is_flagged_and_locking_then_needs_a_reason():
    session = session_with(
        ("H", "e1", "40", "40"),
        ("J3", "e1", "40", "41"),
        ("R", "e1", "10", "10"),
        ("H", "e2", "30", "30"),
        ("J2", "e2", "30", "30"),
    )
    assert ("e1", "R", 1) in session.flagged
    assert session.open_flags("e1") == ["R"]
    with pytest.raises(RuleViolated) as refused:
        session.lock("H", organiser=False, override_reason=None)
    assert refused.value.details["open_flags"] == {"e1": ["R"]}
    decisions = session.lock("H", organiser=False, override_reason="候补评委打分已复核")
    locked = decisions[-1].payload
    assert locked["override_reason"] == "候补评委打分已复核" and locked["open_flags"] == 1


def test_missing_sheets_block_the_lock_without_a_reason():
    session = session_with(("H", "e1", "40", "40"), ("H", "e2", "40", "40"), ("J2", "e2", "30", "30"))
    with pytest.raises(RuleViolated) as refused:
        session.lock("H", organiser=False, override_reason=None)
    assert refused.value.details["missing_sheets"] == {"e1": ["J3"]}


def test_only_the_head_judge_or_an_organiser_locks_and_only_once():
    session = session_with(
        ("H", "e1", "40", "40"), ("J3", "e1", "40", "40"), ("H", "e2", "40", "40"), ("J2", "e2", "40", "40")
    )
    with pytest.raises(Forbidden):
        session.lock("J2", organiser=False, override_reason=None)
    decisions = session.lock("org", organiser=True, override_reason=None)
    assert [d.type for d in decisions] == ["EntryScored", "EntryScored", "SessionLocked"]
    session.apply(SimpleNamespace(type="SessionLocked", payload=decisions[-1].payload, stream_version=99, event_id="e"))
    with pytest.raises(Conflict):
        session.lock("org", organiser=True, override_reason=None)
    with pytest.raises(Conflict):
        session.submit("H", "e1", "late", {"a": D(1), "b": D(1)}, "", "")


def flags_of(decisions) -> list[tuple[str, str, int]]:
    return [(d.type, d.payload["judge_id"], d.payload["revision"]) for d in decisions if "ToleranceFlag" in d.type]


def test_no_flag_until_the_panel_is_complete_and_then_one_for_each_sheet_off_the_median():
    session = session_with(("H", "e2", "40", "40"))  # e2: H and J2, and R for J3, who stands aside
    far = session.submit("J2", "e2", "x2", {"a": D(10), "b": D(10)}, "", "")[1]
    assert flags_of(far) == [] and session.open_flags("e2") == []  # two sheets: whose is off?
    for d in far:
        session.apply(SimpleNamespace(type=d.type, payload=d.payload, stream_version=2, event_id=d.event_id))
    last = session.submit("R", "e2", "x3", {"a": D(39), "b": D(40)}, "", "")[1]
    assert flags_of(last) == [("ToleranceFlagRaised", "J2", 1)]


def test_a_flag_is_withdrawn_when_a_revision_brings_the_sheet_back_and_raised_again_when_it_stays_off():
    e1 = [("H", "e1", "40", "40"), ("J3", "e1", "40", "40"), ("R", "e1", "40", "40")]
    session = session_with(*e1, ("H", "e2", "40", "40"), ("J2", "e2", "10", "10"), ("R", "e2", "39", "40"))
    assert session.open_flags("e2") == ["J2"]
    still_off = session.submit("J2", "e2", "y1", {"a": D(15), "b": D(15)}, "", "")[1]
    assert flags_of(still_off) == [("ToleranceFlagWithdrawn", "J2", 1), ("ToleranceFlagRaised", "J2", 2)]
    for n, d in enumerate(still_off, start=10):
        session.apply(SimpleNamespace(type=d.type, payload=d.payload, stream_version=n, event_id=str(n)))
    assert session.open_flags("e2") == ["J2"]
    back = session.submit("J2", "e2", "y2", {"a": D(38), "b": D(38)}, "", "")[1]
    assert flags_of(back) == [("ToleranceFlagWithdrawn", "J2", 2)]
    for n, d in enumerate(back, start=20):
        session.apply(SimpleNamespace(type=d.type, payload=d.payload, stream_version=n, event_id=str(n)))
    assert session.open_flags("e2") == []
    assert session.lock("H", organiser=False, override_reason=None)  # nothing left to review: no reason needed

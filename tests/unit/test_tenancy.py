"""Tenancy: a grant reaches its contest, its office's contests, or (the operator's) every one;
every service refuses a grant that does not reach what it acts on, whatever its role, and ids
are not identities (a judge J1 of another contest is not our J1). Against the in-memory system:
the services' own checks, without the gateway's in front of them."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from leitai.access import Place, reaches, require
from leitai.errors import Conflict, Forbidden, NotFound
from leitai.grants import GrantSchema
from services.gateway import schemas
from services.gateway.places import Places
from tests.unit.test_service_layer import ORG, PRELIM, SEATS, body, opened, prelim_locked, registered, sub

OURS = Place("c", "cty")
# another county's grants, with the same ids as ours
THEIR_ORGANISER = {"role": "organiser", "id": "org1", "office": "other"}
THEIR_SUPERVISOR = {"role": "supervisor", "id": "inspector1", "office": "other"}
THEIR_SCREEN = {"role": "screen", "id": "hall", "contest": "d"}
THEIR_J1 = {"role": "judge", "id": "J1", "contest": "d"}
EVERYWHERE = {"role": "organiser", "id": "operator", "deployment": True}
AT = "2021-06-01T09:00:00+08:00"


@pytest.mark.parametrize(
    "grant, reached",
    [
        ({"contest": "c"}, True),
        ({"contest": "d"}, False),
        ({"office": "cty"}, True),
        ({"office": "other"}, False),
        ({"deployment": True}, True),
        ({"deployment": "yes"}, False),  # only a grant that says so, as the schema loads it
        ({}, False),  # no scope reaches nothing
    ],
)
def test_a_grant_reaches_its_contest_its_offices_contests_or_everywhere(grant, reached):
    assert reaches({"role": "organiser", "id": "o"} | grant, OURS) is reached


def test_an_office_grant_does_not_reach_a_contest_whose_office_is_unknown():
    assert not reaches({"role": "organiser", "id": "o", "office": "cty"}, Place("c", None))


def test_a_refusal_says_whose_the_grant_is():
    with pytest.raises(Forbidden, match="^this grant is for the contests of office other, not for contest c$"):
        require(THEIR_ORGANISER, "define_stage", OURS)
    with pytest.raises(Forbidden, match="^this grant is for contest d, not for contest c$"):
        require(THEIR_J1, "submit_sheet", OURS)
    with pytest.raises(Forbidden, match="^only an organiser may define a stage$"):  # the role first
        require(THEIR_J1, "define_stage", OURS)


def test_a_check_names_its_place_exactly_when_its_action_acts_on_a_contest():
    with pytest.raises(TypeError):
        require(ORG, "define_stage", None)
    with pytest.raises(TypeError):
        require(ORG, "list_contests", OURS)


@pytest.mark.parametrize(
    "grant, says",
    [
        ({"role": "organiser", "id": "o"}, "exactly one scope"),
        ({"role": "organiser", "id": "o", "contest": "c", "office": "cty"}, "exactly one scope"),
        ({"role": "judge", "id": "J1", "office": "cty"}, "names its contest"),
        ({"role": "judge", "id": "J1", "deployment": True}, "names its contest"),
        ({"role": "organiser", "id": "o", "deployment": False}, "exactly one scope"),
    ],
)
def test_a_grant_names_exactly_one_scope_and_a_judges_is_a_contest(grant, says):
    with pytest.raises(ValidationError, match=says):
        GrantSchema().load(grant)


def test_a_loaded_grant_is_the_actor_the_services_see():
    assert GrantSchema().load({"role": "judge", "id": "J1", "contest": "c"}) == {
        "role": "judge",
        "id": "J1",
        "contest": "c",
    }
    assert GrantSchema().load({"role": "organiser", "id": "o", "deployment": True}) == EVERYWHERE | {"id": "o"}


def test_another_countys_organiser_is_refused_every_command_and_changes_nothing():
    system = registered()
    system.deliver()
    reg = system.registration
    before = reg.contest_view(ORG, "c")
    commands = [
        lambda: reg.define_stage(THEIR_ORGANISER, "c", {"stage_id": "x"}),
        lambda: reg.register_judge(THEIR_ORGANISER, "c", {"judge_id": "J9", "name": "九"}),
        lambda: reg.submit_entries(THEIR_ORGANISER, "c", []),
        lambda: reg.register_roster(THEIR_ORGANISER, "c", [{"judge_id": "J9", "name": "九"}], []),
        lambda: reg.roster_basis(THEIR_ORGANISER, "c"),
        lambda: reg.withdraw_entry(THEIR_ORGANISER, "c", "e1", "no"),
        lambda: reg.schedule_session(THEIR_ORGANISER, "c", {"session_id": "x"}),
        lambda: reg.seat_panel(THEIR_ORGANISER, "c", "s1", SEATS),
        lambda: reg.draw_order(THEIR_ORGANISER, "c", "s1"),
        lambda: reg.open_session(THEIR_ORGANISER, "c", "s1"),
        lambda: reg.create_series(THEIR_ORGANISER, "c", {"series_id": "x"}),
        lambda: reg.decide_advancement(THEIR_ORGANISER, "c", "change-x", {"action": "apply", "reason": "r"}),
        # a contest in our county, or one with our contest's id, is not theirs to create
        lambda: reg.create_contest(
            THEIR_ORGANISER,
            {"contest_id": "x", "name": "擂台", "tree_id": "tree", "county_code": "cty", "format": "knockout"},
        ),
        lambda: reg.create_contest(
            THEIR_ORGANISER,
            {"contest_id": "c", "name": "擂台", "tree_id": "tree", "county_code": "other", "format": "knockout"},
        ),
    ]
    for command in commands:
        with pytest.raises(Forbidden, match="this grant is for the contests of office other"):
            command()
    assert reg.contest_view(ORG, "c") == before
    assert system.deliver() == []
    # a region tree our contest stands on is replaced by the operator's grant alone
    with pytest.raises(Forbidden, match="only a deployment-wide grant"):
        reg.import_regions(THEIR_ORGANISER, "tree", [{"code": "x", "name": "x", "level": "county", "parent": None}])
    # what they see of it is what the public sees: no panels, no contacts
    assert reg.contest_view(THEIR_ORGANISER, "c") == reg.contest_view({"role": "public", "id": "public"}, "c")


def test_scoring_ranking_and_notify_refuse_another_countys_grants_too():
    system = prelim_locked()
    refused = [
        lambda: system.scoring.lock_session(THEIR_ORGANISER, "s1"),
        lambda: system.scoring.session_status(THEIR_ORGANISER, "s1"),
        lambda: system.scoring.corrections(THEIR_SUPERVISOR, "s1"),
        lambda: system.scoring.propose_correction(THEIR_ORGANISER, "s1", {}),
        lambda: system.scoring.decide_correction(THEIR_SUPERVISOR, "s1", "x", {"action": "approve"}),
        lambda: system.ranking.publish_stage(THEIR_ORGANISER, "c", "prelim"),
        lambda: system.ranking.calibration(THEIR_ORGANISER, "c", "prelim"),
        lambda: system.ranking.appeals(THEIR_SUPERVISOR, "c", "prelim"),
        lambda: system.ranking.file_appeal(THEIR_ORGANISER, "c", "prelim", {"entry_id": "e1", "reason": "r"}),
        lambda: system.ranking.decide_appeal(THEIR_SUPERVISOR, "c", "prelim", "x", {}),
        lambda: system.ranking.leaderboard(THEIR_SCREEN, "c", "prelim", as_of="1"),
        lambda: system.notify.deliveries(THEIR_ORGANISER, "c"),
        lambda: system.notify.inbox(THEIR_ORGANISER, "c", "judge-J1"),
        lambda: system.notify.set_preferences(THEIR_ORGANISER, "c", "judge-J1", {"sms": False}),
    ]
    for call in refused:
        with pytest.raises(Forbidden, match="this grant is for"):
            call()
    assert system.deliver() == []
    # before publication, scores are theirs to see no more than the public's
    with pytest.raises(NotFound):
        system.scoring.session_results(THEIR_ORGANISER, "s1")
    with pytest.raises(NotFound):
        system.ranking.leaderboard(THEIR_SCREEN, "c", "prelim")
    with pytest.raises(NotFound):
        system.ranking.entry_working(THEIR_ORGANISER, "c", "prelim", "e1")
    assert system.scoring.session_results(ORG, "s1")["results"]
    assert [c["contest_id"] for c in system.ranking.contests(ORG)] == ["c"]
    assert system.ranking.contests(THEIR_ORGANISER) == []


def test_a_judge_of_another_contest_with_the_same_id_is_not_our_judge():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    system.deliver()
    with pytest.raises(Forbidden, match="this grant is for contest d, not for contest c"):
        system.scoring.submit_sheet(THEIR_J1, "s1", "e2", sub("theirs"), {"a": "20", "b": "20"})
    with pytest.raises(Forbidden, match="this grant is for contest d"):
        system.scoring.lock_session(THEIR_J1, "s1")
    assert system.scoring.judge_desk(THEIR_J1)["sessions"] == []
    assert [s["session_id"] for s in system.scoring.judge_desk(THEIR_J1 | {"contest": "c"})["sessions"]] == ["s1"]
    assert system.deliver() == []


def test_a_session_id_opened_by_another_contest_never_shares_our_scoring_log():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    [ours] = [e for e in system.events("registration", "contest-c") if e.type == "SessionOpened"]
    theirs = ours.__class__(**{**ours.__dict__, "payload": dict(ours.payload, contest_id="d")})
    with pytest.raises(Conflict, match="has the id of a session of contest c"):
        system.scoring.session_opened(theirs)
    assert system.scoring.session_place("s1") == {"contest_id": "c", "office": "cty"}


def test_the_gateway_asks_where_a_contest_or_session_is_once_and_only_when_it_must():
    asked: list[str] = []

    def contest_place(contest_id: str) -> dict | None:
        asked.append(contest_id)
        return {"contest_id": contest_id, "office": "cty"} if contest_id == "c" else None

    places = Places()
    mine = {"role": "organiser", "id": "o", "office": "cty"}
    for _ in range(3):
        places.reach(mine, {"contest_id": "c"}, contest_place, None)
    assert asked == ["c"]  # a contest's office never changes: asked once
    places.reach(mine, {"contest_id": "new"}, contest_place, None)
    places.reach(mine, {"contest_id": "new"}, contest_place, None)
    assert asked == ["c", "new", "new"]  # not there yet: the service answers 404, and it is asked again
    with pytest.raises(Forbidden, match="office other"):
        places.reach(THEIR_ORGANISER, {"contest_id": "c"}, contest_place, None)
    places.reach(EVERYWHERE, {"contest_id": "c"}, None, None)  # reaches everywhere: nothing to ask
    with pytest.raises(Forbidden, match="contest d, not for contest c"):
        places.reach(THEIR_J1, {"contest_id": "c"}, None, None)  # a contest's grant: the name decides


def test_a_session_id_another_contest_uses_is_refused_when_scheduled_and_nothing_is_written():
    """Scoring, ranking and notify know a session by its id alone: no other contest (of this
    county or another) may schedule, and then open, a session under our session's id."""
    system = registered()
    opened(system, "s1", "prelim", "g1")
    reg = system.registration
    reg.create_contest(
        ORG, {"contest_id": "d", "name": "擂台", "tree_id": "tree", "county_code": "cty", "format": "knockout"}
    )
    reg.define_stage(ORG, "d", body(schemas.StageCreate, PRELIM))
    before = len(system.events("registration", "contest-d"))
    with pytest.raises(Conflict) as refused:
        reg.schedule_session(ORG, "d", {"session_id": "s1", "stage_id": "prelim", "group_id": "g1", "starts_at": AT})
    assert refused.value.message == "session id s1 is taken by another contest; choose another"
    assert refused.value.details == {"session_id": ["s1"]}
    assert len(system.events("registration", "contest-d")) == before
    reg.schedule_session(ORG, "d", {"session_id": "d-s1", "stage_id": "prelim", "group_id": "g1", "starts_at": AT})

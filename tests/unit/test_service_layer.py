"""The service layers of registration, scoring, ranking and notify, against the in-memory event store
and fake read models: a whole contest from regions to advancement, and every refusal of the
commands on the way, in milliseconds."""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import Decimal

import pytest

from composition import audit
from leitai.contracts.envelope import NewEvent
from leitai.errors import Conflict, Forbidden, NotFound, RuleViolated
from leitai.lots import draw_order
from leitai.messages import text
from services.gateway import schemas
from services.notify import application as notify
from tests.support.inmemory import InMemorySystem

ORG = {"role": "organiser", "id": "org1", "office": "cty"}  # the office that owns contest "c"
SCREEN = {"role": "screen", "id": "hall", "contest": "c"}
PUBLIC = {"role": "public", "id": "public"}
REGIONS = [
    {"code": "cty", "name": "县", "level": "county", "parent": None},
    *({"code": t, "name": t, "level": "township", "parent": "cty"} for t in ("t1", "t2")),
    *(
        {"code": f"{t}-{n}", "name": f"{t}村{n}", "level": "village", "parent": t}
        for t in ("t1", "t2")
        for n in (1, 2, 3)
    ),
]
CRITERIA = [
    {"criterion_id": "a", "name": "甲", "max": "50", "weight": "1", "step": "0.5"},
    {"criterion_id": "b", "name": "乙", "max": "50", "weight": "1", "step": "0.5"},
]
PRELIM = {
    "stage_id": "prelim",
    "name": "初赛",
    "order": 1,
    "panel_size": 3,
    "criteria": CRITERIA,
    "groups": [
        {"group_id": "g1", "name": "一组", "townships": ["t1"]},
        {"group_id": "g2", "name": "二组", "townships": ["t2"]},
    ],
    "drop_rule": [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}],
    "advancement": {"per_group": 1, "overall": 1},
}
FINAL = dict(
    PRELIM,
    stage_id="final",
    name="决赛",
    order=2,
    groups=[{"group_id": "all", "name": "全县", "townships": ["t1", "t2"]}],
    advancement={"overall": 1},
)


def body(schema, data: dict) -> dict:
    """A request body as the gateway hands it on: validated, with its defaults."""
    return schema().dump(schema().load(data))


JUDGES = [
    body(schemas.JudgeCreate, j)
    for j in (
        {"judge_id": "J1", "name": "评委一", "township_code": "t1"},
        {"judge_id": "J2", "name": "评委二"},
        {"judge_id": "J3", "name": "评委三"},
        {"judge_id": "R", "name": "候补"},
    )
]
SEATS = body(
    schemas.PanelSeat,
    {
        "seats": [
            {"judge_id": "J1", "head": True},
            {"judge_id": "J2"},
            {"judge_id": "J3"},
            {"judge_id": "R", "reserve": True},
        ]
    },
)["seats"]
# each entry's total from every judge: e1 > e2 > e3 in t1, e4 > e5 > e6 in t2
POINTS = {"e1": "45", "e2": "40", "e3": "30", "e4": "44", "e5": "35", "e6": "20"}


def sub(name: str) -> str:
    """A submission id (a UUID, as the gateway requires), the same for the same name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def judge(judge_id: str) -> dict:
    return {"role": "judge", "id": judge_id, "contest": "c"}


def registered(final: dict = FINAL) -> InMemorySystem:
    system = InMemorySystem()
    reg = system.registration
    reg.import_regions(ORG, "tree", REGIONS)
    reg.create_contest(
        ORG, {"contest_id": "c", "name": "擂台比武", "tree_id": "tree", "county_code": "cty", "format": "knockout"}
    )
    reg.define_stage(ORG, "c", body(schemas.StageCreate, PRELIM))
    reg.define_stage(ORG, "c", body(schemas.StageCreate, final))
    for j in JUDGES:
        reg.register_judge(ORG, "c", j)
    reg.submit_entries(
        ORG,
        "c",
        [
            body(
                schemas.EntryCreate,
                {
                    "entry_id": e,
                    "contestant_id": f"p{e}",
                    "name": f"书记{e}",
                    "title": "汇报",
                    "village_code": f"t{1 + (n > 3)}-{1 + (n - 1) % 3}",
                },
            )
            for n, e in enumerate(POINTS, start=1)
        ],
    )
    return system


def scheduled(system: InMemorySystem, session_id: str, stage_id: str, group_id: str) -> None:
    system.registration.schedule_session(
        ORG,
        "c",
        {
            "session_id": session_id,
            "stage_id": stage_id,
            "group_id": group_id,
            "starts_at": "2021-06-01T09:00:00+08:00",
        },
    )


def opened(system: InMemorySystem, session_id: str, stage_id: str, group_id: str) -> None:
    reg = system.registration
    scheduled(system, session_id, stage_id, group_id)
    reg.seat_panel(ORG, "c", session_id, SEATS)
    reg.draw_order(ORG, "c", session_id)
    reg.open_session(ORG, "c", session_id)
    system.deliver()


def score(system: InMemorySystem, session_id: str, entries: list[str]) -> None:
    for entry in entries:
        recused = system.registration.contest_view(ORG, "c")["entries"]
        township = next(e["township_code"] for e in recused if e["entry_id"] == entry)
        for judge_id in ("J1", "J2", "J3") if township != "t1" else ("R", "J2", "J3"):
            half = str(int(POINTS[entry]) / 2)
            system.scoring.submit_sheet(
                judge(judge_id), session_id, entry, sub(f"{session_id}-{entry}-{judge_id}"), {"a": half, "b": half}
            )


def prelim_locked(final: dict = FINAL) -> InMemorySystem:
    """Both preliminary sessions scored and locked, and every event delivered."""
    system = registered(final)
    opened(system, "s1", "prelim", "g1")
    opened(system, "s2", "prelim", "g2")
    score(system, "s1", ["e1", "e2", "e3"])
    score(system, "s2", ["e4", "e5", "e6"])
    system.scoring.lock_session(ORG, "s1")
    system.scoring.lock_session(ORG, "s2")
    system.deliver()
    return system


def prelim_published(final: dict = FINAL) -> InMemorySystem:
    """Both preliminary sessions scored, locked and published, and every event delivered."""
    system = prelim_locked(final)
    system.ranking.publish_stage(ORG, "c", "prelim")
    system.deliver()
    return system


def test_a_contest_runs_from_registration_through_scoring_to_advancement():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    opened(system, "s2", "prelim", "g2")
    with pytest.raises(RuleViolated) as refused:
        system.ranking.publish_stage(ORG, "c", "prelim")
    assert refused.value.details == {"sessions_not_locked": ["s1", "s2"]}

    score(system, "s1", ["e1", "e2", "e3"])
    score(system, "s2", ["e4", "e5", "e6"])
    system.scoring.lock_session(judge("J1"), "s1")
    system.scoring.lock_session(ORG, "s2")
    system.deliver()
    live = system.ranking.leaderboard(SCREEN, "c", "prelim")
    assert [r["entry_id"] for r in live["standings"]] == ["e1", "e4", "e2", "e5", "e3", "e6"]
    with pytest.raises(NotFound):  # the public sees nothing before publication
        system.ranking.leaderboard(PUBLIC, "c", "prelim")

    published = system.ranking.publish_stage(ORG, "c", "prelim")
    assert [r["entry_id"] for r in published["standings"] if r["advanced"]] == ["e1", "e4", "e2"]
    events = system.events("ranking", "results-c-prelim")
    assert [e.type for e in events] == ["StageResultsPublished"] + [
        "ContestantAdvanced" if e in ("e1", "e4", "e2") else "ContestantEliminated"
        for e in ("e1", "e4", "e2", "e5", "e3", "e6")
    ]
    assert all(e.payload["next_stage_id"] == "final" for e in events if e.type == "ContestantAdvanced")
    with pytest.raises(Conflict):
        system.ranking.publish_stage(ORG, "c", "prelim")

    system.deliver()
    stages = {e["entry_id"]: e["stage_id"] for e in system.registration.contest_view(ORG, "c")["entries"]}
    assert stages == {"e1": "final", "e2": "final", "e3": "prelim", "e4": "final", "e5": "prelim", "e6": "prelim"}
    assert system.ranking.leaderboard(PUBLIC, "c", "prelim")["published"] is True


def test_the_last_stage_names_its_winners_and_eliminates_only_the_rest():
    system = prelim_published()
    opened(system, "f", "final", "all")
    score(system, "f", ["e1", "e2", "e4"])
    system.scoring.lock_session(ORG, "f")
    system.deliver()
    final = system.ranking.publish_stage(ORG, "c", "final")
    assert final["next_stage_id"] is None
    assert [(e.type, e.payload["entry_id"]) for e in system.events("ranking", "results-c-final")[1:]] == [
        ("ContestantEliminated", "e4"),
        ("ContestantEliminated", "e2"),
    ]


def test_an_advancement_delivered_twice_moves_the_entry_once():
    system = prelim_published()
    advanced = next(e for e in system.events("ranking", "results-c-prelim") if e.type == "ContestantAdvanced")
    before = len(system.events("registration", "contest-c"))
    system.registration.contestant_advanced(advanced)  # a redelivery
    assert len(system.events("registration", "contest-c")) == before


def test_notify_records_each_notice_once_per_channel_from_the_same_events_in_memory():
    system = prelim_published()
    deliveries = system.notify.deliveries(ORG, "c")
    kinds = Counter((d["kind"], d["channel"]) for d in deliveries)
    # six contestants told of their registration and their result, on each channel; four judges
    # seated on two sessions
    assert {k: n for k, n in kinds.items() if k[1] == "email"} == {
        ("registration_confirmed", "email"): 6,
        ("stage_result", "email"): 6,
        ("judge_seated", "email"): 8,
        ("session_notice", "email"): 6,
    }
    assert kinds[("stage_result", "sms")] == kinds[("stage_result", "inbox")] == 6

    again = system.events("ranking", "results-c-prelim")[0]  # the publication, delivered again
    notify.EVENT_HANDLERS.handle(system.notify, [again])
    assert len(system.notify.deliveries(ORG, "c")) == len(deliveries)
    with pytest.raises(Forbidden):
        system.notify.deliveries(judge("J1"), "c")


def test_seating_refuses_unknown_judges_a_judge_twice_the_wrong_panel_and_two_heads():
    system = registered()
    reg = system.registration
    scheduled(system, "s1", "prelim", "g1")
    with pytest.raises(NotFound, match="not registered: X"):
        reg.seat_panel(ORG, "c", "s1", [*SEATS, dict(SEATS[1], judge_id="X")])
    with pytest.raises(RuleViolated, match="twice"):
        reg.seat_panel(ORG, "c", "s1", [*SEATS, dict(SEATS[1], reserve=True)])
    with pytest.raises(RuleViolated, match="seats 3 judges, not 2"):
        reg.seat_panel(ORG, "c", "s1", SEATS[:2])
    with pytest.raises(RuleViolated, match="head judge"):
        reg.seat_panel(ORG, "c", "s1", [dict(s, head=True) for s in SEATS[:3]])
    with pytest.raises(RuleViolated, match="head judge"):
        reg.seat_panel(ORG, "c", "s1", [*SEATS[:3], dict(SEATS[3], head=True)])
    assert reg.seat_panel(ORG, "c", "s1", SEATS)["seats"][0]["head"] is True


def test_a_session_opens_only_seated_and_drawn_over_the_entries_it_has_now():
    system = registered()
    reg = system.registration
    scheduled(system, "s1", "prelim", "g1")
    with pytest.raises(RuleViolated, match="seat the panel"):
        reg.open_session(ORG, "c", "s1")
    reg.seat_panel(ORG, "c", "s1", SEATS)
    with pytest.raises(RuleViolated, match="draw the order"):
        reg.open_session(ORG, "c", "s1")
    drawn = reg.draw_order(ORG, "c", "s1")
    assert drawn["seed"] == "seed-0003"  # the third fresh seed: each stage took one before
    assert drawn["order"] == draw_order("seed-0003", ["e1", "e2", "e3"])
    reg.withdraw_entry(ORG, "c", "e3", "生病")
    with pytest.raises(RuleViolated, match="draw again"):
        reg.open_session(ORG, "c", "s1")
    assert reg.draw_order(ORG, "c", "s1", "chosen-seed")["order"] == draw_order("chosen-seed", ["e1", "e2"])
    opened_payload = reg.open_session(ORG, "c", "s1")
    assert [e["entry_id"] for e in opened_payload["entries"]] == draw_order("chosen-seed", ["e1", "e2"])
    with pytest.raises(Conflict, match="already open"):
        reg.open_session(ORG, "c", "s1")


def test_an_entry_is_withdrawn_once_and_never_from_an_open_session():
    system = registered()
    reg = system.registration
    assert reg.withdraw_entry(ORG, "c", "e6", "调动")["entry_id"] == "e6"
    with pytest.raises(Conflict, match="withdrawn already"):
        reg.withdraw_entry(ORG, "c", "e6")
    with pytest.raises(NotFound):
        reg.withdraw_entry(ORG, "c", "e9")
    opened(system, "s1", "prelim", "g1")
    with pytest.raises(Conflict, match="which is open"):
        reg.withdraw_entry(ORG, "c", "e1")


def test_only_organisers_register_and_only_judges_submit_sheets():
    system = registered()
    with pytest.raises(Forbidden):
        system.registration.register_judge(judge("J1"), "c", dict(JUDGES[1], judge_id="J9"))
    with pytest.raises(Forbidden):
        system.registration.import_regions(SCREEN, "other", REGIONS)
    opened(system, "s1", "prelim", "g1")
    with pytest.raises(Forbidden):
        system.scoring.submit_sheet(ORG, "s1", "e1", sub("x"), {"a": "1", "b": "1"})
    with pytest.raises(NotFound, match="not open for scoring"):
        system.scoring.submit_sheet(judge("J2"), "nowhere", "e1", sub("x"), {"a": "1", "b": "1"})


def test_a_sheet_sent_again_with_its_submission_id_is_stored_once():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    first = system.scoring.submit_sheet(judge("J2"), "s1", "e1", sub("1"), {"a": "20", "b": "20.5"})
    again = system.scoring.submit_sheet(judge("J2"), "s1", "e1", sub("1"), {"a": "20", "b": "20.5"})
    assert first == again and first["total"] == "40.5"
    assert len(system.events("scoring", "scoring-s1")) == 1
    with pytest.raises(Conflict, match="already used for another sheet"):
        system.scoring.submit_sheet(judge("J2"), "s1", "e1", sub("1"), {"a": "21", "b": "20.5"})


def test_judges_see_their_own_sheets_the_head_judge_and_organisers_see_all():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    score(system, "s1", ["e1"])
    own = system.scoring.session_status(judge("J2"), "s1")
    assert {s["judge_id"] for e in own["entries"] for s in e["sheets"]} == {"J2"}
    head = system.scoring.session_status(judge("J1"), "s1")
    assert {s["judge_id"] for e in head["entries"] for s in e["sheets"]} == {"R", "J2", "J3"}
    assert next(e for e in head["entries"] if e["entry_id"] == "e2")["missing"] == ["J2", "J3"]
    with pytest.raises(Forbidden):
        system.scoring.session_status(judge("nobody"), "s1")
    with pytest.raises(NotFound, match="no published results"):
        system.scoring.session_results(PUBLIC, "s1")


# -- public means published --------------------------------------------------------------
def test_scores_sheets_and_comments_are_public_once_the_stage_is_published_and_not_before():
    system = prelim_locked()
    for reader in (PUBLIC, SCREEN, judge("J2"), SUPERVISOR):  # J2 sits on s1, but is not its head
        with pytest.raises(NotFound, match="no published results"):
            system.scoring.session_results(reader, "s1")
        with pytest.raises(NotFound, match="no published score"):
            system.ranking.entry_working(reader, "c", "prelim", "e1")
    for early in (ORG, judge("J1")):  # the organisers, and the session's head judge
        assert system.scoring.session_results(early, "s1")["results"][0]["comments"]
        assert system.ranking.entry_working(early, "c", "prelim", "e1")["sheets"]

    system.ranking.publish_stage(ORG, "c", "prelim")
    system.deliver()
    assert system.scoring.session_results(PUBLIC, "s1")["results"]
    assert system.ranking.entry_working(PUBLIC, "c", "prelim", "e1")["sheets"]


def test_the_public_sees_a_contest_through_an_allow_list_and_its_set_up_is_the_organisers():
    system = registered()
    scheduled(system, "s1", "prelim", "g1")
    system.registration.seat_panel(ORG, "c", "s1", SEATS)
    public = system.registration.contest_view(PUBLIC, "c")
    assert public["judges"] == [] and public["advancement_changes"] == []
    assert [set(s) for s in public["sessions"]] == [
        {"session_id", "stage_id", "group_id", "starts_at", "place", "order", "opened"}
    ]  # no panel, no video room, no seed yet
    assert all("lot_seed" not in s and "tolerance" not in s for s in public["stages"])
    assert all("email" not in e and "phone" not in e for e in public["entries"])
    assert system.registration.contest_view(SCREEN, "c") == public
    assert system.registration.contest_view(judge("J1"), "c") == public

    system.registration.draw_order(ORG, "c", "s1")
    drawn = system.registration.contest_view(PUBLIC, "c")["sessions"][0]
    assert drawn["order"] and drawn["seed"]  # revealed with the draw it made
    setup = system.registration.contest_view(SUPERVISOR, "c")
    assert setup["sessions"][0]["seats"] and {j["judge_id"] for j in setup["judges"]} == {"J1", "J2", "J3", "R"}
    assert all("email" not in j and "phone" not in j for j in setup["judges"])
    full = system.registration.contest_view(ORG, "c")
    assert all("email" in j for j in full["judges"])


# -- retries with an idempotency key ----------------------------------------------------
def keyed(actor: dict, key: str, fingerprint: str = "what-was-asked") -> dict:
    """The actor as the gateway passes it on for a request with an Idempotency-Key."""
    return dict(actor, idempotency={"key": key, "fingerprint": fingerprint})


def test_a_command_retried_with_its_key_answers_as_the_first_time_and_writes_nothing():
    system = registered()
    semi = body(schemas.StageCreate, dict(PRELIM, stage_id="semi", name="复赛", order=3))
    first = system.registration.define_stage(keyed(ORG, "k-semi"), "c", semi)  # draws a fresh lot seed
    written = len(system.events("registration", "contest-c"))
    assert written > 0
    again = system.registration.define_stage(keyed(ORG, "k-semi"), "c", semi)
    assert again == first and again["lot_seed"] == first["lot_seed"]
    assert len(system.events("registration", "contest-c")) == written
    with pytest.raises(Conflict, match="used for a different request"):
        system.registration.define_stage(keyed(ORG, "k-semi", "another request"), "c", semi)
    with pytest.raises(Conflict):  # without its key, a retry cannot tell it was done
        system.registration.define_stage(ORG, "c", semi)


def test_publication_retried_with_its_key_answers_with_the_same_summary():
    system = prelim_published()
    with pytest.raises(Conflict, match="published already"):
        system.ranking.publish_stage(keyed(ORG, "k-pub"), "c", "prelim")
    opened(system, "s3", "final", "all")
    score(
        system,
        "s3",
        [e["entry_id"] for e in system.registration.contest_view(ORG, "c")["entries"] if e["stage_id"] == "final"],
    )
    system.scoring.lock_session(ORG, "s3")
    system.deliver()
    first = system.ranking.publish_stage(keyed(ORG, "k-final"), "c", "final")
    assert system.ranking.publish_stage(keyed(ORG, "k-final"), "c", "final") == first


def test_every_command_with_a_key_stores_an_answer_a_retry_finds():
    """What each command answers must be storable as the client sees it (JSON): a sheet, a
    lock, an import, a contest command, a publication (the last is covered above)."""
    system = InMemorySystem()
    reg = system.registration
    assert reg.import_regions(keyed(ORG, "k-tree"), "tree", REGIONS) == reg.import_regions(
        keyed(ORG, "k-tree"), "tree", REGIONS
    )
    contest = {"contest_id": "c", "name": "擂台比武", "tree_id": "tree", "county_code": "cty", "format": "knockout"}
    assert reg.create_contest(keyed(ORG, "k-c"), contest) == reg.create_contest(keyed(ORG, "k-c"), contest)
    system = registered()
    opened(system, "s1", "prelim", "g1")
    sheet = ("s1", "e1", sub("keyed-sheet"), {"a": "20", "b": "20"})
    first = system.scoring.submit_sheet(keyed(judge("J2"), "k-sheet"), *sheet)
    assert system.scoring.submit_sheet(keyed(judge("J2"), "k-sheet"), *sheet) == first
    score(system, "s1", ["e1", "e2", "e3"])
    locked = system.scoring.lock_session(keyed(ORG, "k-lock"), "s1")
    assert system.scoring.lock_session(keyed(ORG, "k-lock"), "s1") == locked


SUPERVISOR = {"role": "supervisor", "id": "inspector1", "office": "cty"}


def test_a_correction_needs_a_published_stage_a_proposer_and_a_second_person():
    system = prelim_locked()
    change = body(
        schemas.CorrectionCreate,
        {
            "correction_id": "k1",
            "kind": "change_score",
            "entry_id": "e2",
            "judge_id": "J2",
            "scores": {"a": "25", "b": "25"},
            "reason": "录入错误",
            "appeal_id": "appeal-1",
        },
    )
    with pytest.raises(RuleViolated, match="not published"):  # locked, not published: no correction yet
        system.scoring.propose_correction(ORG, "s1", change)
    system.ranking.publish_stage(ORG, "c", "prelim")
    system.deliver()
    for outsider in (judge("J1"), SCREEN, SUPERVISOR):
        with pytest.raises(Forbidden):
            system.scoring.propose_correction(outsider, "s1", change)
    proposed = system.scoring.propose_correction(ORG, "s1", change)
    assert (proposed["status"], proposed["scores"], proposed["appeal_id"]) == (
        "proposed",
        {"a": "25", "b": "25"},
        "appeal-1",
    )
    with pytest.raises(Forbidden, match="proposer"):
        system.scoring.decide_correction(ORG, "s1", "k1", {"action": "approve"})
    with pytest.raises(Forbidden):
        system.scoring.decide_correction(judge("J1"), "s1", "k1", {"action": "approve"})
    approved = system.scoring.decide_correction(SUPERVISOR, "s1", "k1", {"action": "approve"})
    assert approved == system.scoring.decide_correction(SUPERVISOR, "s1", "k1", {"action": "approve"})
    events = system.events("scoring", "scoring-s1")
    assert [e.type for e in events[-3:]] == ["CorrectionApproved", "ScoreSheetCorrected", "EntryRescored"]
    original = next(
        e
        for e in events
        if e.type == "ScoreSheetSubmitted" and e.payload["entry_id"] == "e2" and e.payload["judge_id"] == "J2"
    )
    assert events[-2].payload["cites"] == str(original.event_id) and events[-1].payload["stage_score"] == Decimal(
        "43.33"
    )  # (40 + 50 + 40) / 3
    assert [c["status"] for c in system.scoring.corrections(SUPERVISOR, "s1")] == ["approved"]
    # ranking: the live board counts the corrected sheet; as of before it, and the publication, do not
    before = system.ranking.leaderboard(SCREEN, "c", "prelim")["reflects"]["position"]
    system.deliver()
    live = {r["entry_id"]: r for r in system.ranking.leaderboard(SCREEN, "c", "prelim")["standings"]}
    assert live["e2"]["stage_score"] == "43.33"
    assert system.ranking.entry_working(PUBLIC, "c", "prelim", "e2")["stage_score"] == "43.33"
    then = {r["entry_id"]: r for r in system.ranking.leaderboard(SCREEN, "c", "prelim", as_of=str(before))["standings"]}
    assert then["e2"]["stage_score"] == "40.00"
    # the stage was published again, once, with what changed and what it replaces
    versions = [e for e in system.events("ranking", "results-c-prelim") if e.type.startswith("StageResults")]
    assert [e.payload.get("version", 1) for e in versions] == [1, 2]
    second = versions[1].payload
    assert second["replaces_sha256"] == versions[0].payload["standings_sha256"] and second["correction_id"] == "k1"
    assert [
        (d["entry_id"], str(d["before"]["stage_score"]), str(d["after"]["stage_score"])) for d in second["diff"]
    ] == [("e2", "40.00", "43.33")]
    published = system.ranking.stage_results("c", "prelim")
    assert (
        published["version"] == 2 and {r["entry_id"]: r for r in published["standings"]}["e2"]["stage_score"] == "43.33"
    )
    system.ranking.republish_after(
        dict(versions[1].payload, correction_id="k1", session_id="s1", entry_id="e2", judge_id="J2")
    )
    assert len([e for e in system.events("ranking", "results-c-prelim") if e.type.startswith("StageResults")]) == 2


def test_an_appeal_is_filed_against_a_published_result_only_and_decided_once():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    with pytest.raises(RuleViolated, match="not published"):
        system.ranking.file_appeal(ORG, "c", "prelim", {"entry_id": "e1", "reason": "分数有误"})
    system = prelim_published()
    filed = system.ranking.file_appeal(ORG, "c", "prelim", {"appeal_id": "a1", "entry_id": "e2", "reason": "分数有误"})
    assert filed["contestant_id"] == "pe2" and filed["status"] == "filed"
    with pytest.raises(Forbidden):
        system.ranking.file_appeal(SUPERVISOR, "c", "prelim", {"entry_id": "e2", "reason": "x"})
    decided = system.ranking.decide_appeal(SUPERVISOR, "c", "prelim", "a1", {"decision": "upheld", "reason": "属实"})
    assert decided["decided_by"] == "inspector1"
    with pytest.raises(Conflict):
        system.ranking.decide_appeal(ORG, "c", "prelim", "a1", {"decision": "dismissed", "reason": "改判"})
    assert [e.type for e in system.events("ranking", "appeals-c-prelim")] == ["AppealFiled", "AppealDecided"]


def approved_correction_that_swaps_e2_for_e5(system: InMemorySystem) -> None:
    """J2's sheet of e2 was 10, not 40: e2 falls to 30 and e5 (35) takes the last place in the final."""
    system.scoring.propose_correction(
        ORG,
        "s1",
        body(
            schemas.CorrectionCreate,
            {
                "correction_id": "k1",
                "kind": "change_score",
                "entry_id": "e2",
                "judge_id": "J2",
                "scores": {"a": "5", "b": "5"},
                "reason": "录入错误",
            },
        ),
    )
    system.scoring.decide_correction(SUPERVISOR, "s1", "k1", {"action": "approve"})
    system.deliver()


def stages_of(system: InMemorySystem) -> dict:
    return {e["entry_id"]: e["stage_id"] for e in system.registration.contest_view(ORG, "c")["entries"]}


def test_entries_follow_a_correction_that_changes_who_advances_while_the_next_stage_has_not_started():
    system = prelim_published()
    scheduled(system, "f", "final", "all")
    system.registration.seat_panel(ORG, "c", "f", SEATS)
    system.registration.draw_order(ORG, "c", "f")
    approved_correction_that_swaps_e2_for_e5(system)
    assert stages_of(system) == {
        "e1": "final",
        "e2": "prelim",
        "e3": "prelim",
        "e4": "final",
        "e5": "final",
        "e6": "prelim",
    }
    [change] = system.registration.contest_view(ORG, "c")["advancement_changes"]
    assert (change["status"], change["change_id"], change["version"], change["redraw"]) == ("followed", "k1", 2, ["f"])
    assert ([w["entry_id"] for w in change["gained"]], [w["entry_id"] for w in change["lost"]]) == (["e5"], ["e2"])
    moves = [
        (e.type, e.payload["entry_id"], e.payload["change_id"])
        for e in system.events("registration", "contest-c")
        if e.type in ("EntryAdvanced", "EntryAdvancementRevoked") and e.payload["change_id"]
    ]
    assert moves == [("EntryAdvanced", "e5", "k1"), ("EntryAdvancementRevoked", "e2", "k1")]
    # the publication's advancement of e2, delivered late, does not undo the correction; nor does the republication
    late = next(
        e
        for e in system.events("ranking", "results-c-prelim")
        if e.type == "ContestantAdvanced" and e.payload["entry_id"] == "e2"
    )
    republished = next(e for e in system.events("ranking", "results-c-prelim") if e.type == "StageResultsRepublished")
    before = len(system.events("registration", "contest-c"))
    system.registration.contestant_advanced(late)
    system.registration.results_published(republished)
    assert len(system.events("registration", "contest-c")) == before and stages_of(system)["e2"] == "prelim"
    with pytest.raises(RuleViolated, match="draw again"):  # the draw was over the old entries
        system.registration.open_session(ORG, "c", "f")
    system.registration.draw_order(ORG, "c", "f")
    system.registration.open_session(ORG, "c", "f")
    with pytest.raises(Conflict, match="followed"):
        system.registration.decide_advancement(ORG, "c", "k1", {"action": "keep", "reason": "x"})


def test_once_the_next_stage_has_started_a_change_of_who_advances_waits_for_an_organisers_recorded_decision():
    by_group = dict(
        FINAL,
        groups=[
            {"group_id": "g1", "name": "一组", "townships": ["t1"]},
            {"group_id": "g2", "name": "二组", "townships": ["t2"]},
        ],
        advancement={"overall": 1},
    )
    system = prelim_published(by_group)
    opened(system, "f1", "final", "g1")  # e1 and e2 present in it; e5's group has not started
    approved_correction_that_swaps_e2_for_e5(system)
    assert stages_of(system)["e2"] == "final" and stages_of(system)["e5"] == "prelim"  # nothing moved
    [change] = system.registration.contest_view(ORG, "c")["advancement_changes"]
    assert (change["status"], change["opened_sessions"]) == ("referred", ["f1"])

    keep = {"action": "keep", "reason": "决赛已开始"}
    for outsider in (judge("J1"), SUPERVISOR, SCREEN):
        with pytest.raises(Forbidden):
            system.registration.decide_advancement(outsider, "c", "k1", keep)
    with pytest.raises(NotFound):
        system.registration.decide_advancement(ORG, "c", "k9", keep)
    before = len(system.events("registration", "contest-c"))
    with pytest.raises(RuleViolated, match="f1, which is open"):  # e2 cannot leave a session under way
        system.registration.decide_advancement(ORG, "c", "k1", {"action": "follow", "reason": "按更正"})
    assert len(system.events("registration", "contest-c")) == before
    admitted = system.registration.decide_advancement(ORG, "c", "k1", {"action": "admit", "reason": "增补"})
    assert (admitted["action"], admitted["decided_by"], [w["entry_id"] for w in admitted["gained"]]) == (
        "admit",
        "org1",
        ["e5"],
    )
    assert stages_of(system)["e2"] == "final" and stages_of(system)["e5"] == "final"
    after = len(system.events("registration", "contest-c"))
    assert system.registration.decide_advancement(ORG, "c", "k1", {"action": "admit", "reason": "增补"}) == admitted
    assert len(system.events("registration", "contest-c")) == after
    with pytest.raises(Conflict, match="decided already: admit"):
        system.registration.decide_advancement(ORG, "c", "k1", keep)
    assert system.registration.contest_view(ORG, "c")["advancement_changes"][0]["decision"] == {
        "action": "admit",
        "reason": "增补",
        "decided_by": "org1",
    }


def test_a_judges_desk_shows_the_order_who_is_on_stage_recusals_and_their_own_sheets():
    system = registered()
    opened(system, "s1", "prelim", "g1")
    order = system.registration.contest_view(ORG, "c")["sessions"][0]["order"]
    desk = system.scoring.judge_desk(judge("J1"))
    assert desk["name"] == "评委一"  # as the organiser registered them
    [recused] = desk["sessions"]  # J1 is from t1, like every entry of s1
    assert recused["head"] and all(e["recused"] and not e["may_score"] for e in recused["entries"])
    [reserve] = system.scoring.judge_desk(judge("R"))["sessions"]
    assert reserve["reserve"] and all(e["may_score"] for e in reserve["entries"])  # standing in for J1
    [desk] = system.scoring.judge_desk(judge("J2"))["sessions"]
    assert [e["entry_id"] for e in desk["entries"]] == order and desk["on_stage"] == order[0]
    assert [c["criterion_id"] for c in desk["criteria"]] == ["a", "b"] and desk["starts_at"]
    for judge_id in ("J2", "J3", "R"):
        system.scoring.submit_sheet(judge(judge_id), "s1", order[0], sub(f"desk-{judge_id}"), {"a": "20", "b": "20"})
    [desk] = system.scoring.judge_desk(judge("J2"))["sessions"]
    first = desk["entries"][0]
    assert desk["on_stage"] == order[1] and (first["received"], first["expected"]) == (3, 3)
    assert (first["sheet"]["revision"], first["sheet"]["total"]) == (1, "40")
    assert desk["entries"][1]["sheet"] is None
    assert system.scoring.judge_desk(judge("J9")) == {"judge_id": "J9", "name": None, "sessions": []}
    with pytest.raises(Forbidden):
        system.scoring.judge_desk(ORG)


def test_the_console_lists_each_contest_with_how_far_each_stage_has_got():
    system = prelim_published()
    scheduled(system, "f", "final", "all")
    system.deliver()
    [contest] = system.ranking.contests(ORG)
    assert (contest["contest_id"], contest["name"]) == ("c", "擂台比武")
    assert [
        (s["stage_id"], s["sessions"], s["opened"], s["locked"], s["published_version"]) for s in contest["stages"]
    ] == [("prelim", 2, 2, 2, 1), ("final", 1, 0, 0, None)]
    with pytest.raises(Forbidden):
        system.ranking.contests(judge("J1"))


def test_the_big_screen_says_when_its_stage_is_published():
    system = prelim_locked()
    assert system.ranking.live("c", "prelim")["published"] is False  # 实时成绩
    system.ranking.publish_stage(ORG, "c", "prelim")
    system.deliver()
    assert system.ranking.live("c", "prelim")["published"] is True  # 成绩公布


def test_a_roster_registers_all_its_judges_and_entries_in_one_write_or_nothing():
    system = registered()
    reg = system.registration
    before = reg.contest_view(ORG, "c")
    basis = reg.roster_basis(ORG, "c")
    assert basis["contest"]["judges"] == before["judges"] and {r["code"] for r in basis["regions"]} >= {"cty", "t1"}
    good_judge = body(schemas.JudgeCreate, {"judge_id": "N1", "name": "新评委", "conflicts": ["pnew"]})
    good_entry = body(
        schemas.EntryCreate,
        {"entry_id": "new", "contestant_id": "pnew", "name": "新书记", "title": "汇报", "village_code": "t1-1"},
    )
    taken = dict(good_entry, entry_id="e1", contestant_id="pother")
    with pytest.raises(RuleViolated) as refused:
        reg.register_roster(ORG, "c", [good_judge], [good_entry, taken])
    assert refused.value.details == {"entries": {"1": [text("entry {entry_id} exists already", entry_id="e1")]}}
    assert reg.contest_view(ORG, "c") == before  # the good rows wait for the bad one
    records = reg.register_roster(ORG, "c", [good_judge], [good_entry])
    assert [r.get("judge_id") or r["entry_id"] for r in records] == ["N1", "new"]
    assert reg.contest_view(ORG, "c")["version"] == before["version"] + 2  # an event a record, appended together


def test_publications_made_before_the_notes_existed_are_noted_once_by_the_backfill():
    """`leitai audit note-publications` over a log whose publications registration and scoring
    never noted (as before they did): each gets its record and its session notes, once."""
    system = prelim_published()
    noted = [("registration", "contest-c", "StageResultsRecorded"), ("scoring", "scoring-s1", "StageResultsNoted")]
    before = {kind: len(system.events(log, stream)) for log, stream, kind in noted}
    assert audit.note_publications(system.stores, system.plans) == 1  # already noted by the handlers: nothing new
    assert {kind: len(system.events(log, stream)) for log, stream, kind in noted} == before

    bare, versions = InMemorySystem(), Counter()
    for log in ("registration", "scoring", "ranking"):  # the same logs, without the notes
        for event in (e for batch in system.stores[log].read_all() for e in batch):
            if event.type not in ("StageResultsRecorded", "StageResultsNoted"):
                again = NewEvent(event.type, event.payload, event.actor, event.event_id, event.correlation_id)
                bare.stores[log].append(event.stream_id, versions[event.stream_id], [again])
                versions[event.stream_id] += 1
    bare.sequence()
    for document in system.plans.find("sessions"):
        bare.plans.apply_once("sessions", document["_id"], "copied", {"$set": {"plan": document["plan"]}})
    assert audit.note_publications(bare.stores, bare.plans) == 1
    assert audit.note_publications(bare.stores, bare.plans) == 1  # again: nothing more
    for log, stream, kind in noted:
        assert [e.type for e in bare.events(log, stream)].count(kind) == 1

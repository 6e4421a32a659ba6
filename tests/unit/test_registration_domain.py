from types import SimpleNamespace

import pytest

from leitai.errors import Conflict, InvalidInput, RuleViolated
from leitai.i18n import SOURCE_LANGUAGE, Translator, catalogues
from services.registration.contest import Contest, draw_order
from services.registration.regions import parse_csv, validate_tree

ENGLISH = Translator(catalogues(), SOURCE_LANGUAGE)  # messages as their ids say them
CSV = """code,name,level,parent
lufeng,陆丰市,county,
dongh,东海街道,township,lufeng
jies,碣石镇,township,lufeng
dongh-1,东海社区,village,dongh
jies-1,碣石村,village,jies
"""


def tree():
    return validate_tree(parse_csv(CSV))


def contest_with(*steps) -> Contest:
    contest = Contest("c1")
    for n, decisions in enumerate(steps, start=1):
        for d in decisions(contest):
            contest.apply(SimpleNamespace(type=d.type, payload=d.payload, stream_version=n))
    return contest


STAGE = {
    "stage_id": "p",
    "name": "初赛",
    "order": 1,
    "panel_size": 1,
    "tolerance": None,
    "advancement": {},
    "groups": [{"group_id": "g1", "name": "东海", "townships": ["dongh"]}],
    "criteria": [{"criterion_id": "a", "name": "甲", "max": 10, "weight": 1, "step": 1}],
    "drop_rule": [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}],
}


def base() -> Contest:
    return contest_with(
        lambda c: c.create("陆丰", "t", "lufeng", "exchange", "", tree()),
        lambda c: c.define_stage(STAGE, tree(), "seed-1234"),
    )


def entry(n: int, village: str = "dongh-1", contestant: str | None = None) -> dict:
    return {
        "entry_id": f"e{n}",
        "contestant_id": contestant or f"c{n}",
        "name": "书记",
        "village_code": village,
        "title": "汇报",
    }


def test_a_region_table_as_a_county_office_keeps_it_in_chinese_is_read_the_same():
    chinese = """编码,名称,级别,上级编码
lufeng,陆丰市,县,
dongh,东海街道,乡镇（街道）,lufeng
jies,碣石镇,乡镇,lufeng
dongh-1,东海社区,社区,dongh
jies-1,碣石村,村,jies
"""
    assert validate_tree(parse_csv(chinese)) == tree()


def test_a_csv_region_tree_with_chinese_names_is_read():
    regions = tree()
    assert regions["jies-1"].parent == "jies" and regions["lufeng"].name == "陆丰市"


@pytest.mark.parametrize(
    "broken, field",
    [
        (CSV + "jies-1,重复,village,jies\n", "regions.5.code"),
        (CSV + "x-1,孤村,village,nowhere\n", "regions.5.parent"),
        (CSV + "x-2,错层,village,lufeng\n", "regions.5.parent"),
        (CSV + "x-3,新城,city,lufeng\n", "regions.5.level"),
        (CSV + "x-4,短行\n", "csv.7"),  # a row of two cells
        (CSV + "x-5,换\r行,village,jies\n", "csv.7"),  # a bare carriage return ends a line
        (CSV + f"x-6,{'长' * 200_000},village,jies\n", "csv"),  # past the CSV reader's field limit
    ],
)
def test_an_invalid_region_tree_names_the_bad_row(broken, field):
    with pytest.raises(InvalidInput) as error:
        validate_tree(parse_csv(broken))
    assert field in error.value.details


def test_one_entry_per_contestant_and_only_from_a_township_of_the_stage():
    contest = base()
    decisions = contest.submit_entries([entry(1)], tree())
    assert decisions[0].payload["township_code"] == "dongh"
    contest = base()
    for d in contest.submit_entries([entry(1)], tree()):
        contest.apply(SimpleNamespace(type=d.type, payload=d.payload, stream_version=3))
    with pytest.raises(Conflict):
        contest.submit_entries([entry(2, contestant="c1")], tree())
    with pytest.raises(RuleViolated, match="takes no part"):
        contest.submit_entries([entry(3, village="jies-1")], tree())


def test_a_roster_lists_every_problem_of_every_row_and_registers_nothing():
    contest = base()
    for d in contest.submit_entries([entry(1)], tree()):
        contest.apply(SimpleNamespace(type=d.type, payload=d.payload, stream_version=3))
    judges = [
        {"judge_id": "J1", "name": "甲", "township_code": "nowhere", "conflicts": ["c9"]},
        {"judge_id": "J1", "name": "乙", "conflicts": ["c1", "c2"]},
    ]
    entries = [entry(1), entry(2), entry(3, village="jies-1"), entry(4, village="dongh")]
    with pytest.raises(RuleViolated) as refused:
        contest.register_roster(judges, entries, tree())
    problems = ENGLISH.fields(refused.value.details)
    assert problems["judges"] == {
        "0": ["nowhere is not a township of the region tree", "contestant c9 has no entry in this contest"],
        "1": ["judge 乙 (J1) is registered already"],
    }
    assert problems["entries"] == {
        "0": ["entry e1 exists already", "contestant c1 has an entry in this contest already"],
        "2": ["township jies takes no part in stage 初赛 (p)"],
        "3": ["dongh is not a village/community of the region tree"],
    }
    assert "5 rows have problems; nothing was registered" in str(refused.value)


def test_a_valid_roster_registers_judges_then_entries_with_their_township_and_stage():
    judges = [{"judge_id": "J1", "name": "甲", "township_code": "dongh", "conflicts": ["c2"]}]
    decisions = base().register_roster(judges, [entry(2)], tree())
    assert [d.type for d in decisions] == ["JudgeRegistered", "EntrySubmitted"]
    assert decisions[1].payload["township_code"] == "dongh" and decisions[1].payload["stage_id"] == "p"
    with pytest.raises(RuleViolated, match="define the first stage"):
        contest_with(lambda c: c.create("陆丰", "t", "lufeng", "exchange", "", tree())).register_roster(
            [], [entry(1)], tree()
        )


def test_a_stage_refuses_a_township_outside_the_county_or_in_two_groups():
    contest = base()
    twice = dict(
        STAGE,
        stage_id="q",
        order=2,
        groups=[
            {"group_id": "a", "name": "a", "townships": ["dongh"]},
            {"group_id": "b", "name": "b", "townships": ["dongh"]},
        ],
    )
    with pytest.raises(RuleViolated, match="two groups"):
        contest.define_stage(twice, tree(), "seed-1234")
    with pytest.raises(RuleViolated, match="not a township"):
        contest.define_stage(
            dict(STAGE, stage_id="r", order=3, groups=[{"group_id": "a", "name": "a", "townships": ["dongh-1"]}]),
            tree(),
            "seed-1234",
        )


def test_the_draw_is_a_function_of_the_seed_alone():
    entries = [f"e{n}" for n in range(30)]
    assert draw_order("s", entries) == draw_order("s", list(reversed(entries)))
    assert draw_order("s", entries) != draw_order("t", entries)


def test_a_forum_meeting_takes_a_theme_of_its_series():
    contest = base()
    for d in contest.create_series(
        {
            "series_id": "f",
            "name": "一月一主题",
            "cadence": "monthly",
            "township_code": "jies",
            "day_of_month": 15,
            "themes": ["基层党建", "禁毒示范创建"],
            "scored": False,
        }
    ):
        contest.apply(SimpleNamespace(type=d.type, payload=d.payload, stream_version=3))
    with pytest.raises(RuleViolated, match="theme"):
        contest.schedule_meeting({"series_id": "f", "meeting_id": "m1", "date": "2021-03-15", "theme": "消防"})
    assert (
        contest.schedule_meeting({"series_id": "f", "meeting_id": "m1", "date": "2021-03-15", "theme": "禁毒示范创建"})[
            0
        ].type
        == "ForumMeetingScheduled"
    )


def _meeting_held(record_changes=None):
    contest = base()
    contest.judges["lead"] = {"judge_id": "lead"}
    steps = [
        lambda c: c.create_series(
            {
                "series_id": "f",
                "name": "一月一主题",
                "cadence": "monthly",
                "township_code": "jies",
                "day_of_month": 15,
                "themes": ["基层党建", "禁毒示范创建"],
                "scored": False,
            }
        ),
        lambda c: c.schedule_meeting(
            {
                "series_id": "f",
                "meeting_id": "m1",
                "date": "2021-03-15",
                "theme": "基层党建",
                "presenters": ["p1", "p2"],
                "listeners": ["p3"],
                "evaluators": ["lead"],
            }
        ),
    ]
    for n, step in enumerate(steps, start=3):
        for d in step(contest):
            contest.apply(SimpleNamespace(type=d.type, payload=d.payload, stream_version=n))
    record = {
        "meeting_id": "m1",
        "attendees": ["p1", "p2", "p3"],
        "presentations": [
            {"contestant_id": "p1", "name": "张三", "village_code": "jies-1", "topic": "支部建在网格上"},
            {"contestant_id": "p2", "name": "李四", "village_code": "dongh-1", "topic": "禁毒宣传进万家"},
        ],
        "comments": [{"evaluator_id": "lead", "contestant_id": "p2", "strengths": "扎实", "suggestions": "再聚焦"}],
    }
    record.update(record_changes or {})
    return contest, record


def test_a_held_meeting_records_the_scheduled_presenters_and_its_evaluators_comments():
    contest, record = _meeting_held()
    for d in contest.hold_meeting(record, tree()):
        contest.apply(SimpleNamespace(type=d.type, payload=d.payload, stream_version=9))
    people = {p["contestant_id"]: p for p in contest.participation()}
    assert sorted(people) == ["p1", "p2"]  # p3 only listened: no record of his own yet
    assert people["p2"]["presented"] == [
        {"meeting_id": "m1", "series_id": "f", "date": "2021-03-15", "theme": "基层党建", "topic": "禁毒宣传进万家"}
    ]
    assert people["p2"]["attended"] == ["m1"] and people["p1"]["comments"] == []
    assert people["p2"]["comments"][0]["suggestions"] == "再聚焦"
    with pytest.raises(Conflict, match="recorded already"):
        contest.hold_meeting(record, tree())


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"presentations": [{"contestant_id": "p1", "name": "张三", "village_code": "jies-1", "topic": "t"}]},
            "scheduled presenters",
        ),
        ({"comments": [{"evaluator_id": "someone", "contestant_id": "p1"}]}, "not an evaluator"),
        ({"comments": [{"evaluator_id": "lead", "contestant_id": "p3"}]}, "did not present"),
    ],
)
def test_a_meeting_record_must_agree_with_its_schedule(change, message):
    contest, record = _meeting_held(change)
    with pytest.raises(RuleViolated, match=message):
        contest.hold_meeting(record, tree())

"""Qidong City (启东市): 340 newly appointed village secretaries, one "五比五拼" contest.

Five paired criteria with weights; one session a town, five city judges and a reserve; the
three best of each town are named excellent (优秀). Boards per town and overall.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from composition.demo import export, scored
from composition.demo.people import People
from composition.demo.runtime import Runtime
from composition.demo.scored import Judge, ScoredContest, Session, Stage
from composition.demo.tables import table
from leitai.formats import DROP_ONE_EACH_FROM_FIVE, QIDONG_CRITERIA, QIDONG_TIEBREAK

CONTEST_ID = "qidong-2021"
TOWNS = [
    ("huilong", "汇龙镇", 30),
    ("nanyang", "南阳镇", 30),
    ("beixin", "北新镇", 29),
    ("wangbao", "王鲍镇", 29),
    ("hezuo", "合作镇", 29),
    ("haifu", "海复镇", 28),
    ("jinhai", "近海镇", 28),
    ("yinyang", "寅阳镇", 28),
    ("huiping", "惠萍镇", 28),
    ("donghai", "东海镇", 27),
    ("lvsi", "吕四港镇", 27),
    ("qilong", "启隆镇", 27),
]
CRITERIA = QIDONG_CRITERIA  # the console's format too
CITY_UNITS = ("市委组织部", "市委党校", "市农业农村局", "市民政局", "市纪委监委", "市委宣传部")
TITLES = (
    "履新百日话担当",
    "新官上任抓党建",
    "集体经济增收路",
    "为民办实事清单",
    "班子团结谋发展",
    "网格治理新探索",
    "乡村振兴起步走",
    "我的第一个百日计划",
)
EXCELLENT_PER_TOWN = 3


def contest(seed: str) -> ScoredContest:
    people = People("qidong")
    regions, entries = scored.county_entries(
        people, ("qidong", "启东市"), ((code, name, count, code == "huilong") for code, name, count in TOWNS), TITLES
    )
    judges = [
        Judge(f"Q{n:02d}", people.name(), None, CITY_UNITS[n % len(CITY_UNITS)], people.phone()) for n in range(1, 25)
    ]
    groups = [{"group_id": f"g-{code}", "name": name, "townships": [code]} for code, name, _ in TOWNS]
    sessions = [
        Session(
            f"wubi-{code}",
            f"g-{code}",
            tuple(judges[(2 * n + k) % 24].judge_id for k in range(5)),
            (judges[(2 * n + 5) % 24].judge_id,),
            f"2021-07-{5 + n:02d}T14:30:00+08:00",
            f"{name}党校",
        )
        for n, (code, name, _) in enumerate(TOWNS)
    ]
    lot = hashlib.sha256(f"qidong:{seed}".encode()).hexdigest()[:24]
    stage = {
        "stage_id": "wubi",
        "name": "“五比五拼”擂台赛",
        "order": 1,
        "panel_size": 5,
        "criteria": CRITERIA,
        "groups": groups,
        "drop_rule": DROP_ONE_EACH_FROM_FIVE,
        "tolerance": "20",
        "lot_seed": f"{lot}-wubi",
        "advancement": {
            "per_group": EXCELLENT_PER_TOWN,
            "tiebreak": QIDONG_TIEBREAK,
        },
    }
    return ScoredContest(
        CONTEST_ID,
        "启东市新任村党组织书记“五比五拼”擂台比武",
        "performance",
        "比站位高度·拼工作成效 … 比贡献程度·拼干事激情",
        regions,
        judges,
        entries,
        [Stage(stage, sessions)],
    )


def run(rt: Runtime, seed: str, say: Callable[..., None]) -> dict:
    qidong = contest(seed)
    scored.run(rt, qidong, scored.Scores(seed), say, shown=lambda stage, results: results["standings"][:20])
    rt.settle()
    body = export.scored_contest(rt, qidong.contest_id)
    towns = {f"g-{code}": name for code, name, _ in TOWNS}
    by_town: dict[str, list[dict]] = {}
    for entry in body["stages"][0]["entries"]:
        by_town.setdefault(entry["group"], []).append(entry)
    say(f"per town, the {EXCELLENT_PER_TOWN} named excellent (优秀):")
    say(
        table(
            ["镇", "人数", "第一", "第二", "第三"],
            [
                [towns[group], len(rows), *(f"{r['contestant']} {r['stage_score']}" for r in rows if r["advanced"])]
                for group, rows in by_town.items()
            ],
            right=(1,),
        ),
        raw=True,
    )
    return body

"""Lufeng City (陆丰市): a year of exchange meetings, unscored.

* Every two months a city-wide exchange meeting, one central task and one topic each, by
  video link with slides: village secretaries present (村支部书记讲), township secretaries
  listen (镇党委书记听), city leaders comment (县党委书记评).
* Every month, in each township, a forum on its fixed day with one theme (一月一主题) from
  the article's list: two village secretaries present after an on-site visit, the others
  listen, the township secretary comments.
At the end, each secretary's record over the year: where he presented, what he attended,
what the evaluators told him.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from composition.demo import export
from composition.demo.people import People
from composition.demo.runtime import Runtime
from composition.demo.scored import ORGANISER, STRENGTHS, SUGGESTIONS, Judge
from composition.demo.tables import table
from leitai.formats import LUFENG_THEMES

CONTEST_ID = "lufeng-2021"
THEMES = LUFENG_THEMES  # the console's format too
CENTRAL_TASKS = [
    "党史学习教育",
    "疫情防控常态化",
    "巩固拓展脱贫攻坚成果",
    "禁毒人民战争",
    "安全生产大检查",
    "违法建设专项整治",
]
TOWNSHIPS = [
    ("donghai", "东海街道", True),
    ("chengdong", "城东街道", True),
    ("hexi", "河西街道", True),
    ("jieshi", "碣石镇", False),
    ("jiazi", "甲子镇", False),
    ("nantang", "南塘镇", False),
    ("bomei", "博美镇", False),
    ("tanxi", "潭西镇", False),
]
VILLAGES_PER_TOWNSHIP = 10
CITY_PRESENTERS = 6
FORUM_PRESENTERS = 2


def run(rt: Runtime, seed: str, say: Callable[..., None]) -> dict:
    people = People("lufeng")
    rng = random.Random(f"lufeng:{seed}")
    regions = [{"code": "lufeng", "name": "陆丰市", "level": "county", "parent": None}]
    secretaries: dict[str, list[dict]] = {}
    for code, name, urban in TOWNSHIPS:
        regions.append({"code": code, "name": name, "level": "township", "parent": "lufeng"})
        for n, village in enumerate(people.villages(VILLAGES_PER_TOWNSHIP, urban), start=1):
            regions.append({"code": f"{code}-{n:02d}", "name": village, "level": "village", "parent": code})
            secretaries.setdefault(code, []).append(
                {
                    "contestant_id": f"s-{code}-{n:02d}",
                    "name": people.name(),
                    "village_code": f"{code}-{n:02d}",
                    "village": village,
                }
            )
    leaders = [
        Judge("L-secretary", people.name(), None, "陆丰市委", people.phone()),
        Judge("L-deputy", people.name(), None, "陆丰市委", people.phone()),
        Judge("L-organisation", people.name(), None, "陆丰市委组织部", people.phone()),
    ]
    township_secretaries = {
        code: Judge(f"T-{code}", people.name(), code, f"{name}党（工）委", people.phone())
        for code, name, _ in TOWNSHIPS
    }

    call = rt.call
    call("registration", "import_regions", ORGANISER, CONTEST_ID, regions=regions)
    call(
        "registration",
        "create_contest",
        ORGANISER,
        {
            "contest_id": CONTEST_ID,
            "name": "陆丰市村（社区）党组织书记交流活动（2021）",
            "tree_id": CONTEST_ID,
            "county_code": "lufeng",
            "format": "exchange",
            "description": "双月全市交流会（村支部书记讲、镇党委书记听、县党委书记评）与乡镇“一月一主题”论坛",
        },
    )
    for judge in [*leaders, *township_secretaries.values()]:
        call("registration", "register_judge", ORGANISER, CONTEST_ID, judge.registration())
    call(
        "registration",
        "create_series",
        ORGANISER,
        CONTEST_ID,
        {
            "series_id": "city-exchange",
            "name": "全市村（社区）党组织书记工作交流会",
            "cadence": "bimonthly",
            "themes": THEMES,
        },
    )
    for n, (code, name, _) in enumerate(TOWNSHIPS):
        call(
            "registration",
            "create_series",
            ORGANISER,
            CONTEST_ID,
            {
                "series_id": f"forum-{code}",
                "name": f"{name}“一月一主题”书记论坛",
                "cadence": "monthly",
                "township_code": code,
                "day_of_month": 10 + n,
                "themes": THEMES,
            },
        )
    say(
        f"{sum(map(len, secretaries.values()))} village secretaries in {len(TOWNSHIPS)} townships; "
        f"1 city series (every two months) and {len(TOWNSHIPS)} township forums (monthly)"
    )

    meetings = 0
    for month in range(1, 13):
        if month % 2 == 0:
            index = month // 2 - 1
            presenters = [
                secretaries[TOWNSHIPS[(index + k) % len(TOWNSHIPS)][0]][(index + 2 * k) % VILLAGES_PER_TOWNSHIP]
                for k in range(CITY_PRESENTERS)
            ]
            _meeting(
                call,
                rng,
                "city-exchange",
                f"city-{month:02d}",
                f"2021-{month:02d}-25",
                THEMES[index],
                f"{CENTRAL_TASKS[index]}（视频连线+PPT）",
                presenters,
                [j.judge_id for j in township_secretaries.values()],
                [j.judge_id for j in leaders],
            )
            meetings += 1
        for n, (code, _name, _) in enumerate(TOWNSHIPS):
            local = secretaries[code]
            presenters = [local[(FORUM_PRESENTERS * (month - 1) + k) % len(local)] for k in range(FORUM_PRESENTERS)]
            theme = THEMES[(month - 1 + n) % len(THEMES)]
            _meeting(
                call,
                rng,
                f"forum-{code}",
                f"forum-{code}-{month:02d}",
                f"2021-{month:02d}-{10 + n:02d}",
                theme,
                f"现场观摩{presenters[0]['village']}",
                presenters,
                [s["contestant_id"] for s in local if s not in presenters],
                [township_secretaries[code].judge_id],
            )
            meetings += 1
        if month % 3 == 0:
            say(f"  {month:2d} months: {meetings} meetings held and recorded")

    record = call("registration", "participation", CONTEST_ID)
    _show(record, secretaries, say)
    rt.settle()
    body, view = export.contest(rt, CONTEST_ID)
    return dict(
        body,
        stages=[],
        forum_series=view["forum_series"],
        meetings=[
            {
                k: m[k]
                for k in (
                    "meeting_id",
                    "series_id",
                    "date",
                    "theme",
                    "central_task",
                    "presenters",
                    "listeners",
                    "evaluators",
                    "held",
                )
            }
            for m in view["meetings"]
        ],
        participation=record,
        notifications=export.notifications(rt, CONTEST_ID),
    )


def _meeting(
    call,
    rng: random.Random,
    series: str,
    meeting_id: str,
    date: str,
    theme: str,
    task: str,
    presenters: list[dict],
    listeners: list[str],
    evaluators: list[str],
) -> None:
    call(
        "registration",
        "schedule_meeting",
        ORGANISER,
        CONTEST_ID,
        {
            "series_id": series,
            "meeting_id": meeting_id,
            "date": date,
            "theme": theme,
            "central_task": task,
            "presenters": [p["contestant_id"] for p in presenters],
            "listeners": listeners,
            "evaluators": evaluators,
        },
    )
    absent = set(rng.sample(listeners, k=min(len(listeners), rng.randint(0, 2))))
    comments = [
        {
            "evaluator_id": evaluator,
            "contestant_id": p["contestant_id"],
            "strengths": rng.choice(STRENGTHS),
            "suggestions": rng.choice(SUGGESTIONS),
        }
        for evaluator in evaluators
        for p in rng.sample(presenters, k=min(2, len(presenters)))
    ]
    call(
        "registration",
        "record_meeting",
        ORGANISER,
        CONTEST_ID,
        {
            "meeting_id": meeting_id,
            "presentations": [
                {
                    "contestant_id": p["contestant_id"],
                    "name": p["name"],
                    "village_code": p["village_code"],
                    "topic": f"{p['village']}：{theme}的做法与体会",
                    "materials": [f"https://slides.example.cn/{meeting_id}/{p['contestant_id']}.pptx"],
                }
                for p in presenters
            ],
            "attendees": [p["contestant_id"] for p in presenters] + [x for x in listeners if x not in absent],
            "comments": comments,
        },
    )


def _show(record: list[dict], secretaries: dict[str, list[dict]], say: Callable[..., None]) -> None:
    villages = {s["contestant_id"]: s["village"] for group in secretaries.values() for s in group}
    names = {code: name for code, name, _ in TOWNSHIPS}
    say(f"participation over the year: {len(record)} secretaries presented at least once")
    busiest = sorted(record, key=lambda p: (-len(p["presented"]), -len(p["attended"]), p["contestant_id"]))[:10]
    say(
        table(
            ["书记", "乡镇（街道）", "村（社区）", "发言", "出席", "点评", "发言主题"],
            [
                [
                    p["name"],
                    names[p["village_code"].rsplit("-", 1)[0]],
                    villages[p["contestant_id"]],
                    len(p["presented"]),
                    len(p["attended"]),
                    len(p["comments"]),
                    "、".join(sorted({m["theme"] for m in p["presented"]})),
                ]
                for p in busiest
            ],
            right=(3, 4, 5),
        ),
        raw=True,
    )

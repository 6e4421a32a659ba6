"""Boai County (博爱县): 206 village and community secretaries, township preliminaries, a county
semifinal in two halves, and a county final of five.

* Preliminaries: one session per township, five judges (three from the county, two township
  secretaries from elsewhere) and a reserve; the best two of each township and the six best
  of the rest go on (30).
* Semifinal: east and west, seven judges each, three of them township secretaries of that
  half, who stand aside for their own township's entries; a reserve scores in their place.
  The best two of each half and the best of the rest go on (5).
* Final: the five, seven county judges; the best is the winner.

After the semifinal, one appeal is upheld by a correction two organisers approve, and the
semifinal is published again (appeal.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from composition.demo import appeal, export, scored
from composition.demo.people import People
from composition.demo.runtime import Runtime
from composition.demo.scored import Judge, ScoredContest, Session, Stage
from leitai.formats import BOAI_CRITERIA, BOAI_TIEBREAK, DROP_ONE_EACH_FROM_FIVE

CONTEST_ID = "boai-2021"
# code, name, entries, urban (communities), half of the county
TOWNSHIPS = [
    ("qinghua", "清化镇街道", 22, True, "east"),
    ("hongchang", "鸿昌街道", 20, True, "east"),
    ("jiqu", "产业集聚区", 14, True, "east"),
    ("xuliang", "许良镇", 19, False, "east"),
    ("boshan", "柏山镇", 18, False, "east"),
    ("yueshan", "月山镇", 18, False, "east"),
    ("motou", "磨头镇", 17, False, "west"),
    ("xiaojing", "孝敬镇", 17, False, "west"),
    ("yangmiao", "阳庙镇", 16, False, "west"),
    ("jincheng", "金城乡", 16, False, "west"),
    ("zhaihuo", "寨豁乡", 15, False, "west"),
    ("sujiazuo", "苏家作乡", 14, False, "west"),
]
HALVES = {"east": "东片", "west": "西片"}
CRITERIA, DROP_RULE, TIEBREAK = BOAI_CRITERIA, DROP_ONE_EACH_FROM_FIVE, BOAI_TIEBREAK  # the console's format too
COUNTY_UNITS = ("县委组织部", "县委党校", "县纪委监委", "县委宣传部", "县农业农村局", "县乡村振兴局")
TITLES = (
    "党建引领聚合力 乡村振兴谱新篇",
    "抓党建促发展 带领群众共致富",
    "从心出发讲党课 凝心聚力促振兴",
    "建强支部堡垒 激活发展动能",
    "做群众贴心人 当发展领头雁",
    "以党建红引领产业兴",
    "小网格里的大治理",
    "集体经济破零记",
    "人居环境整治的村里事",
    "守初心 担使命 强基层",
)


def contest(seed: str) -> ScoredContest:
    people = People("boai")
    regions, entries = scored.county_entries(people, ("boai", "博爱县"), (t[:4] for t in TOWNSHIPS), TITLES)
    county = [
        Judge(f"J{n:02d}", people.name(), None, COUNTY_UNITS[n % len(COUNTY_UNITS)], people.phone())
        for n in range(1, 19)
    ]
    township = {
        code: Judge(f"T-{code}", people.name(), code, f"{name}党（工）委", people.phone())
        for code, name, *_ in TOWNSHIPS
    }
    lot = hashlib.sha256(f"boai:{seed}".encode()).hexdigest()[:24]
    result = ScoredContest(
        CONTEST_ID,
        "博爱县村（社区）党组织书记擂台比武",
        "knockout",
        "乡镇（街道）初赛、县级半决赛、县级决赛；讲评结合",
        regions,
        county + list(township.values()),
        entries,
    )
    result.stages = [_preliminaries(county, township, lot), _semifinal(county, township, lot), _final(county, lot)]
    return result


def _stage(stage_id: str, name: str, order: int, panel: int, groups: list[dict], advancement: dict, lot: str) -> dict:
    return {
        "stage_id": stage_id,
        "name": name,
        "order": order,
        "panel_size": panel,
        "criteria": CRITERIA,
        "groups": groups,
        "drop_rule": DROP_RULE,
        "tolerance": "15",
        "advancement": dict(advancement, tiebreak=TIEBREAK),
        "lot_seed": f"{lot}-{stage_id}",
    }


def _preliminaries(county: list[Judge], township: dict[str, Judge], lot: str) -> Stage:
    codes = [t[0] for t in TOWNSHIPS]
    groups = [{"group_id": f"g-{code}", "name": name, "townships": [code]} for code, name, *_ in TOWNSHIPS]
    sessions = []
    for n, (code, name, *_) in enumerate(TOWNSHIPS):
        visiting = [township[codes[(n + k) % len(codes)]].judge_id for k in (1, 2)]  # never their own township
        home = [county[(3 * n + k) % 12].judge_id for k in range(3)]
        sessions.append(
            Session(
                f"prelim-{code}",
                f"g-{code}",
                (home[0], *visiting, *home[1:]),
                (county[12 + n % 6].judge_id,),
                f"2021-05-{10 + n:02d}T09:00:00+08:00",
                f"{name}党群服务中心",
            )
        )
    return Stage(_stage("prelim", "乡镇（街道）初赛", 1, 5, groups, {"per_group": 2, "overall": 6}, lot), sessions)


def _semifinal(county: list[Judge], township: dict[str, Judge], lot: str) -> Stage:
    groups, sessions = [], []
    for n, (half, name) in enumerate(HALVES.items()):
        codes = [code for code, *_, h in TOWNSHIPS if h == half]
        groups.append({"group_id": f"g-{half}", "name": name, "townships": codes})
        secretaries = [township[c].judge_id for c in codes[:3]]  # stand aside for their own township
        judges = [j.judge_id for j in county[6 * n : 6 * n + 4]]
        sessions.append(
            Session(
                f"semi-{half}",
                f"g-{half}",
                (judges[0], *secretaries, *judges[1:]),
                (county[12 + 2 * n].judge_id, county[13 + 2 * n].judge_id),
                f"2021-06-0{2 + n}T09:00:00+08:00",
                "县委党校报告厅",
            )
        )
    return Stage(_stage("semi", "县级半决赛", 2, 7, groups, {"per_group": 2, "overall": 1}, lot), sessions)


def _final(county: list[Judge], lot: str) -> Stage:
    group = {"group_id": "g-county", "name": "全县", "townships": [t[0] for t in TOWNSHIPS]}
    judges = tuple(j.judge_id for j in county[:7])
    return Stage(
        _stage("final", "县级决赛", 3, 7, [group], {"overall": 1}, lot),
        [Session("final", "g-county", judges, (), "2021-06-18T09:00:00+08:00", "县会议中心")],
    )


def run(rt: Runtime, seed: str, say: Callable[..., None]) -> dict:
    boai = contest(seed)

    def after(stage: Stage, results: dict) -> None:  # an appeal upheld after the semifinal
        if stage.stage_id == "semi":
            appeal.uphold_one(rt, boai.contest_id, stage.definition, results, say)

    scored.run(rt, boai, scored.Scores(seed), say, shown=_shown, after=after)
    rt.settle()
    body = export.scored_contest(rt, boai.contest_id)
    winner = body["stages"][-1]["entries"][0]
    judges = {j["judge_id"]: j["name"] for j in body["judges"]}
    say(f"讲评 for {winner['contestant']} ({winner['township']}), first in the final:")
    for comment in winner["comments"]:
        say(f"  {judges[comment['judge_id']]}：亮点 {comment['strengths']}；建议 {comment['suggestions']}", raw=True)
    return body


def _shown(stage: Stage, results: dict) -> list[dict]:
    """The preliminaries' 206 would not fit a screen: show who goes on; later stages in full."""
    rows = results["standings"]
    return [r for r in rows if r["advanced"]] if stage.stage_id == "prelim" else rows

"""The contest formats a county starts from: the three the brief describes, and a blank one.

A format is a starting point the console fills its set-up forms with, never a rule: every
stage, criterion and weight is the organiser's to change before it is defined. The demo scores
with the same criteria, weights and rules (composition/demo), so what a county starts from is
what the demo shows.

A stage's ``groups`` is how its townships are grouped, since a format knows no county's
townships: ``"township"``, a group for each (a township's preliminary), or ``"county"``, one
group of all of them (a county-wide semifinal or final).
"""

from __future__ import annotations

from typing import Any

# Boai (博爱): 讲党建、讲工作、讲成效, out of 10 in tenths, drop the highest and the lowest once five sheets are in
BOAI_CRITERIA = [
    {"criterion_id": "party", "name": "讲党建", "max": "10", "weight": "3", "step": "0.1"},
    {"criterion_id": "work", "name": "讲工作", "max": "10", "weight": "4", "step": "0.1"},
    {"criterion_id": "results", "name": "讲成效", "max": "10", "weight": "3", "step": "0.1"},
]
DROP_ONE_EACH_FROM_FIVE = [
    {"min_sheets": 1, "drop_high": 0, "drop_low": 0},
    {"min_sheets": 5, "drop_high": 1, "drop_low": 1},
]
BOAI_TIEBREAK = [{"kind": "median_total"}, {"kind": "criterion", "criterion_id": "work"}, {"kind": "lot"}]

# Qidong (启东): five paired criteria, “五比五拼”, out of 20 in halves, weighted
QIDONG_CRITERIA = [
    {"criterion_id": "standing", "name": "比站位高度·拼工作成效", "max": "20", "weight": "1.2", "step": "0.5"},
    {"criterion_id": "ideas", "name": "比思路广度·拼集体经济", "max": "20", "weight": "1", "step": "0.5"},
    {"criterion_id": "delivery", "name": "比落实力度·拼党建质量", "max": "20", "weight": "1", "step": "0.5"},
    {"criterion_id": "service", "name": "比服务深度·拼群众口碑", "max": "20", "weight": "1", "step": "0.5"},
    {"criterion_id": "drive", "name": "比贡献程度·拼干事激情", "max": "20", "weight": "0.8", "step": "0.5"},
]
QIDONG_TIEBREAK = [{"kind": "median_total"}, {"kind": "criterion", "criterion_id": "standing"}, {"kind": "lot"}]

# Lufeng (陆丰): a year of exchange meetings, one theme a month (一月一主题)
LUFENG_THEMES = ["基层党建", "基层治理", "乡村振兴", "禁毒示范创建", "消防安全", "两违整治"]


def _stage(
    stage_id: str, name: str, order: int, groups: str, panel: int, advancement: dict[str, Any], **rules: Any
) -> dict[str, Any]:
    return {
        "stage_id": stage_id,
        "name": name,
        "order": order,
        "groups": groups,
        "panel_size": panel,
        "criteria": rules.get("criteria", BOAI_CRITERIA),
        "drop_rule": DROP_ONE_EACH_FROM_FIVE,
        "tolerance": rules.get("tolerance", "15"),
        "advancement": dict(advancement, tiebreak=rules.get("tiebreak", BOAI_TIEBREAK)),
    }


FORMATS: dict[str, dict[str, Any]] = {
    "boai": {
        "name": "逐级淘汰（博爱）",
        "format": "knockout",
        "summary": "乡镇（街道）初赛、县级半决赛、县级决赛；讲党建、讲工作、讲成效，去掉一个最高分和一个最低分",
        "stages": [
            _stage("prelim", "乡镇（街道）初赛", 1, "township", 5, {"per_group": 2, "overall": 6}),
            _stage("semi", "县级半决赛", 2, "county", 7, {"overall": 5}),
            _stage("final", "县级决赛", 3, "county", 7, {"overall": 1}),
        ],
        "series": [],
    },
    "qidong": {
        "name": "“五比五拼”（启东）",
        "format": "performance",
        "summary": "一轮比武，五项成对的评分项，各乡镇前三名评为优秀",
        "stages": [
            _stage(
                "wubi",
                "“五比五拼”擂台赛",
                1,
                "township",
                5,
                {"per_group": 3},
                criteria=QIDONG_CRITERIA,
                tolerance="20",
                tiebreak=QIDONG_TIEBREAK,
            )
        ],
        "series": [],
    },
    "lufeng": {
        "name": "交流会（陆丰）",
        "format": "exchange",
        "summary": "全市交流会每两月一次，各乡镇书记论坛每月一次、一月一主题；不打分，记录每位书记的交流与点评",
        "stages": [],
        "series": [
            {
                "series_id": "city-exchange",
                "name": "村（社区）党组织书记工作交流会",
                "cadence": "bimonthly",
                "themes": LUFENG_THEMES,
            },
            {"series_id": "forum", "name": "“一月一主题”书记论坛", "cadence": "monthly", "themes": LUFENG_THEMES},
        ],
    },
    "blank": {
        "name": "空白",
        "format": "performance",
        "summary": "一轮、一个评分项：按本地方案自行修改",
        "stages": [
            _stage(
                "round-1",
                "比武",
                1,
                "county",
                5,
                {"overall": 3},
                criteria=[{"criterion_id": "overall", "name": "综合评分", "max": "100", "weight": "1", "step": "0.5"}],
                tolerance="20",
                tiebreak=[{"kind": "median_total"}, {"kind": "lot"}],
            )
        ],
        "series": [],
    },
}

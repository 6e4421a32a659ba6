"""The county the API examples are recorded in: 博爱县's 2021 擂台比武 of village Party secretaries,
a township preliminary and a county final, small enough that every answer fits on a page."""

from __future__ import annotations

CONTEST = "boai-2021"
BASE_URL = "https://leitai.boai.example.gov.cn"  # where the county's judges reach the gateway
TOWNSHIPS = {"qinghua": "清化镇", "boshan": "柏山镇", "yueshan": "月山镇", "xiaojing": "孝敬镇"}
VILLAGES = {
    "qinghua": {"dongguan": "东关村", "xiguan": "西关村", "nanguan": "南关村"},
    "boshan": {"boshan": "柏山村", "hanying": "韩营村", "lvdian": "吕店村"},
    "yueshan": {"yueshan": "月山村"},
    "xiaojing": {"yuefang": "岳坊村"},
}
CONTEST_BODY = {
    "contest_id": CONTEST,
    "name": "博爱县2021年村（社区）党组织书记擂台比武",
    "tree_id": "boai",
    "county_code": "boai",
    "format": "knockout",
    "description": "比党建、比发展、比治理：乡镇初赛，县级决赛",
    "organiser": {"name": "中共博爱县委组织部", "email": "zzb@boai.example.gov.cn", "phone": "0391-8181234"},
}
CRITERIA = [
    {"criterion_id": "party", "name": "抓党建", "max": "30", "weight": "1", "step": "0.5"},
    {"criterion_id": "revival", "name": "促振兴", "max": "40", "weight": "1", "step": "0.5"},
    {"criterion_id": "governance", "name": "强治理", "max": "30", "weight": "1", "step": "0.5"},
]
# five sheets: the highest and the lowest dropped; four (a judge stood aside): the same
DROP_RULE = [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}, {"min_sheets": 4, "drop_high": 1, "drop_low": 1}]
PRELIM = {
    "stage_id": "prelim",
    "name": "乡镇初赛",
    "order": 1,
    "groups": [{"group_id": "g-north", "name": "北片（清化镇、柏山镇）", "townships": ["qinghua", "boshan"]}],
    "criteria": CRITERIA,
    "panel_size": 5,
    "drop_rule": DROP_RULE,
    "tolerance": "15",
    "advancement": {"per_group": 3, "tiebreak": [{"kind": "median_total"}, {"kind": "lot"}]},
    "lot_seed": "boai-2021-prelim",
}
FINAL = {
    "stage_id": "final",
    "name": "县级决赛",
    "order": 2,
    "groups": [{"group_id": "g-county", "name": "全县", "townships": list(TOWNSHIPS)}],
    "criteria": CRITERIA,
    "panel_size": 5,
    "drop_rule": DROP_RULE,
    "tolerance": "15",
    "advancement": {"overall": 1},
    "lot_seed": "boai-2021-final",
}
JUDGES = [
    {"judge_id": "j-sun", "name": "孙立新", "work_unit": "县委组织部"},
    {"judge_id": "j-zhou", "name": "周晓燕", "work_unit": "县农业农村局"},
    {"judge_id": "j-wu", "name": "吴海峰", "work_unit": "县委党校"},
    {"judge_id": "j-zheng", "name": "郑丽娟", "township_code": "yueshan", "work_unit": "月山镇党委"},
    # declared: 陈国平 is his brother-in-law, so he stands aside when 陈国平 presents (回避)
    {"judge_id": "j-feng", "name": "冯卫东", "work_unit": "县乡村振兴局", "conflicts": ["c-hanying"]},
]
HEAD = "j-sun"
PANEL = [{"judge_id": j["judge_id"], "head": j["judge_id"] == HEAD} for j in JUDGES]


def entry(village: str, name: str, title: str, township: str) -> dict:
    return {
        "entry_id": f"e-{village}",
        "contestant_id": f"c-{village}",
        "name": name,
        "village_code": f"{township}-{village}",
        "title": title,
        "email": f"{village}@{township}.example.cn",
        "phone": "13903910000",
    }


ENTRIES = [
    entry("dongguan", "王建国", "党建引领激活乡村振兴新动能", "qinghua"),
    entry("xiguan", "李秀英", "“五星”支部创建的西关实践", "qinghua"),
    entry("nanguan", "张志强", "集体经济从空壳村到百万村", "qinghua"),
    entry("boshan", "赵红梅", "山区村特色产业发展之路", "boshan"),
    entry("hanying", "陈国平", "网格化治理让村民事不出村", "boshan"),
    entry("lvdian", "刘桂兰", "小庭院里的大产业", "boshan"),
]
WITHDRAWN = "e-lvdian"
# each judge's sheet total for each entry (j-sun, j-zhou, j-wu, j-zheng, j-feng); None: stood aside.
# 王建国 91.00, 赵红梅 89.00, 李秀英 86.33, 陈国平 85.50, 张志强 82.00: the first three go on
TOTALS = {
    "e-dongguan": (92, 90, 91, 89, 93),
    "e-boshan": (88, 90, 87, 89, 91),
    "e-xiguan": (86, 87, 88, 85, 86),
    "e-hanying": (84, 86, 85, 87, None),
    "e-nanguan": (80, 82, 83, 81, 84),
}
# what the head judge and the Party school's judge write on their sheets (亮点, 建议); the others write none
COMMENTS = {
    ("e-dongguan", "j-sun"): ("支部带头领办合作社，成效看得见", "总结经验，形成可复制的做法"),
    ("e-dongguan", "j-wu"): ("汇报条理清楚，数据翔实", "加强与周边村联建共建"),
    ("e-boshan", "j-sun"): ("特色产业选得准，带富能力强", "加强村级后备力量培养"),
    ("e-boshan", "j-wu"): ("山区发展思路有新意", "注意生态保护与开发并重"),
    ("e-xiguan", "j-sun"): ("支部标准化建设扎实", "集体经济增收渠道还需拓宽"),
    ("e-xiguan", "j-wu"): ("党员积分管理有特色", "发挥好老党员作用"),
    ("e-hanying", "j-sun"): ("网格员队伍建设有特色", "治理成效的数据支撑不足"),
    ("e-hanying", "j-wu"): ("矛盾纠纷化解在基层", "健全村务监督机制"),
    ("e-nanguan", "j-sun"): ("思路清晰，敢闯敢干", "项目落地进度需加快"),
    ("e-nanguan", "j-wu"): ("光伏项目带动集体增收", "测算好后期运维成本"),
}


def scores(total: int) -> dict[str, str]:
    """A sheet's three scores that sum to ``total``, each within its criterion's maximum."""
    party, revival = total * 3 // 10, total * 4 // 10
    return {"party": str(party), "revival": str(revival), "governance": str(total - party - revival)}


def regions() -> list[dict]:
    tree = [{"code": "boai", "name": "博爱县", "level": "county", "parent": None}]
    for township, name in TOWNSHIPS.items():
        tree.append({"code": township, "name": name, "level": "township", "parent": "boai"})
        tree += [
            {"code": f"{township}-{code}", "name": village, "level": "village", "parent": township}
            for code, village in VILLAGES[township].items()
        ]
    return tree

"""A Boai-style preliminary round, set up over HTTP: the data the e2e tests and the chaos run share."""

from __future__ import annotations

import random
import uuid
from decimal import Decimal

from testkit.stack import ORGANISER_TOKEN, Stack, eventually, judge_token, ok

CONTEST = "boai-2021"
TOWNSHIPS = {"qinghua": "清化镇", "boshan": "柏山镇", "yuetang": "月山镇"}
CRITERIA = [
    {"criterion_id": "party", "name": "讲党建", "max": "30", "weight": "1", "step": "0.5"},
    {"criterion_id": "work", "name": "讲工作", "max": "40", "weight": "1.5", "step": "0.5"},
    {"criterion_id": "results", "name": "讲成效", "max": "30", "weight": "1", "step": "0.5"},
]
DROP_RULE = [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}, {"min_sheets": 5, "drop_high": 1, "drop_low": 1}]
# session s1:清化镇's 15 entries, judges J1-J5 (J1 head); session s2: 柏山镇's 15, J6-J10, and J10
# is from 柏山镇 himself: recused from every entry there, so s2 is scored on 4 sheets.
PANELS = {"s1": ["J1", "J2", "J3", "J4", "J5"], "s2": ["J6", "J7", "J8", "J9", "J10"]}
GROUP_OF = {"s1": "g-qinghua", "s2": "g-boshan"}
JUDGE_TOWNSHIP = {"J10": "boshan"}


def regions() -> list[dict]:
    tree = [{"code": "boai", "name": "博爱县", "level": "county", "parent": None}]
    for code, name in TOWNSHIPS.items():
        tree.append({"code": code, "name": name, "level": "township", "parent": "boai"})
        tree += [
            {"code": f"{code}-v{n:02d}", "name": f"{name}第{n}村", "level": "village", "parent": code}
            for n in range(1, 16)
        ]
    return tree


SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ("建国", "秀英", "志强", "红梅", "海峰", "丽娟", "国平")


def name(k: int) -> str:
    """The ``k``-th contestant's name: Chinese, as on a county's list, none twice for k < 140."""
    return SURNAMES[k % len(SURNAMES)] + GIVEN[k % len(GIVEN)]


def entries() -> list[dict]:
    return [
        {
            "entry_id": f"e-{code}-{n:02d}",
            "contestant_id": f"c-{code}-{n:02d}",
            "name": name(15 * t + n - 1),
            "village_code": f"{code}-v{n:02d}",
            "title": f"{TOWNSHIPS[code]}第{n}村党建工作汇报",
            "email": f"c{n}@{code}.example.cn",
            "phone": "13800000000",
        }
        for t, code in enumerate(("qinghua", "boshan"))
        for n in range(1, 16)
    ]


def set_up(stack: Stack, adjust=None) -> dict:
    """Everything up to open sessions; returns the drawn orders. ``adjust`` may change the entries."""
    org = ORGANISER_TOKEN
    ok(stack.call("PUT", "/regions/boai", {"regions": regions()}, org))
    ok(
        stack.call(
            "POST",
            "/contests",
            {
                "contest_id": CONTEST,
                "name": "博爱县村(社区)党组织书记擂台比武",
                "tree_id": "boai",
                "county_code": "boai",
                "format": "knockout",
            },
            org,
        )
    )
    ok(
        stack.call(
            "POST",
            f"/contests/{CONTEST}/stages",
            {
                "stage_id": "prelim",
                "name": "乡镇初赛",
                "order": 1,
                "panel_size": 5,
                "criteria": CRITERIA,
                "groups": [
                    {"group_id": "g-qinghua", "name": "清化镇", "townships": ["qinghua"]},
                    {"group_id": "g-boshan", "name": "柏山镇", "townships": ["boshan"]},
                ],
                "drop_rule": DROP_RULE,
                "tolerance": "40",
                "advancement": {"per_group": 3},
            },
            org,
        )
    )
    for n in range(1, 11):
        judge = f"J{n}"
        ok(
            stack.call(
                "POST",
                f"/contests/{CONTEST}/judges",
                {"judge_id": judge, "name": f"评委{n}", "township_code": JUDGE_TOWNSHIP.get(judge, "yuetang")},
                org,
            )
        )
    all_entries = entries()
    if adjust:
        adjust(all_entries)
    ok(stack.call("POST", f"/contests/{CONTEST}/entries", {"entries": all_entries[:10]}, org))
    ok(stack.call("POST", f"/contests/{CONTEST}/entries", {"entries": all_entries[10:]}, org))
    orders = {}
    for session, judges in PANELS.items():
        ok(
            stack.call(
                "POST",
                f"/contests/{CONTEST}/sessions",
                {
                    "session_id": session,
                    "stage_id": "prelim",
                    "group_id": GROUP_OF[session],
                    "starts_at": "2021-06-01T09:00:00+08:00",
                    "place": "县委党校报告厅",
                },
                org,
            )
        )
        ok(
            stack.call(
                "PUT",
                f"/contests/{CONTEST}/sessions/{session}/panel",
                {"seats": [{"judge_id": j, "head": i == 0} for i, j in enumerate(judges)]},
                org,
            )
        )
        drawn = ok(
            stack.call("POST", f"/contests/{CONTEST}/sessions/{session}/draw", {"seed": f"seed-{session}-2021"}, org)
        )
        orders[session] = drawn
        ok(stack.call("POST", f"/contests/{CONTEST}/sessions/{session}/opening", None, org))
    for session in PANELS:
        eventually(stack, f"/sessions/{session}/scoring", org)
    return orders


def random_scores(rng: random.Random) -> dict[str, str]:
    scores = {}
    for criterion in CRITERIA:
        steps = int(Decimal(criterion["max"]) / Decimal(criterion["step"]))
        scores[criterion["criterion_id"]] = str(Decimal(criterion["step"]) * rng.randint(steps // 2, steps))
    return scores


def sheet(scores: dict[str, str], submission_id: str | None = None) -> dict:
    return {
        "submission_id": submission_id or str(uuid.uuid4()),
        "scores": scores,
        "strengths": "思路清晰，成效明显",
        "suggestions": "进一步壮大集体经济",
    }


def submit_all(stack: Stack, session: str, order: list[str], rng: random.Random) -> dict[tuple[str, str], dict]:
    """Every seated, non-recused judge scores every entry; returns the sheets accepted."""
    accepted = {}
    for entry in order:
        for judge in PANELS[session]:
            if JUDGE_TOWNSHIP.get(judge) == "boshan" and session == "s2":
                continue
            scores = random_scores(rng)
            ok(stack.call("PUT", f"/sessions/{session}/sheets/{entry}", sheet(scores), judge_token(judge)))
            accepted[(entry, judge)] = scores
    return accepted

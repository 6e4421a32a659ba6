"""Running a scored contest (Boai's knock-out, Qidong's one-stage contest) through the services.

Everything goes through the services' RPC interfaces, as the gateway's requests would:
organisers set up and publish, each seated judge submits a sheet for each entry he may
score, the head judge locks. The only waits are on conditions the services report.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import eventlet

from composition.demo.people import People
from composition.demo.runtime import Runtime
from composition.demo.tables import table
from composition.localservers import wait_until
from leitai import roles
from leitai.errors import NotFound, RuleViolated
from services.gateway.names import Names
from services.scoring.session import PanelJudge, SessionEntry, recusal

ORGANISER = {"id": "demo-organiser", "role": roles.ORGANISER, "deployment": True}  # the demo runs three counties
SUBMISSIONS = uuid.UUID("6f1d6c1e-3b0a-4f5e-9a57-6c6561697461")  # namespace of the demo's submission ids
OVERRIDE = "经主评委复核，偏差评分系评委独立判断，予以保留"
STRENGTHS = (
    "思路清晰，重点突出",
    "党建引领作用发挥明显",
    "集体经济发展有实招",
    "群众工作方法扎实",
    "数据翔实，成效可感",
    "产业发展路子对头",
    "人居环境整治成效明显",
    "基层治理有创新",
    "讲述生动，感染力强",
    "班子建设抓得实",
)
SUGGESTIONS = (
    "进一步壮大村集体经济",
    "加强后备干部培养",
    "提炼可复制推广的经验",
    "注重发挥党员先锋模范作用",
    "讲述可更聚焦问题与对策",
    "加大产业项目谋划力度",
    "健全村务监督机制",
    "强化数字化治理手段",
    "加强与周边村联建共建",
    "进一步规范“三会一课”",
)


@dataclass(frozen=True)
class Judge:
    judge_id: str
    name: str
    township_code: str | None
    work_unit: str
    phone: str

    def registration(self) -> dict:
        return {
            "judge_id": self.judge_id,
            "name": self.name,
            "township_code": self.township_code,
            "work_unit": self.work_unit,
            "email": f"{self.judge_id.lower()}@judges.example.cn",
            "phone": self.phone,
        }


@dataclass(frozen=True)
class Session:
    session_id: str
    group_id: str
    judges: tuple[str, ...]  # the first is the head judge
    reserves: tuple[str, ...]
    starts_at: str
    place: str

    def seats(self) -> list[dict]:
        return [{"judge_id": j, "head": n == 0, "reserve": False} for n, j in enumerate(self.judges)] + [
            {"judge_id": j, "head": False, "reserve": True} for j in self.reserves
        ]


@dataclass
class Stage:
    definition: dict  # as registration's define_stage takes it
    sessions: list[Session]

    @property
    def stage_id(self) -> str:
        return self.definition["stage_id"]

    @property
    def name(self) -> str:
        return self.definition["name"]


@dataclass
class ScoredContest:
    contest_id: str
    name: str
    format: str
    description: str
    regions: list[dict]
    judges: list[Judge]
    entries: list[dict]
    stages: list[Stage] = field(default_factory=list)

    def township_names(self) -> dict[str, str]:
        return {r["code"]: r["name"] for r in self.regions if r["level"] == "township"}


def county_entries(
    people: People, county: tuple[str, str], townships: Iterable[tuple[str, str, int, bool]], titles: Sequence[str]
) -> tuple[list[dict], list[dict]]:
    """A county's region tree, with ``count`` villages (communities where ``urban``) in each
    township, and one entry for each village's secretary."""
    regions = [{"code": county[0], "name": county[1], "level": "county", "parent": None}]
    entries = []
    for code, name, count, urban in townships:
        regions.append({"code": code, "name": name, "level": "township", "parent": county[0]})
        for n, village in enumerate(people.villages(count, urban), start=1):
            village_code = f"{code}-{n:02d}"
            regions.append({"code": village_code, "name": village, "level": "village", "parent": code})
            contestant = f"c-{village_code}"
            entries.append(
                {
                    "entry_id": f"e-{village_code}",
                    "contestant_id": contestant,
                    "name": people.name(),
                    "village_code": village_code,
                    "title": f"{village}：{people.pick(titles)}",
                    "email": f"{contestant}@villages.example.cn",
                    "phone": people.phone(),
                }
            )
    return regions, entries


class Scores:
    """What each judge gives each entry: the contestant's own level, the judge's leaning and
    the moment's noise, all drawn from ``seed``; now and then a judge is far off the panel."""

    def __init__(self, seed: str, outlier_rate: float = 0.01) -> None:
        self.seed = seed
        self.outlier_rate = outlier_rate

    def level(self, contestant_id: str) -> float:
        return random.Random(f"{self.seed}:level:{contestant_id}").uniform(0.62, 0.93)

    def leaning(self, judge_id: str) -> float:
        return random.Random(f"{self.seed}:leaning:{judge_id}").gauss(0, 0.025)

    def sheet(self, stage_id: str, entry: dict, judge_id: str, head: bool, criteria: list[dict]) -> dict:
        rng = random.Random(f"{self.seed}:{stage_id}:{entry['entry_id']}:{judge_id}")
        base = self.level(entry["contestant_id"]) + self.leaning(judge_id)
        if rng.random() < self.outlier_rate:
            base -= 0.25
        scores = {}
        for criterion in criteria:
            share = min(max(base + rng.gauss(0, 0.04), 0.3), 1.0)
            steps = int(Decimal(criterion["max"]) / Decimal(criterion["step"]))
            scores[criterion["criterion_id"]] = str(Decimal(criterion["step"]) * round(share * steps))
        comments = head or rng.random() < 0.3
        return {
            "submission_id": str(uuid.uuid5(SUBMISSIONS, f"{self.seed}:{stage_id}:{entry['entry_id']}:{judge_id}")),
            "scores": scores,
            "strengths": rng.choice(STRENGTHS) if comments else "",
            "suggestions": rng.choice(SUGGESTIONS) if comments else "",
        }


def set_up(rt: Runtime, contest: ScoredContest, say: Callable[..., None]) -> None:
    tree_id = contest.contest_id
    rt.call("registration", "import_regions", ORGANISER, tree_id, regions=contest.regions)
    county = next(r["code"] for r in contest.regions if r["level"] == "county")
    rt.call(
        "registration",
        "create_contest",
        ORGANISER,
        {
            "contest_id": contest.contest_id,
            "name": contest.name,
            "tree_id": tree_id,
            "county_code": county,
            "format": contest.format,
            "description": contest.description,
        },
    )
    for stage in contest.stages:
        rt.call("registration", "define_stage", ORGANISER, contest.contest_id, stage.definition)
    for judge in contest.judges:
        rt.call("registration", "register_judge", ORGANISER, contest.contest_id, judge.registration())
    for start in range(0, len(contest.entries), 100):
        rt.call("registration", "submit_entries", ORGANISER, contest.contest_id, contest.entries[start : start + 100])
    townships = len({e["village_code"].rsplit("-", 1)[0] for e in contest.entries})
    say(
        f"registered {len(contest.entries)} entries from {townships} townships, {len(contest.judges)} judges, "
        f"{len(contest.stages)} stage(s)"
    )


def run_stage(rt: Runtime, contest: ScoredContest, stage: Stage, scores: Scores, say: Callable[..., None]) -> dict:
    """Schedule, seat, draw and open every session; score; lock; publish. Returns the published results."""
    cid = contest.contest_id
    for session in stage.sessions:
        rt.call(
            "registration",
            "schedule_session",
            ORGANISER,
            cid,
            {
                "session_id": session.session_id,
                "stage_id": stage.stage_id,
                "group_id": session.group_id,
                "starts_at": session.starts_at,
                "place": session.place,
            },
        )
        rt.call("registration", "seat_panel", ORGANISER, cid, session.session_id, session.seats())
        rt.call(
            "registration", "draw_order", ORGANISER, cid, session.session_id, seed=f"{scores.seed}-{session.session_id}"
        )
        rt.call("registration", "open_session", ORGANISER, cid, session.session_id)
    view = rt.call("registration", "get_contest", ORGANISER, cid)
    entries = {e["entry_id"]: e for e in view["entries"]}
    sessions = {s["session_id"]: s for s in view["sessions"]}
    names = {g["group_id"]: g["name"] for g in stage.definition["groups"]}
    for session in stage.sessions:
        drawn = sessions[session.session_id]
        if len(drawn["order"]) <= 10:  # a short order is worth reading: who goes on stage when
            say(
                f"  {names[session.group_id]}: order drawn by lot (seed {drawn['seed']}): "
                + "，".join(f"{n}. {entries[e]['name']}" for n, e in enumerate(drawn["order"], start=1))
            )
    judges = {j.judge_id: j for j in contest.judges}
    pool = eventlet.GreenPool(len(stage.sessions))
    reports = list(
        pool.imap(
            lambda s: _score_session(rt, cid, stage, s, sessions[s.session_id]["order"], entries, judges, scores),
            stage.sessions,
        )
    )
    for session, report in zip(stage.sessions, reports, strict=True):
        say(f"  {names[session.group_id]}: {report}")
    # publish once every event is in, so the log positions it records are the same on every run
    rt.settle(notices=False)
    results = rt.call("ranking", "publish_stage", ORGANISER, cid, stage.stage_id)
    advanced = [row for row in results["standings"] if row["advanced"]]
    if results.get("next_stage_id"):
        wait_until(
            lambda: (
                sum(
                    1
                    for e in rt.call("registration", "get_contest", ORGANISER, cid)["entries"]
                    if e["stage_id"] == results["next_stage_id"]
                )
                == len(advanced)
            ),
            120,
            what=f"the {len(advanced)} advancing entries to reach {results['next_stage_id']}",
        )
    return results


def _score_session(
    rt: Runtime,
    contest_id: str,
    stage: Stage,
    session: Session,
    order: list[str],
    entries: dict[str, dict],
    judges: dict[str, Judge],
    scores: Scores,
) -> str:
    wait_until(lambda: _known_to_scoring(rt, session), 60, what=f"scoring to know session {session.session_id}")
    criteria = stage.definition["criteria"]
    sheets = recusals = 0
    for entry_id in order:
        entry = entries[entry_id]
        recused = [j for j in session.judges if _recused(judges[j], entry)]
        recusals += len(recused)
        stand_ins = [j for j in session.reserves if not _recused(judges[j], entry)][: len(recused)]
        for judge_id in [j for j in session.judges if j not in recused] + stand_ins:
            sheet = scores.sheet(stage.stage_id, entry, judge_id, judge_id == session.judges[0], criteria)
            rt.call("scoring", "submit_sheet", judge(judge_id, contest_id), session.session_id, entry_id, **sheet)
            sheets += 1
    head = judge(session.judges[0], contest_id)
    try:
        locked = rt.call("scoring", "lock_session", head, session.session_id)
        note = ""
    except RuleViolated as exc:  # sheets far from their panel's median: the head judge reviews, then locks
        flags = sum(len(v) for v in (exc.details or {}).get("open_flags", {}).values())
        locked = rt.call("scoring", "lock_session", head, session.session_id, override_reason=OVERRIDE)
        note = f", {flags} sheet(s) off the median reviewed"
    panel = f"{len(session.judges)} judges" + (f" + {len(session.reserves)} reserve" if session.reserves else "")
    return (
        f"{len(order)} entries, {panel}, {sheets} sheets"
        + (f", {recusals} recusal(s) filled by reserves" if recusals else "")
        + f"{note}; locked with {len(locked['results'])} scored"
    )


def _recused(judge: Judge, entry: dict) -> bool:
    """Scoring's own rule (回避): the demo offers no sheet the service would refuse."""
    seat = PanelJudge(judge.judge_id, judge.name, judge.township_code, judge.work_unit, frozenset(), False, False)
    presenter = SessionEntry(
        entry["entry_id"], entry["contestant_id"], entry["name"], entry["township_code"], entry.get("work_unit", ""), 0
    )
    return recusal(seat, presenter) is not None


def judge(judge_id: str, contest_id: str) -> dict:
    """A judge as the services see one: their grant names the contest they sit in."""
    return {"id": judge_id, "role": roles.JUDGE, "contest": contest_id}


def _known_to_scoring(rt: Runtime, session: Session) -> bool:
    try:
        rt.call("scoring", "session_status", ORGANISER, session.session_id)
        return True
    except NotFound:
        return False


def run(
    rt: Runtime,
    contest: ScoredContest,
    scores: Scores,
    say: Callable[..., None],
    shown: Callable[[Stage, dict], list[dict]],
    after: Callable[[Stage, dict], None] | None = None,
) -> None:
    """Set up, then every stage in turn; after each, print the rows ``shown`` picks of its
    standings, then do ``after`` (before the next stage starts)."""
    set_up(rt, contest, say)
    townships = contest.township_names()
    village_of = {e["entry_id"]: e["village_code"] for e in contest.entries}
    villages = {r["code"]: r["name"] for r in contest.regions if r["level"] == "village"}
    for stage in contest.stages:
        say(f"{stage.name}: {len(stage.sessions)} session(s)")
        results = run_stage(rt, contest, stage, scores, say)
        standings = results["standings"]
        advancing = sum(1 for r in standings if r["advanced"])
        groups = {g["group_id"]: g["name"] for g in stage.definition["groups"]}
        tie_breaks = Names(criteria={c["criterion_id"]: c["name"] for c in stage.definition["criteria"]})
        rows = shown(stage, results)
        say(
            f"{stage.name} published: {len(standings)} ranked; {advancing} "
            f"{'advance' if results.get('next_stage_id') else 'named'} ({_rule(stage.definition['advancement'])})"
            + (f"; showing {len(rows)}" if len(rows) < len(standings) else "")
        )
        say(
            table(
                ["名次", "选手", "乡镇（街道）", "村（社区）", "组", "得分", "晋级", "并列时"],
                [
                    [
                        r["rank"],
                        r["name"],
                        townships[village_of[r["entry_id"]].rsplit("-", 1)[0]],
                        villages[village_of[r["entry_id"]]],
                        groups[r["group_id"]],
                        r["stage_score"],
                        "✓" if r["advanced"] else "",
                        tie_breaks.decided_by(r["decided_by"]),
                    ]
                    for r in rows
                ],
                right=(0, 5),
            ),
            raw=True,
        )
        show_calibration(rt, contest, stage, say)
        if after is not None:
            after(stage, results)


SHOWN_JUDGES = 4  # of each end, when a stage has many
JUDGES_AGAINST_PANELS = "各评委与本场评委组的比较"  # docs/calibration.md


def show_calibration(rt: Runtime, contest: ScoredContest, stage: Stage, say: Callable[..., None]) -> None:
    """The judges of the stage against their panels (docs/calibration.md), harshest first."""
    calibration = rt.call("ranking", "calibration", ORGANISER, contest.contest_id, stage.stage_id)
    names = {j.judge_id: j.name for j in contest.judges}
    rows = sorted(calibration["judges"], key=lambda j: (Decimal(j["severity"]), j["judge_id"]))
    shown = f"；列出最严和最宽的各 {SHOWN_JUDGES} 位，共 {len(rows)} 位" if len(rows) > 2 * SHOWN_JUDGES else ""
    rows = rows[:SHOWN_JUDGES] + rows[-SHOWN_JUDGES:] if shown else rows
    w = sorted(Decimal(s["kendalls_w"]) for s in calibration["sessions"] if s["kendalls_w"] is not None)
    groups = {g["group_id"]: g["name"] for g in stage.definition["groups"]}
    hall = {s.session_id: groups[s.group_id] for s in stage.sessions}  # a session by its group's name
    concordance = (
        "，".join(f"{hall[s['session_id']]} {s['kendalls_w']}" for s in calibration["sessions"])
        if len(w) <= 3
        else f"{len(w)} 个评委组，{w[0]} 至 {w[-1]}"
    )
    say(
        f"{stage.name}：{JUDGES_AGAINST_PANELS}（宽严度：与本场中位分的平均偏差{shown}；"
        f"评委组一致性，肯德尔 W：{concordance}）"
    )
    say(
        table(
            ["评委", "评分表", "宽严度", "离散度", "一致性", "去最高", "去最低", "分差提示"],
            [
                [
                    names.get(j["judge_id"], j["judge_id"]),
                    j["sheets"],
                    j["severity"],
                    j["spread"],
                    j["agreement"] or "",
                    j["dropped_high"],
                    j["dropped_low"],
                    j["flags"],
                ]
                for j in rows
            ],
            right=(1, 2, 3, 4, 5, 6, 7),
        ),
        raw=True,
    )


def _rule(advancement: dict) -> str:
    parts = []
    if advancement.get("per_group"):
        parts.append(f"best {advancement['per_group']} of each group")
    if advancement.get("overall"):
        parts.append(f"best {advancement['overall']} {'of the rest' if parts else 'overall'}")
    return " + ".join(parts)

"""What a contest's ids are called, for what people read: the exports an organiser opens in
Excel and the public results page. The services answer with ids (a township's code, a group's,
a judge's); the gateway puts the names beside them from the contest's own registration and its
region tree, as the reader's grant may see them (the public sees no judges). An id with no name
known stays itself."""

from __future__ import annotations

from dataclasses import dataclass, field

TIE_BREAKS = {"median_total": "全部评分的中位数", "lot": "抽签", "entry_id": "参赛编号"}


@dataclass(frozen=True)
class Names:
    contest: str = ""  # the contest's own name
    townships: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    judges: dict[str, str] = field(default_factory=dict)
    criteria: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)

    def township(self, code: str) -> str:
        return self.townships.get(code, code)

    def group(self, group_id: str) -> str:
        return self.groups.get(group_id, group_id)

    def judge(self, judge_id: str) -> str:
        return self.judges.get(judge_id, judge_id)

    def session(self, session_id: str) -> str:
        return self.sessions.get(session_id, session_id)

    def decided_by(self, label: str | None) -> str:
        """The tie-break that decided a place, in words: 抽签, a criterion's average by its name."""
        if not label:
            return ""
        if label.startswith("criterion:"):
            criterion = label.split(":", 1)[1]
            return f"评分项“{self.criteria.get(criterion, criterion)}”的平均分"
        return TIE_BREAKS.get(label, label)


def of_contest(contest: dict, regions: list[dict], stage_id: str) -> Names:
    """``contest``: the contest as the reader may see it (GET /contests/{id}); ``regions``: its
    region tree; ``stage_id``: the stage read, whose groups and criteria are named."""
    stage: dict = next((s for s in contest.get("stages", []) if s["stage_id"] == stage_id), {})
    groups = {g["group_id"]: g["name"] for g in stage.get("groups", [])}
    sessions = {
        s["session_id"]: f"{groups.get(s['group_id'], s['group_id'])} {_day(s.get('starts_at', ''))}".strip()
        for s in contest.get("sessions", [])
        if s.get("stage_id") == stage_id
    }
    return Names(
        contest=contest.get("name", ""),
        townships={r["code"]: r["name"] for r in regions if r["level"] == "township"},
        groups=groups,
        judges={j["judge_id"]: j["name"] for j in contest.get("judges", [])},
        criteria={c["criterion_id"]: c["name"] for c in stage.get("criteria", [])},
        sessions=sessions,
    )


def _day(starts_at: str) -> str:
    """12月20日 from 2026-12-20T09:00:00+08:00: the day as the contest's own calendar says it."""
    if len(starts_at) < 10:
        return ""
    month, day = starts_at[5:7], starts_at[8:10]
    return f"{int(month)}月{int(day)}日" if month.isdigit() and day.isdigit() else ""

"""The Boai demo's appeal (申诉) after the semifinal: a transcription error found on review.

The entry placed just below another appeals; the review finds that one judge's sheet was
copied down lower than written; an organiser proposes the correction, a second organiser
approves it, the appeal is upheld, and the semifinal is published again as version 2, one
rank changed. Who was told is printed. Which sheet and by how much are chosen from the
published standings by the rules themselves, so that exactly the two places swap and nobody's
advancement changes (the final has its five already).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from composition.demo.runtime import Runtime
from composition.demo.scored import ORGANISER
from composition.localservers import wait_until
from services.scoring.rules import DropTier, aggregate

SECOND_ORGANISER = {"role": "organiser", "id": "organiser-2", "deployment": True}  # approves: never the proposer


def uphold_one(rt: Runtime, contest_id: str, stage: dict, results: dict, say: Callable[..., None]) -> None:
    lower, working, judge_id, scores = _choose(rt, contest_id, stage, results["standings"])
    appeal = rt.call(
        "ranking",
        "file_appeal",
        ORGANISER,
        contest_id,
        stage["stage_id"],
        {
            "appeal_id": f"appeal-{lower['entry_id']}",
            "entry_id": lower["entry_id"],
            "reason": f"对第{lower['rank']}名的得分有异议：评委{judge_id}的评分表可能抄录有误",
        },
    )
    say(f"appeal: {lower['name']} (rank {lower['rank']}, {lower['stage_score']}) asks for a review")
    correction = rt.call(
        "scoring",
        "propose_correction",
        ORGANISER,
        working["session_id"],
        {
            "correction_id": f"correction-{lower['entry_id']}",
            "kind": "change_score",
            "entry_id": lower["entry_id"],
            "judge_id": judge_id,
            "scores": {k: str(v) for k, v in scores.items()},
            "appeal_id": appeal["appeal_id"],
            "reason": "复核原始评分表：抄录错误，按原件更正",
        },
    )
    rt.call(
        "scoring",
        "decide_correction",
        SECOND_ORGANISER,
        working["session_id"],
        correction["correction_id"],
        {"action": "approve"},
    )
    rt.call(
        "ranking",
        "decide_appeal",
        SECOND_ORGANISER,
        contest_id,
        stage["stage_id"],
        appeal["appeal_id"],
        {"decision": "upheld", "reason": "复核属实，已按原始评分表更正"},
    )
    second = wait_until(
        lambda: _version(rt, contest_id, stage["stage_id"], 2), 60, what="the semifinal to be published again"
    )
    for change in second["diff"]:
        say(
            f"  {change['name']}: {change['before']['stage_score']} (rank {change['before']['rank']}) -> "
            f"{change['after']['stage_score']} (rank {change['after']['rank']})",
            raw=True,
        )
    rt.settle()
    told = [
        d
        for kind in ("appeal_received", "appeal_decided", "result_corrected", "sheet_corrected")
        for d in rt.call("notify", "deliveries", ORGANISER, contest_id, kind=kind)
    ]
    names = sorted({f"{d['name']}（{d['subject']}）" for d in told if d["channel"] == "email"})
    say(
        f"{stage['name']} published again as version 2 (the correction approved by a second organiser); "
        f"told, and nobody else: {'，'.join(names)}"
    )


class NoSwap(Exception):
    """No correction of one sheet swaps these two places alone."""


def _choose(rt: Runtime, contest_id: str, stage: dict, rows: list[dict]) -> tuple[dict, dict, str, dict]:
    """The first two neighbours among those who do not go on that one corrected sheet swaps,
    with nobody else moving: (the lower one, its working, the judge, the sheet as written)."""
    for above, upper, lower in zip(rows, rows[1:], rows[2:], strict=False):
        if (
            upper["advanced"]
            or lower["advanced"]
            or not (Decimal(above["stage_score"]) > Decimal(upper["stage_score"]) > Decimal(lower["stage_score"]))
        ):
            continue
        working = rt.call("ranking", "entry_working", ORGANISER, contest_id, stage["stage_id"], lower["entry_id"])
        try:
            judge_id, scores = _misread(stage, working, Decimal(upper["stage_score"]), Decimal(above["stage_score"]))
        except NoSwap:
            continue
        return lower, working, judge_id, scores
    raise RuntimeError("no two places one corrected sheet would swap")


def _misread(stage: dict, working: dict, above: Decimal, ceiling: Decimal) -> tuple[str, dict[str, Decimal]]:
    """A counted judge's sheet, raised step by step until the entry scores above ``above`` and
    below ``ceiling``: the sheet as the judge really wrote it."""
    rule = [DropTier(t["min_sheets"], t["drop_high"], t["drop_low"]) for t in stage["drop_rule"]]
    criteria = stage["criteria"]
    totals = {s["judge_id"]: Decimal(s["total"]) for s in working["sheets"]}
    counted = sorted(set(totals) - set(working["dropped_high"]) - set(working["dropped_low"]))
    for judge_id in counted:
        scores = {
            k: Decimal(v) for k, v in next(s for s in working["sheets"] if s["judge_id"] == judge_id)["scores"].items()
        }
        for _ in range(200):
            raisable = [c for c in criteria if scores[c["criterion_id"]] + Decimal(c["step"]) <= Decimal(c["max"])]
            if not raisable:
                break
            target = raisable[0]["criterion_id"]
            scores[target] += Decimal(raisable[0]["step"])
            total = sum(Decimal(c["weight"]) * scores[c["criterion_id"]] for c in criteria)
            score = aggregate(working["entry_id"], dict(totals, **{judge_id: total}), rule).stage_score
            if above < score < ceiling:
                return judge_id, scores
            if score >= ceiling:
                break
    raise NoSwap(working["entry_id"])


def _version(rt: Runtime, contest_id: str, stage_id: str, version: int) -> dict | None:
    results = rt.call("ranking", "stage_results", contest_id, stage_id)
    return results if results.get("version") == version else None

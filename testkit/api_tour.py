"""A contest walked through every route of the gateway, in the order a county runs one, each
route's call kept as its example (api_record.py): the region tree, the contest and its stages,
judges and their invitations, entries, the preliminary's session from panel to lock, the
publication and all that reads it, the final opened, an appeal and the correction that
upholds it, the change of who advances it brings, a forum series, the notices.

The walk is deterministic: fixed ids, seeds, submission ids and idempotency keys, one request
at a time, and where a service learns of a write by an event, a wait for it (Leitai-After, or
polling a read that is not kept), so that every kept answer is the same in every run."""

from __future__ import annotations

import base64
import io
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from services.gateway.roster import ENTRIES, JUDGES, template
from testkit import api_county as county
from testkit.api_record import Recorder
from testkit.servers import free_port, wait_until
from testkit.stack import ORGANISER_TOKEN, SUPERVISOR_TOKEN, Stack, running_stack

C = county.CONTEST
AFTER = "Leitai-After"
SESSION, FINAL_SESSION = "prelim-north", "final-county"
SCREEN = "dangxiao-hall"  # the hall's screen: the county Party school's lecture hall
APPEAL, CORRECTION = "appeal-hanying", "corr-hanying-wu"
SEAL_S = 5.5  # a sequencer seals its log every 5 s (leitai/eventstore/sequencer.py), and a moment more
NAMESPACE = uuid.UUID("5f1c3a52-3b1e-4d0e-9a39-6c1f3e0f2021")  # the sheets' submission ids, the same every run


@contextmanager
def examples_stack(folder: Path, mongo_url: str) -> Iterator[Stack]:
    """A stack of its own for the walk: every e-mail and SMS fails at its first attempt (nothing
    listens on their ports), so that each delivery has its final status at once, and some are
    there to be sent again."""
    with running_stack(folder, mongo_url, [], notify=_dead_channels()) as stack:
        yield stack


def _dead_channels() -> dict:
    return {
        "smtp": {"host": "127.0.0.1", "port": free_port()},
        "sms": {"url": f"http://127.0.0.1:{free_port()}/sms", "api_key": "example-sms-key"},
        "max_attempts": 1,
    }


def walk(stack: Stack) -> Recorder:
    """Every route of the OpenAPI document called at least once, and kept."""
    rec = Recorder(stack, list(stack.call("GET", "/openapi.json")[1]["paths"]))
    rec.name(ORGANISER_TOKEN, "<organiser's token>")
    rec.name(SUPERVISOR_TOKEN, "<supervisor's token>")
    service(rec)
    set_up(rec)
    tokens = invite(rec)
    register(rec)
    lock = score(rec, tokens)
    publish(rec, lock)
    read_published(rec, tokens)
    start_final(rec)
    appeal_and_correct(rec)
    forum(rec)
    notices(rec)
    roster(rec)
    revoke(rec)
    return rec


def service(rec: Recorder) -> None:
    rec.ok("GET", "/health/live")
    rec.ok("GET", "/health/ready")
    rec.ok("GET", "/openapi.json", shape=_openapi_outline, caption="Shown in outline: one operation of its many.")


def _openapi_outline(document: dict) -> dict:
    paths = document["paths"]
    return {
        "openapi": document["openapi"],
        "info": document["info"],
        "paths": {"/contests": {"post": paths["/contests"]["post"]}, "…": f"{len(paths) - 1} more paths"},
        "components": {"…": "the schemas, and the bearer security scheme"},
    }


def set_up(rec: Recorder) -> None:
    rec.ok("GET", "/me", token=ORGANISER_TOKEN, caption="Who the token is: the console shows what this grant may do.")
    rec.ok("GET", "/formats", token=ORGANISER_TOKEN, caption="What the console's set-up forms are filled in from.")
    rec.ok("PUT", "/regions/boai", {"regions": county.regions()}, token=ORGANISER_TOKEN)
    rec.ok("GET", "/regions/boai")
    mistaken = {**county.CONTEST_BODY, "contest_name": county.CONTEST_BODY["name"]}
    rec.call("POST", "/contests", mistaken, token=ORGANISER_TOKEN, caption="Refused: a field the API does not know.")
    rec.ok("POST", "/contests", county.CONTEST_BODY, token=ORGANISER_TOKEN)
    rec.ok("POST", f"/contests/{C}/stages", county.PRELIM, token=ORGANISER_TOKEN)
    rec.ok("POST", f"/contests/{C}/stages", county.FINAL, token=ORGANISER_TOKEN, keep=False)
    for n, judge in enumerate(county.JUDGES):
        rec.ok("POST", f"/contests/{C}/judges", judge, token=ORGANISER_TOKEN, keep=n == 0)


def invite(rec: Recorder) -> dict[str, str]:
    """Each judge's token, and the hall screen's (key ``SCREEN``), as their invitations hand them out."""
    tokens = {}
    for n, judge in enumerate([j["judge_id"] for j in county.JUDGES]):
        body = {"id": judge, "base_url": county.BASE_URL}  # a judge's grant is labelled with his name
        invited, _ = rec.ok("POST", f"/contests/{C}/invitations", body, token=ORGANISER_TOKEN, keep=n == 0)
        tokens[judge] = invited["token"]
        rec.name(invited["token"], f"<{judge}'s token>")
        rec.name(invited["grant_id"], f"<{judge}'s grant>")
    screen = {"role": "screen", "id": SCREEN, "label": "县委党校报告厅大屏", "base_url": county.BASE_URL}
    invited, _ = rec.ok("POST", f"/contests/{C}/invitations", screen, token=ORGANISER_TOKEN, keep=False)
    tokens[SCREEN] = invited["token"]
    rec.name(invited["token"], "<the hall screen's token>")
    rec.name(invited["grant_id"], "<the hall screen's grant>")
    minted = [*tokens]
    rec.ok(
        "GET",
        f"/contests/{C}/invitations",
        token=ORGANISER_TOKEN,
        shape=lambda answer: {"invitations": sorted(answer["invitations"], key=lambda g: minted.index(g["id"]))},
        caption="Oldest first; grants minted within the same second come in the order of their (drawn) ids, "
        "so they are shown here in the order the walk minted them.",
    )
    return tokens


def register(rec: Recorder) -> None:
    rec.ok(
        "POST",
        f"/contests/{C}/entries",
        {"entries": county.ENTRIES},
        token=ORGANISER_TOKEN,
        headers={"Idempotency-Key": "boai-2021-entries-1"},
        caption="Every entry of the contest in one call, with a key, so that sending it again is safe.",
    )
    rec.ok(
        "POST", f"/contests/{C}/entries/{county.WITHDRAWN}/withdrawal", {"reason": "因病退出"}, token=ORGANISER_TOKEN
    )
    session = {
        "session_id": SESSION,
        "stage_id": "prelim",
        "group_id": "g-north",
        "starts_at": "2021-06-18T08:30:00+08:00",
        "place": "县委党校报告厅",
    }
    rec.ok("POST", f"/contests/{C}/sessions", session, token=ORGANISER_TOKEN)
    rec.ok("PUT", f"/contests/{C}/sessions/{SESSION}/panel", {"seats": county.PANEL}, token=ORGANISER_TOKEN)


def score(rec: Recorder, tokens: dict[str, str]) -> str:
    """Draw, open, every sheet, lock: the lock's Leitai-Written token."""
    drawn, _ = rec.ok(
        "POST", f"/contests/{C}/sessions/{SESSION}/draw", {"seed": "boai-2021-prelim-north"}, token=ORGANISER_TOKEN
    )
    _, opened = rec.ok("POST", f"/contests/{C}/sessions/{SESSION}/opening", token=ORGANISER_TOKEN)
    rec.name(opened["Leitai-Written"], "<the opening's Leitai-Written>")
    written = opened["Leitai-Written"]
    judges = [j["judge_id"] for j in county.JUDGES]
    for entry in drawn["order"]:
        for judge, total in zip(judges, county.TOTALS[entry], strict=True):
            if total is None:  # stood aside: his sheet is refused
                body = _sheet(entry, judge, 90)
                rec.call(
                    "PUT",
                    f"/sessions/{SESSION}/sheets/{entry}",
                    body,
                    token=tokens[judge],
                    caption="Refused: the judge declared a conflict with this contestant (回避).",
                    keep=entry == "e-hanying",
                )
                continue
            first = entry == drawn["order"][0] and judge == county.HEAD
            _, answered = rec.ok(
                "PUT",
                f"/sessions/{SESSION}/sheets/{entry}",
                _sheet(entry, judge, total),
                token=tokens[judge],
                headers={AFTER: opened["Leitai-Written"]},
                caption="The first sheet after the opening: Leitai-After lets scoring learn of the opening first.",
                keep=first,
            )
            written = answered["Leitai-Written"]
    rec.name(written, "<the last sheet's Leitai-Written>")
    rec.ok("GET", "/judges/me/sessions", token=tokens["j-feng"], headers={AFTER: written})
    rec.ok("GET", f"/sessions/{SESSION}/scoring", token=ORGANISER_TOKEN, headers={AFTER: written})
    rec.ok("GET", f"/sessions/{SESSION}/hall", token=tokens[SCREEN], headers={AFTER: written})
    _, locked = rec.ok("POST", f"/sessions/{SESSION}/lock", {}, token=tokens[county.HEAD])
    rec.name(locked["Leitai-Written"], "<the lock's Leitai-Written>")
    # Each log is sealed, and its checkpoint signed, within SEAL_S of its last write: once
    # registration's and scoring's are, the publication's certificate cites those, the same in
    # every run (without the wait, whichever seal came first, as the timing fell)
    time.sleep(SEAL_S)
    return locked["Leitai-Written"]


def _sheet(entry: str, judge: str, total: int) -> dict:
    strengths, suggestions = county.COMMENTS.get((entry, judge), ("", ""))
    return {
        "submission_id": str(uuid.uuid5(NAMESPACE, f"{SESSION}/{entry}/{judge}")),
        "scores": county.scores(total),
        "strengths": strengths,
        "suggestions": suggestions,
    }


def publish(rec: Recorder, lock: str) -> None:
    rec.call(
        "GET",
        f"/sessions/{SESSION}/results",
        caption="Before the stage is published, the public is told there is nothing to see.",
    )
    rec.ok("GET", f"/sessions/{SESSION}/results", token=ORGANISER_TOKEN, caption="The organiser, from the lock on.")
    after = {AFTER: lock}
    board = f"/contests/{C}/stages/prelim/leaderboard"
    rec.ok("GET", board, token=ORGANISER_TOKEN, headers=after, caption="Live standings, before publication.")
    working = f"/contests/{C}/stages/prelim/entries/e-hanying/working"
    rec.ok("GET", working, token=ORGANISER_TOKEN, headers=after)
    rec.ok(
        "POST",
        f"/contests/{C}/stages/prelim/results",
        token=ORGANISER_TOKEN,
        headers={**after, "Idempotency-Key": "boai-2021-prelim-publish-1"},
    )
    # the publication's checkpoint is signed as soon as the ranking log has sequenced it
    wait_until(lambda: rec.stack.call("GET", "/logs/ranking/checkpoints/latest")[0] == 200, what="the checkpoint")
    latest, _ = rec.ok("GET", "/logs/ranking/checkpoints/latest")
    rec.ok("GET", "/logs/ranking/checkpoints?limit=10")
    rec.ok("GET", f"/logs/ranking/checkpoints/{latest['size']}")


def read_published(rec: Recorder, tokens: dict[str, str]) -> None:
    certificate = f"/contests/{C}/stages/prelim/certificate"

    def signed() -> bool:  # every log the standings rest on has a signed checkpoint covering them
        # not found until the publication's event reaches ranking's read model
        code, body = rec.stack.call("GET", certificate)
        return code == 200 and not body["pending"]

    wait_until(signed, timeout=30, what="the certificate's checkpoints")
    rec.ok("GET", f"/contests/{C}/stages/prelim/results")
    rec.ok("GET", certificate)
    rec.ok("GET", f"/contests/{C}/stages/prelim/leaderboard?group=g-north", caption="The public, once published.")
    rec.ok("GET", f"/contests/{C}/stages/prelim/results.csv?kind=results", token=ORGANISER_TOKEN)
    rec.ok("GET", f"/contests/{C}/stages/prelim/results.xlsx", token=ORGANISER_TOKEN)
    rec.ok("GET", f"/contests/{C}/stages/prelim/calibration", token=ORGANISER_TOKEN)
    rec.ok("GET", f"/results/{C}/prelim")
    rec.ok("POST", f"/live/{C}/prelim/ticket", token=tokens[SCREEN])
    rec.ok("GET", f"/live/{C}/prelim")
    rec.ok("GET", f"/hall/{SESSION}")
    rec.ok("GET", "/judge")
    rec.ok("GET", "/console")
    rec.ok("GET", "/console/setup")
    rec.ok("GET", "/pages/pages.js")
    rec.ok("GET", "/contests", token=ORGANISER_TOKEN)


def start_final(rec: Recorder) -> None:
    """The final's session opened: from now on a change of who advances waits for the organiser."""

    def advanced() -> bool:
        view = rec.stack.call("GET", f"/contests/{C}", token=ORGANISER_TOKEN)[1]
        return len([e for e in view["entries"] if e["stage_id"] == "final"]) == 3

    wait_until(advanced, what="three entries in the final")
    session = {
        "session_id": FINAL_SESSION,
        "stage_id": "final",
        "group_id": "g-county",
        "starts_at": "2021-07-02T09:00:00+08:00",
        "place": "博爱县人民会堂",
    }
    rec.ok("POST", f"/contests/{C}/sessions", session, token=ORGANISER_TOKEN, keep=False)
    seats = {"seats": county.PANEL}
    rec.ok("PUT", f"/contests/{C}/sessions/{FINAL_SESSION}/panel", seats, token=ORGANISER_TOKEN, keep=False)
    draw = {"seed": "boai-2021-final-county"}
    rec.ok("POST", f"/contests/{C}/sessions/{FINAL_SESSION}/draw", draw, token=ORGANISER_TOKEN, keep=False)
    rec.ok("POST", f"/contests/{C}/sessions/{FINAL_SESSION}/opening", token=ORGANISER_TOKEN, keep=False)


def appeal_and_correct(rec: Recorder) -> None:
    """陈国平, fourth, appeals: 吴海峰's 强治理 was typed as 26 where his paper sheet says 30. The
    correction makes him third, in 李秀英's place; the final is open, so the organiser decides."""
    appeals = f"/contests/{C}/stages/prelim/appeals"
    reason = "评委吴海峰“强治理”一项纸质评分表为30分，系统录入为26分"
    appeal = {"appeal_id": APPEAL, "entry_id": "e-hanying", "reason": reason}
    rec.ok("POST", appeals, appeal, token=ORGANISER_TOKEN)
    rec.ok("GET", appeals, token=SUPERVISOR_TOKEN)
    # scoring learns of the publication by its event; the public results answer once it has
    wait_until(lambda: rec.stack.call("GET", f"/sessions/{SESSION}/results")[0] == 200, what="scoring to know")
    corrected = dict(county.scores(85), governance="30")
    proposal = {
        "correction_id": CORRECTION,
        "kind": "change_score",
        "entry_id": "e-hanying",
        "judge_id": "j-wu",
        "scores": corrected,
        "reason": "经核对纸质评分表，“强治理”录入有误",
        "appeal_id": APPEAL,
    }
    rec.ok("POST", f"/sessions/{SESSION}/corrections", proposal, token=ORGANISER_TOKEN)
    decision = f"/sessions/{SESSION}/corrections/{CORRECTION}/decision"
    rec.ok("POST", decision, {"action": "approve"}, token=SUPERVISOR_TOKEN, caption="A second person approves.")
    rec.ok("GET", f"/sessions/{SESSION}/corrections", token=SUPERVISOR_TOKEN)
    results = f"/contests/{C}/stages/prelim/results"
    wait_until(lambda: rec.stack.call("GET", results)[1].get("version") == 2, what="the second version")
    rec.ok(
        "GET",
        f"{results}?version=2",
        # its certificate cites checkpoints the logs' seals sign as their timing falls: the
        # certificate's own example (of version 1) shows one
        shape=lambda answer: {k: v for k, v in answer.items() if k != "certificate"},
        caption="Published again after the correction: version 2, with its diff (its certificate left out here).",
    )
    upheld = {"decision": "upheld", "reason": "经复核，录入有误，已更正"}
    rec.ok("POST", f"{appeals}/{APPEAL}/decision", upheld, token=SUPERVISOR_TOKEN)

    def referred() -> bool:
        view = rec.stack.call("GET", f"/contests/{C}", token=ORGANISER_TOKEN)[1]
        return bool(view["advancement_changes"])

    wait_until(referred, what="registration to refer the change of who advances")
    rec.ok("GET", f"/contests/{C}", token=ORGANISER_TOKEN, caption="The organiser's view, with the change referred.")
    keep = {"action": "keep", "reason": "决赛已开赛，维持原晋级名单"}
    rec.ok("POST", f"/contests/{C}/advancement-changes/{CORRECTION}/decision", keep, token=ORGANISER_TOKEN)


def forum(rec: Recorder) -> None:
    """清化镇's monthly exchange meeting of its village secretaries (a Lufeng-style series)."""
    series = {
        "series_id": "qinghua-forum",
        "name": "清化镇村书记月度交流会",
        "cadence": "monthly",
        "township_code": "qinghua",
        "day_of_month": 15,
        "themes": ["基层党建", "产业发展", "乡村治理"],
    }
    rec.ok("POST", f"/contests/{C}/forum-series", series, token=ORGANISER_TOKEN)
    meeting = {
        "meeting_id": "qinghua-2021-07",
        "date": "2021-07-15",
        "theme": "产业发展",
        "central_task": "发展壮大村级集体经济",
        "presenters": ["c-dongguan", "c-nanguan"],
        "listeners": ["c-xiguan"],
        "evaluators": ["j-sun"],
    }
    rec.ok("POST", f"/contests/{C}/forum-series/qinghua-forum/meetings", meeting, token=ORGANISER_TOKEN)
    record = {
        "presentations": [
            {"contestant_id": "c-dongguan", "name": "王建国", "village_code": "qinghua-dongguan", "topic": "土地托管"},
            {"contestant_id": "c-nanguan", "name": "张志强", "village_code": "qinghua-nanguan", "topic": "光伏入股"},
        ],
        "attendees": ["c-dongguan", "c-nanguan", "c-xiguan"],
        "comments": [
            {
                "evaluator_id": "j-sun",
                "contestant_id": "c-nanguan",
                "strengths": "收益分配机制清楚",
                "suggestions": "测算好后期运维成本",
            }
        ],
    }
    rec.ok("POST", f"/contests/{C}/meetings/qinghua-2021-07/record", record, token=ORGANISER_TOKEN)
    rec.ok("GET", f"/contests/{C}/participation", token=ORGANISER_TOKEN)


# what 陈国平 has been told by now, each by inbox, e-mail and SMS (notify learns of each by an event)
HANYING_TOLD = [
    "registration_confirmed",
    "session_notice",
    "comments",
    "stage_result",
    "appeal_received",
    "result_corrected",
    "appeal_decided",
    "advancement_decided",
]


def notices(rec: Recorder) -> None:
    recipient = "contestant-c-hanying"
    deliveries = f"/contests/{C}/deliveries?recipient={recipient}"

    def settled() -> list[dict[str, Any]] | None:
        found = rec.stack.call("GET", deliveries, token=ORGANISER_TOKEN)[1]["deliveries"]
        done = all(d["status"] in ("sent", "failed", "undeliverable") for d in found)
        return found if done and {d["kind"] for d in found} >= set(HANYING_TOLD) else None

    told = wait_until(settled, what=f"the notices of {recipient}")
    rec.ok("GET", f"{deliveries}&kind=appeal_decided", token=ORGANISER_TOKEN)
    rec.ok(
        "GET",
        f"/contests/{C}/recipients/{recipient}/inbox",
        token=ORGANISER_TOKEN,
        shape=lambda answer: {"messages": sorted(answer["messages"], key=lambda m: HANYING_TOLD.index(m["kind"]))},
        caption="In the order delivered; notices of events of different services may be delivered in either "
        "order, so they are shown here in the order the walk caused them.",
    )
    failed = next(d for d in told if d["kind"] == "appeal_decided" and d["channel"] == "email")
    rec.name(failed["_id"], "<the appeal_decided e-mail's delivery id>")
    rec.ok("POST", f"/contests/{C}/deliveries/{failed['_id']}/retry", token=ORGANISER_TOKEN)
    preferences = {"email": True, "sms": False, "inbox": True}
    rec.ok("PUT", f"/contests/{C}/recipients/{recipient}/preferences", preferences, token=ORGANISER_TOKEN)


def roster(rec: Recorder) -> None:
    """Judges and entries from the Excel template: a sheet with mistakes, refused row by row; one
    put right, registered."""
    rec.ok("GET", f"/contests/{C}/roster.xlsx", token=ORGANISER_TOKEN)
    mistaken = _workbook(rec, [["刘洋", "清化镇", "北关村", "", "党建引领谱新篇", "12345", "", ""]], [])
    rec.call(
        "POST",
        f"/contests/{C}/roster",
        {"workbook": mistaken},
        token=ORGANISER_TOKEN,
        caption="Refused: every problem of every row, by sheet and row as Excel numbers them; nothing registered.",
    )
    reserve = _workbook(rec, [], [["王志强", "县委宣传部", "", "陈国平", "13903910001", "", "j-wang"]])
    rec.ok("POST", f"/contests/{C}/roster", {"workbook": reserve}, token=ORGANISER_TOKEN)


def _workbook(rec: Recorder, entries: list[list[str]], judges: list[list[str]]) -> str:
    """The roster template filled in with these rows, base64, as the console uploads it (named
    on the page: a workbook's bytes carry the time it was saved)."""
    book = load_workbook(io.BytesIO(template(county.CONTEST_BODY, county.regions())))
    for sheet, rows in ((ENTRIES, entries), (JUDGES, judges)):
        for row in rows:
            book[sheet].append(row)
    saved = io.BytesIO()
    book.save(saved)
    text = base64.b64encode(saved.getvalue()).decode()
    rec.name(text, "<the filled-in template (.xlsx), base64>")
    return text


def revoke(rec: Recorder) -> None:
    grant = next(
        g["grant_id"]
        for g in rec.stack.call("GET", f"/contests/{C}/invitations", token=ORGANISER_TOKEN)[1]["invitations"]
        if g["id"] == SCREEN
    )
    reason = {"reason": "初赛结束，收回大屏授权"}
    rec.ok("POST", f"/contests/{C}/invitations/{grant}/revocation", reason, token=ORGANISER_TOKEN)

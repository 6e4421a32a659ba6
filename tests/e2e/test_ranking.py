"""Issue 4 acceptance: three stages with advancement, ties at the cut-off, over HTTP."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pymongo
import pytest
import yaml
from kombu import Connection

from composition.projections import RANKING as PROJECTION
from leitai.canonical import canonical_json
from leitai.contracts.product import REGISTRY
from leitai.eventstore import EventStore
from leitai.eventstore.merkle import leaf_hash, verify_consistency, verify_inclusion
from leitai.eventstore.mongodb import MongoCommitLog
from leitai.eventstore.notes import Checkpoint
from leitai.messaging.topology import event_exchange
from leitai.readmodel import ReadModel
from leitai.replay import diff, rebuild
from services.ranking import board
from testkit.servers import ChildProcess, Vhost, queue_state, wait_until
from testkit.stack import SCREEN_TOKEN, SUPERVISOR_TOKEN, eventually, judge_token, ok
from tests.e2e.contest_flow import (
    ORG,
    publish,
    reference_standings,
    run_session,
    wait_for_stage_entries,
)
from tests.support.pipeline import BIN

pytestmark = pytest.mark.integration
CONTEST = "county-2021"
TOWNSHIPS = ["ta", "tb", "tc"]
JUDGES = [f"J{n}" for n in range(1, 6)]
CRITERIA = [
    {"criterion_id": "party", "name": "讲党建", "max": "40", "weight": "1", "step": "0.5"},
    {"criterion_id": "work", "name": "讲工作", "max": "60", "weight": "1", "step": "0.5"},
]
DROP = [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}, {"min_sheets": 5, "drop_high": 1, "drop_low": 1}]
CHAIN = [{"kind": "median_total"}, {"kind": "criterion", "criterion_id": "work"}, {"kind": "lot"}]
STAGES = [
    ("prelim", "乡镇初赛", {"per_group": 3, "tiebreak": CHAIN}, [(t, [t]) for t in TOWNSHIPS]),
    ("semi", "县级复赛", {"overall": 5, "tiebreak": CHAIN}, [("county", TOWNSHIPS)]),
    ("final", "县级决赛", {"tiebreak": CHAIN}, [("county", TOWNSHIPS)]),
]


def half_points(rng: random.Random, low: int, high: int) -> str:
    return str(Decimal(rng.randint(low * 2, high * 2)) / 2)


def scores_for(stage: str, entrants: list[str] | None = None):
    """Random sheets; in the semifinal, four entrants score high, two (the "twins") get the
    very same sheets as each other, in the middle, and the rest low. The twins then share
    score, median and criterion means at 5th and 6th place: only the lot can part them."""
    rng = random.Random(f"{stage}-scores")
    ranked = sorted(entrants or [])
    twins = ranked[4:6]

    def sheet(entry: str, judge: str) -> dict:
        if stage != "semi":
            return {"party": half_points(rng, 20, 40), "work": half_points(rng, 35, 60)}
        if entry in twins:
            step = JUDGES.index(judge)
            return {"party": str(25 + step), "work": str(Decimal(45) + Decimal(step) / 2)}
        if ranked.index(entry) < 4:
            return {"party": half_points(rng, 32, 40), "work": half_points(rng, 50, 60)}
        return {"party": half_points(rng, 5, 15), "work": half_points(rng, 20, 40)}

    return sheet, twins


@pytest.fixture(scope="module")
def contest(stack):
    tree = [{"code": "county", "name": "示范县", "level": "county"}]
    for t in [*TOWNSHIPS, "tj"]:
        tree.append({"code": t, "name": f"{t}镇", "level": "township", "parent": "county"})
        tree += [{"code": f"{t}-{n}", "name": f"{t}镇{n}村", "level": "village", "parent": t} for n in range(1, 7)]
    ok(stack.call("PUT", "/regions/county", {"regions": tree}, ORG))
    ok(
        stack.call(
            "POST",
            "/contests",
            {
                "contest_id": CONTEST,
                "name": "书记擂台比武",
                "tree_id": "county",
                "county_code": "county",
                "format": "knockout",
            },
            ORG,
        )
    )
    for order, (stage, name, advancement, groups) in enumerate(STAGES, start=1):
        ok(
            stack.call(
                "POST",
                f"/contests/{CONTEST}/stages",
                {
                    "stage_id": stage,
                    "name": name,
                    "order": order,
                    "panel_size": 5,
                    "criteria": CRITERIA,
                    "drop_rule": DROP,
                    "advancement": advancement,
                    "lot_seed": f"lot-{stage}-2021",
                    "groups": [{"group_id": g, "name": g, "townships": ts} for g, ts in groups],
                },
                ORG,
            )
        )
    for judge in JUDGES:
        ok(
            stack.call(
                "POST", f"/contests/{CONTEST}/judges", {"judge_id": judge, "name": judge, "township_code": "tj"}, ORG
            )
        )
    ok(
        stack.call(
            "POST",
            f"/contests/{CONTEST}/entries",
            {
                "entries": [
                    {
                        "entry_id": f"e-{t}-{n}",
                        "contestant_id": f"c-{t}-{n}",
                        "name": f"书记{t}{n}",
                        "village_code": f"{t}-{n}",
                        "title": "述职",
                    }
                    for t in TOWNSHIPS
                    for n in range(1, 7)
                ]
            },
            ORG,
        )
    )
    return CONTEST


def township(entry: str) -> str:
    return entry.split("-")[1]


@pytest.fixture(scope="module")
def moments() -> list[dict]:
    """The organiser's live preliminary board as it stood after each of its sessions locked
    (recorded by the run below, read back as of each moment by a later test)."""
    return []


def live_board_once_it_holds(stack, contest: str, stage: str, entries: int) -> dict:
    def holds():
        board = ok(stack.call("GET", f"/contests/{contest}/stages/{stage}/leaderboard", token=ORG))
        return board if len(board["standings"]) == entries else None

    return wait_until(holds, what=f"the live board of {stage} to hold {entries} entries")


def test_three_stages_advance_exactly_as_an_independent_computation_says(stack, contest, moments):
    published, twins = {}, []
    for stage, _, advancement, groups in STAGES:
        entrants = None
        if stage != "prelim":
            entrants = [
                e["entry_id"] for e in wait_for_stage_entries(stack, contest, stage, 9 if stage == "semi" else 5)
            ]
        sheet_maker, stage_twins = scores_for(stage, entrants)
        if stage == "semi":
            twins = stage_twins
        sheets, locks = {}, []
        for n, (group, _) in enumerate(groups):
            session_sheets, locked = run_session(stack, contest, f"{stage}-{n}", stage, group, JUDGES, sheet_maker)
            sheets |= session_sheets
            locks.append(locked)
            if stage == "prelim":
                board = live_board_once_it_holds(stack, contest, stage, 6 * (n + 1))
                moments.append({"board": board, "at": datetime.now(UTC).isoformat()})
        published[stage] = publish(stack, contest, stage, after=locks)
        group_of = {entry: (township(entry) if stage == "prelim" else "county") for entry, _ in sheets}
        expected = reference_standings(sheets, CRITERIA, DROP, group_of, advancement, f"lot-{stage}-2021")
        rows = published[stage]["standings"]
        assert [(r["entry_id"], Decimal(r["stage_score"]), r["advanced"]) for r in rows] == expected, stage
        assert published[stage]["log_positions"]["scoring"] > 0 and len(published[stage]["rule_sha256"]) == 64

    assert sum(r["advanced"] for r in published["prelim"]["standings"]) == 9
    semi = published["semi"]["standings"]
    pair = [r for r in semi if r["entry_id"] in twins]
    assert pair[0]["stage_score"] == pair[1]["stage_score"] and pair[1]["decided_by"] == "lot"
    assert [r["advanced"] for r in semi[:5]] == [True] * 5 and not any(r["advanced"] for r in semi[5:])
    assert [r["position"] for r in pair] == [5, 6]  # the tie sits exactly at the cut-off
    final = published["final"]["standings"]
    assert len(final) == 5 and published["final"]["next_stage_id"] is None
    assert {r["entry_id"] for r in final} == {r["entry_id"] for r in semi if r["advanced"]}


def test_the_public_sees_published_standings_and_organisers_see_them_live(stack, contest):
    public = eventually(stack, f"/contests/{contest}/stages/final/leaderboard")
    assert public["published"] and len(public["standings"]) == 5
    by_group = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/leaderboard?group=ta", token=SCREEN_TOKEN))
    assert {r["group_id"] for r in by_group["standings"]} == {"ta"} and len(by_group["standings"]) == 6
    by_criterion = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/leaderboard?criterion=work", token=ORG))
    means = [Decimal(r["criterion_mean"]) for r in by_criterion["standings"]]
    assert means == sorted(means, reverse=True)
    entry = by_group["standings"][0]["entry_id"]
    working = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/entries/{entry}/working"))
    assert len(working["sheets"]) == 5 and len(working["dropped_high"]) == len(working["dropped_low"]) == 1
    assert stack.call("POST", f"/contests/{contest}/stages/final/results", None, ORG)[0] == 409


def test_standings_as_of_each_recorded_moment_are_the_live_ones_byte_for_byte(stack, contest, moments):
    """By the scoring log position each live board reflected, and by the time it was read
    (the next session locked after it): over HTTP, and rebuilt from the logs by
    `leitai replay ranking --as-of`."""
    assert len(moments) == 3 and len({m["board"]["reflects"]["position"] for m in moments}) == 3
    path = f"/contests/{contest}/stages/prelim/leaderboard"
    for moment in moments:
        live = json.dumps(moment["board"]["standings"], ensure_ascii=False)
        position = moment["board"]["reflects"]["position"]
        by_position = ok(stack.call("GET", f"{path}?as_of={position}", token=ORG))
        assert json.dumps(by_position["standings"], ensure_ascii=False) == live
        assert by_position["as_of"] == {"requested": str(position), "position": position}
        by_time = ok(stack.call("GET", f"{path}?as_of={urllib.parse.quote(moment['at'])}", token=SCREEN_TOKEN))
        assert json.dumps(by_time["standings"], ensure_ascii=False) == live
        assert by_time["as_of"]["position"] == position
    rebuilt = subprocess.run(
        [
            str(BIN / "leitai"),
            "--config",
            str(stack.config_path("ranking")),
            "replay",
            "ranking",
            "--as-of",
            str(moments[1]["board"]["reflects"]["position"]),
            "--stage",
            f"{contest}/prelim",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["standings"] == moments[1]["board"]["standings"]
    assert stack.call("GET", f"{path}?as_of=1", token=None)[0] == 403  # the public sees published results only
    code, body = stack.call("GET", f"{path}?as_of=yesterday", token=ORG)
    assert code == 400 and "as_of" in json.dumps(body)


# -- audits: checkpoints, proofs, certificates, bundles, the monitor -----------------------------
def leitai(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "leitai"), "--config", str(stack.config_path("ranking")), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_log_serves_signed_checkpoints_each_consistent_with_the_one_before(stack, contest):
    verifier = stack.signer.verifier
    for log in ("registration", "scoring", "ranking"):
        chain = eventually(stack, f"/logs/{log}/checkpoints?limit=1000")["checkpoints"]
        assert chain, log
        for before, after in zip(chain, chain[1:], strict=False):
            assert after["consistency"]["from"] == before["size"]
            assert verify_consistency(
                before["size"],
                after["size"],
                bytes.fromhex(before["root"]),
                bytes.fromhex(after["root"]),
                [bytes.fromhex(h) for h in after["consistency"]["proof"]],
            )
        for served in chain:
            signed = Checkpoint.parse(verifier.open(served["note"]))
            assert (signed.origin, signed.size, signed.root.hex()) == (
                f"leitai.test/{log}",
                served["size"],
                served["root"],
            )
        latest = ok(stack.call("GET", f"/logs/{log}/checkpoints/latest"))
        assert latest["size"] >= chain[-1]["size"]
        assert ok(stack.call("GET", f"/logs/{log}/checkpoints/{chain[0]['size']}")) == chain[0]
    assert stack.call("GET", "/logs/nowhere/checkpoints")[0] == 404
    assert stack.call("GET", "/logs/scoring/checkpoints/7x")[0] == 400
    assert stack.call("GET", "/logs/scoring/checkpoints/999999999")[0] == 404


def test_a_published_stage_has_a_certificate_and_a_bundle_the_independent_verifier_accepts(stack, contest, tmp_path):
    def complete():
        certificate = ok(stack.call("GET", f"/contests/{contest}/stages/semi/certificate"))
        return certificate if not certificate["pending"] else None

    certificate = wait_until(complete, what="the semifinal's certificate to cite signed checkpoints")
    results = ok(stack.call("GET", f"/contests/{contest}/stages/semi/results"))
    assert results["certificate"]["standings_sha256"] == certificate["standings_sha256"] == results["standings_sha256"]
    assert set(certificate["checkpoints"]) == {"registration", "scoring", "ranking"}
    key = stack.signer.verifier.encoded()
    made = leitai(
        stack, "audit", "bundle", "semi", "--contest", contest, "-o", str(tmp_path / "semi.json"), "--verifier-key", key
    )
    assert made.returncode == 0, made.stderr
    checked = subprocess.run(
        [sys.executable, "tools/verify_bundle.py", str(tmp_path / "semi.json"), "--key", key],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0 and checked.stdout.startswith("verified"), checked.stdout + checked.stderr
    assert (
        leitai(stack, "audit", "bundle", "nope", "--contest", contest, "-o", str(tmp_path / "x.json")).returncode == 1
    )
    # the backfill after an upgrade: over publications already noted, it notes nothing twice
    noted = leitai(stack, "audit", "note-publications")
    assert noted.returncode == 0 and json.loads(noted.stdout)["publications"] >= 1, noted.stderr
    again = leitai(stack, "audit", "bundle", "semi", "--contest", contest, "-o", str(tmp_path / "again.json"))
    assert again.returncode == 0, again.stderr
    semi = json.loads((tmp_path / "again.json").read_text())
    notes = [e for e in semi["logs"]["registration"]["events"] if e["event"]["type"] == "StageResultsRecorded"]
    assert len({e["event"]["payload"]["publication_event_id"] for e in notes}) == len(notes)


def test_the_public_results_page_and_the_exports_carry_the_certificate(stack, contest):
    def complete():
        certificate = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/certificate"))
        return certificate if not certificate["pending"] else None

    certificate = wait_until(complete, what="the preliminary's certificate")
    with urllib.request.urlopen(f"{stack.base}/results/{contest}/prelim", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/html")
        page = response.read().decode("utf-8")
    assert certificate["fingerprint"] in page and "乡镇初赛 · 公布成绩" in page
    published = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/results"))["standings"]
    assert [page.index(r["name"]) for r in published] == sorted(page.index(r["name"]) for r in published)
    assert stack.call("GET", f"/results/{contest}/nowhere")[0] == 404

    def download(suffix: str) -> bytes:
        request = urllib.request.Request(
            f"{stack.base}/contests/{contest}/stages/prelim/{suffix}", headers={"Authorization": f"Bearer {ORG}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    rows = list(csv.reader(io.StringIO(download("results.csv").decode("utf-8-sig"))))
    assert rows[len(published) + 1] == [] and ["成绩校验指纹", certificate["fingerprint"]] in rows
    book = openpyxl.load_workbook(io.BytesIO(download("results.xlsx")))
    kept = {row[0]: row[1:] for row in book["成绩证书"].iter_rows(values_only=True)}
    assert kept["成绩摘要(SHA-256)"][0] == certificate["standings_sha256"]
    assert kept["签名检查点(scoring)"][:2] == (
        certificate["checkpoints"]["scoring"]["size"],
        certificate["checkpoints"]["scoring"]["root"],
    )


def test_leitai_audit_proves_an_events_inclusion_and_two_checkpoints_consistency(stack, contest, store):
    chain = ok(stack.call("GET", "/logs/scoring/checkpoints?limit=1000"))["checkpoints"]
    event_id = str(store["scoring"]["commits"].find_one({"first_position": 1})["events"][0]["event_id"])
    included = leitai(stack, "audit", "prove-inclusion", event_id, "--log", "scoring")
    assert included.returncode == 0, included.stderr
    proof = json.loads(included.stdout)
    leaf = leaf_hash(canonical_json(dict(proof["event"], position=proof["position"])))
    assert verify_inclusion(
        leaf,
        proof["position"] - 1,
        proof["checkpoint"]["size"],
        [bytes.fromhex(h) for h in proof["proof"]],
        bytes.fromhex(proof["checkpoint"]["root"]),
    )
    old, new = chain[0], chain[-1]
    consistent = leitai(stack, "audit", "prove-consistency", str(old["size"]), str(new["size"]), "--log", "scoring")
    assert consistent.returncode == 0, consistent.stderr
    assert verify_consistency(
        old["size"],
        new["size"],
        bytes.fromhex(old["root"]),
        bytes.fromhex(new["root"]),
        [bytes.fromhex(h) for h in json.loads(consistent.stdout)["proof"]],
    )
    latest = json.loads(leitai(stack, "audit", "checkpoint", "--log", "scoring").stdout)
    assert latest["size"] >= new["size"]
    missing = leitai(stack, "audit", "prove-inclusion", "f" * 32, "--log", "scoring")
    assert missing.returncode == 1 and "no sequenced event" in missing.stderr and "Traceback" not in missing.stderr


def test_the_monitor_keeps_the_last_checkpoint_and_refuses_a_rewritten_log(stack, contest, tmp_path):
    state = tmp_path / "monitor.json"
    watch = ("audit", "monitor", "--url", stack.base, "--key", stack.signer.verifier.encoded(), "--state", str(state))
    first = leitai(stack, *watch)
    assert first.returncode == 0, first.stdout + first.stderr
    kept = json.loads(state.read_text())
    assert set(kept) == {"registration", "scoring", "ranking"}
    again = leitai(stack, *watch)
    assert again.returncode == 0 and json.loads(state.read_text())["scoring"]["size"] >= kept["scoring"]["size"]
    # what the monitor saw before differs from what the log now serves: as after a rewrite
    earlier = ok(stack.call("GET", "/logs/scoring/checkpoints?limit=1"))["checkpoints"][0]
    forged_root = hashlib.sha256(b"another history").digest()
    kept["scoring"] = {
        "origin": "leitai.test/scoring",
        "size": earlier["size"],
        "root": forged_root.hex(),
        "note": stack.signer.sign(Checkpoint("leitai.test/scoring", earlier["size"], forged_root).body()),
    }
    state.write_text(json.dumps(kept))
    refused = leitai(stack, *watch)
    assert refused.returncode == 1 and "scoring: REFUSED" in refused.stdout and "rewritten" in refused.stdout
    assert json.loads(state.read_text())["scoring"]["root"] == forged_root.hex()  # the last good one stays


def test_the_nightly_audit_keeps_checkpoints_and_fails_on_a_log_that_no_longer_serves_the_one_kept(
    stack, contest, tmp_path
):
    kept = tmp_path / "kept.json"
    nightly = leitai(stack, "audit", "--keep-checkpoints", str(kept))
    assert nightly.returncode == 0, nightly.stdout + nightly.stderr
    report = json.loads(nightly.stdout)
    assert report["ok"] and all(store["signatures_checked"] for store in report["stores"].values())
    assert set(report["checkpoints"]["kept"]) == {"registration", "scoring", "ranking"}
    state = json.loads(kept.read_text())
    forged_root = hashlib.sha256(b"what the log said before").digest()
    state["ranking"] = dict(
        state["ranking"],
        root=forged_root.hex(),
        note=stack.signer.sign(Checkpoint("leitai.test/ranking", state["ranking"]["size"], forged_root).body()),
    )
    kept.write_text(json.dumps(state))
    failed = leitai(stack, "audit", "--keep-checkpoints", str(kept))
    report = json.loads(failed.stdout)
    assert failed.returncode == 1 and not report["ok"] and "ranking: checkpoint" in report["checkpoints"]["problems"][0]
    kept.write_text("not json")
    unreadable = leitai(stack, "audit", "--keep-checkpoints", str(kept))
    assert unreadable.returncode != 0 and "not a checkpoint monitor's state" in unreadable.stderr
    assert "Traceback" not in unreadable.stderr


def test_the_judges_calibration_agrees_with_an_independent_computation_from_the_sheets(stack, contest):
    calibration = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/calibration", token=ORG))
    assert calibration["published"] and calibration["rounding"] == "ROUND_HALF_UP"
    deviations = {judge: [] for judge in JUDGES}
    drops = {judge: [0, 0] for judge in JUDGES}
    for entry in ok(stack.call("GET", f"/contests/{contest}/stages/prelim/leaderboard", token=ORG))["standings"]:
        working = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/entries/{entry['entry_id']}/working"))
        totals = sorted(Decimal(s["total"]) for s in working["sheets"])
        middle = totals[len(totals) // 2]  # five judges: the median is the middle total
        for sheet in working["sheets"]:
            deviations[sheet["judge_id"]].append(Decimal(sheet["total"]) - middle)
        for judge in working["dropped_high"]:
            drops[judge][0] += 1
        for judge in working["dropped_low"]:
            drops[judge][1] += 1
    rows = {row["judge_id"]: row for row in calibration["judges"]}
    assert set(rows) == set(JUDGES)
    for judge, mine in deviations.items():
        mean = sum(mine) / len(mine)
        assert rows[judge]["sheets"] == len(mine) == 18 and Decimal(rows[judge]["deviation_sum"]) == sum(mine)
        assert Decimal(rows[judge]["severity"]) == mean.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        spread = (sum((d - mean) ** 2 for d in mine) / len(mine)).sqrt()
        assert abs(Decimal(rows[judge]["spread"]) - spread) <= Decimal("0.0001")
        assert [rows[judge]["dropped_high"], rows[judge]["dropped_low"]] == drops[judge]
        assert -1 <= Decimal(rows[judge]["agreement"]) <= 1 and rows[judge]["flags"] == 0
    assert [s["session_id"] for s in calibration["sessions"]] == ["prelim-0", "prelim-1", "prelim-2"]
    for session in calibration["sessions"]:
        assert (
            session["panel_size"] == 5 and session["complete_entries"] == 6 and 0 <= Decimal(session["kendalls_w"]) <= 1
        )
    assert stack.call("GET", f"/contests/{contest}/stages/prelim/calibration", token=judge_token("J1"))[0] == 403
    request = urllib.request.Request(
        f"{stack.base}/contests/{contest}/stages/prelim/results.csv?kind=calibration",
        headers={"Authorization": f"Bearer {ORG}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        table = list(csv.reader(io.StringIO(response.read().decode("utf-8-sig"))))
    assert table[0][:3] == ["场次", "评委", "评分表数"] and len(table) == 1 + 5 + 3 * 5


def test_an_appeal_is_filed_decided_once_by_the_inspector_and_the_contestant_told_of_each(stack, contest):
    row = ok(stack.call("GET", f"/contests/{contest}/stages/semi/results"))["standings"][5]
    path = f"/contests/{contest}/stages/semi/appeals"
    appeal = {"appeal_id": "appeal-semi-1", "entry_id": row["entry_id"], "reason": "第三位评委的分数录入有误"}
    filed = ok(stack.call("POST", path, appeal, ORG), (201,))
    assert (filed["status"], filed["contestant_id"], filed["filed_by"]) == ("filed", row["contestant_id"], "org1")
    assert ok(stack.call("POST", path, appeal, ORG), (201,)) == filed  # filed again: the same record, nothing new
    assert stack.call("POST", path, dict(appeal, reason="另一理由"), ORG)[0] == 409
    assert stack.call("POST", path, dict(appeal, appeal_id="appeal-x", entry_id="nobody"), ORG)[0] == 404
    assert stack.call("POST", path, {"entry_id": row["entry_id"]}, ORG)[0] == 400  # no reason
    assert stack.call("POST", path, appeal, judge_token("J1"))[0] == 403
    assert stack.call("POST", path, appeal, SUPERVISOR_TOKEN)[0] == 403  # inspectors decide; organisers file
    decision = {"decision": "dismissed", "reason": "经复核，录入无误"}
    decided = ok(stack.call("POST", f"{path}/appeal-semi-1/decision", decision, SUPERVISOR_TOKEN))
    assert (decided["decision"], decided["decided_by"]) == ("dismissed", "inspector1")
    assert ok(stack.call("POST", f"{path}/appeal-semi-1/decision", decision, ORG)) == decided
    assert stack.call("POST", f"{path}/appeal-semi-1/decision", dict(decision, decision="upheld"), ORG)[0] == 409
    assert stack.call("POST", f"{path}/nope/decision", decision, ORG)[0] == 404
    assert [a["status"] for a in ok(stack.call("GET", path, token=SUPERVISOR_TOKEN))["appeals"]] == ["decided"]

    def told(kind: str):  # these entrants gave no e-mail or phone: the in-app inbox is their channel
        found = ok(stack.call("GET", f"/contests/{contest}/deliveries?kind={kind}", token=ORG))["deliveries"]
        return found if any(d["channel"] == "inbox" and d["status"] == "sent" for d in found) else None

    recipient = f"contestant-{row['contestant_id']}"
    for kind in ("appeal_received", "appeal_decided"):
        deliveries = wait_until(lambda kind=kind: told(kind), what=f"the {kind} notice")
        assert {d["recipient_id"] for d in deliveries} == {recipient}
        assert len(deliveries) == len({d["channel"] for d in deliveries})  # once a channel
    inbox = ok(stack.call("GET", f"/contests/{contest}/recipients/{recipient}/inbox", token=ORG))
    bodies = [m["body"] for m in inbox["messages"] if m["kind"] in ("appeal_received", "appeal_decided")]
    assert len(bodies) == 2 and any("申诉不成立，维持原成绩。经复核，录入无误" in b for b in bodies)


def test_a_correction_of_a_published_stage_takes_two_people_over_http(stack, contest, tmp_path):
    status = ok(stack.call("GET", "/sessions/final-0/scoring", token=ORG))
    entry = status["entries"][0]
    working = ok(stack.call("GET", f"/contests/{contest}/stages/final/entries/{entry['entry_id']}/working"))
    counted = sorted(
        {s["judge_id"] for s in working["sheets"]} - set(working["dropped_high"]) - set(working["dropped_low"]) - {"J3"}
    )  # J3's sheet is the one refused below
    judge = counted[0]
    sheet = next(s for s in entry["sheets"] if s["judge_id"] == judge)
    # a counted sheet changed: the entry's score changes, so the republication has something to say
    scores = {k: str(Decimal(v) - 1 if Decimal(v) >= 1 else Decimal(v) + 1) for k, v in sheet["scores"].items()}
    proposal = {
        "correction_id": "correction-final-1",
        "kind": "change_score",
        "entry_id": entry["entry_id"],
        "judge_id": judge,
        "scores": scores,
        "reason": "复核发现录入错误",
    }

    def propose():  # scoring learns of the publication by its event: until then, 422 "not published"
        code, body = stack.call("POST", "/sessions/final-0/corrections", proposal, ORG)
        assert code in (201, 422), body
        return body if code == 201 else None

    proposed = wait_until(propose, what="scoring to know the final is published")
    assert proposed["status"] == "proposed" and proposed["cites"]
    # one open correction of a sheet at a time
    assert stack.call("POST", "/sessions/final-0/corrections", dict(proposal, correction_id="other"), ORG)[0] == 409
    over = dict(proposal, correction_id="correction-final-2", judge_id="J3", scores={"party": "99", "work": "1"})
    assert stack.call("POST", "/sessions/final-0/corrections", over, ORG)[0] == 400
    assert stack.call("POST", "/sessions/final-0/corrections", dict(proposal, scores={"party": "1"}), ORG)[0] == 409
    decision = "/sessions/final-0/corrections/correction-final-1/decision"
    assert stack.call("POST", decision, {"action": "approve"}, ORG)[0] == 403  # the proposer
    assert stack.call("POST", decision, {"action": "reject"}, SUPERVISOR_TOKEN)[0] == 400  # no reason
    assert stack.call("POST", decision, {"action": "approve"}, judge_token("J1"))[0] == 403
    approved = ok(stack.call("POST", decision, {"action": "approve"}, SUPERVISOR_TOKEN))
    assert (approved["status"], approved["decided_by"]) == ("approved", "inspector1")
    corrected = next(
        s
        for e in ok(stack.call("GET", "/sessions/final-0/scoring", token=ORG))["entries"]
        if e["entry_id"] == entry["entry_id"]
        for s in e["sheets"]
        if s["judge_id"] == judge
    )
    assert corrected["scores"] == scores and corrected["revision"] == sheet["revision"] + 1
    listed = ok(stack.call("GET", "/sessions/final-0/corrections", token=SUPERVISOR_TOKEN))["corrections"]
    assert [c["status"] for c in listed] == ["approved"]

    # the final is published again, as version 2, with what changed; version 1 stays readable
    def republished():
        results = ok(stack.call("GET", f"/contests/{contest}/stages/final/results"))
        return results if results["version"] == 2 else None

    second = wait_until(republished, what="the final to be published again")
    first = ok(stack.call("GET", f"/contests/{contest}/stages/final/results?version=1"))
    assert first["version"] == 1 and second["replaces_sha256"] == first["standings_sha256"]
    assert second["correction_id"] == "correction-final-1" and entry["entry_id"] in {
        d["entry_id"] for d in second["diff"]
    }
    changed = next(d for d in second["diff"] if d["entry_id"] == entry["entry_id"])
    was = next(r for r in first["standings"] if r["entry_id"] == entry["entry_id"])
    assert changed["before"]["stage_score"] == was["stage_score"] != changed["after"]["stage_score"]

    def certified():
        certificate = ok(stack.call("GET", f"/contests/{contest}/stages/final/certificate"))
        return certificate if not certificate["pending"] else None

    certificate = wait_until(certified, what="the second version's certificate")
    assert certificate["replaces"]["standings_sha256"] == first["standings_sha256"]
    assert certificate["standings_sha256"] == second["standings_sha256"]
    # an auditor's bundle of each version verifies: version 2 with the correction applied
    key = stack.signer.verifier.encoded()
    for version, published in ((None, second), ("1", first)):
        path = tmp_path / f"final-{version or 'latest'}.json"
        made = leitai(
            stack,
            "audit",
            "bundle",
            "final",
            "--contest",
            contest,
            "-o",
            str(path),
            "--verifier-key",
            key,
            *(("--version", version) if version else ()),
        )
        assert made.returncode == 0, made.stderr
        checked = subprocess.run(
            [sys.executable, "tools/verify_bundle.py", str(path), "--key", key],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert checked.returncode == 0 and published["standings_sha256"] in checked.stdout, checked.stdout
    assert (
        leitai(
            stack,
            "audit",
            "bundle",
            "final",
            "--contest",
            contest,
            "-o",
            str(tmp_path / "x.json"),
            "--verifier-key",
            key,
            "--version",
            "3",
        ).returncode
        == 1
    )

    # told: the contestants whose result changed and the judge whose sheet was corrected; nobody else
    def told():
        found = [
            d
            for kind in ("result_corrected", "sheet_corrected")
            for d in ok(stack.call("GET", f"/contests/{contest}/deliveries?kind={kind}", token=ORG))["deliveries"]
            if d["channel"] == "inbox"
        ]
        return found if len(found) == len(second["diff"]) + 1 else None

    recipients = {d["recipient_id"] for d in wait_until(told, what="the correction notices")}
    assert recipients == {f"contestant-{d['contestant_id']}" for d in second["diff"]} | {f"judge-{judge}"}


def test_a_correction_that_changes_who_advances_after_the_next_stage_started_waits_for_the_organiser(stack, contest):
    """Lowering one counted sheet of the semifinal twin the lot put 5th puts the other twin in
    its place; the final has been run, so nothing moves until an organiser decides."""
    first = ok(stack.call("GET", f"/contests/{contest}/stages/semi/results"))
    fifth, sixth = (next(r for r in first["standings"] if r["position"] == p) for p in (5, 6))
    assert fifth["advanced"] and not sixth["advanced"] and fifth["stage_score"] == sixth["stage_score"]
    working = ok(stack.call("GET", f"/contests/{contest}/stages/semi/entries/{fifth['entry_id']}/working"))
    judge = sorted(
        {s["judge_id"] for s in working["sheets"]} - set(working["dropped_high"]) - set(working["dropped_low"])
    )[0]
    sheet = next(s for s in working["sheets"] if s["judge_id"] == judge)
    session = working["session_id"]
    proposal = {
        "correction_id": "correction-semi-1",
        "kind": "change_score",
        "entry_id": fifth["entry_id"],
        "judge_id": judge,
        "scores": dict(sheet["scores"], work=str(Decimal(sheet["scores"]["work"]) - 3)),
        "reason": "复核发现录入错误",
    }
    ok(stack.call("POST", f"/sessions/{session}/corrections", proposal, ORG))
    ok(
        stack.call(
            "POST",
            f"/sessions/{session}/corrections/correction-semi-1/decision",
            {"action": "approve"},
            SUPERVISOR_TOKEN,
        )
    )

    def referred():
        changes = ok(stack.call("GET", f"/contests/{contest}", token=ORG))["advancement_changes"]
        return next((c for c in changes if c["change_id"] == "correction-semi-1"), None)

    change = wait_until(referred, what="registration to hear the semifinal was published again")
    assert change["status"] == "referred" and change["opened_sessions"]
    assert ([w["entry_id"] for w in change["gained"]], [w["entry_id"] for w in change["lost"]]) == (
        [sixth["entry_id"]],
        [fifth["entry_id"]],
    )
    stages = {e["entry_id"]: e["stage_id"] for e in ok(stack.call("GET", f"/contests/{contest}", token=ORG))["entries"]}
    assert (stages[fifth["entry_id"]], stages[sixth["entry_id"]]) == ("final", "semi")  # nothing moved

    def organiser_told():
        found = [
            d
            for d in ok(stack.call("GET", f"/contests/{contest}/deliveries?kind=advancement_referred", token=ORG))[
                "deliveries"
            ]
            if d["channel"] == "inbox"
        ]
        return found or None

    [notice] = wait_until(organiser_told, what="the organiser to be told")
    assert notice["recipient_id"] == "organiser" and notice["subject"] == "晋级变动待决定：县级复赛"

    decision = f"/contests/{contest}/advancement-changes/correction-semi-1/decision"
    keep = {"action": "keep", "reason": "决赛已举行，维持原晋级名单"}
    assert stack.call("POST", decision, keep, judge_token("J1"))[0] == 403
    assert stack.call("POST", decision, keep, SUPERVISOR_TOKEN)[0] == 403
    code, body = stack.call("POST", decision, {"action": "swap", "reason": ""}, ORG)
    assert code == 400 and set(body["error"]["fields"]) == {"action", "reason"}
    assert stack.call("POST", f"/contests/{contest}/advancement-changes/nope/decision", keep, ORG)[0] == 404
    code, body = stack.call("POST", decision, {"action": "follow", "reason": "按更正"}, ORG)
    assert code == 422 and "of the group is open already" in body["error"]["message_id"]  # the final is under way
    decided = ok(stack.call("POST", decision, keep, ORG))
    assert (decided["action"], decided["decided_by"]) == ("keep", "org1")
    assert ok(stack.call("POST", decision, keep, ORG)) == decided
    assert stack.call("POST", decision, {"action": "admit", "reason": "改判"}, ORG)[0] == 409

    def contestants_told():
        found = [
            d
            for d in ok(stack.call("GET", f"/contests/{contest}/deliveries?kind=advancement_decided", token=ORG))[
                "deliveries"
            ]
            if d["channel"] == "inbox"
        ]
        return found if len(found) == 2 else None

    told = {d["recipient_id"] for d in wait_until(contestants_told, what="the two contestants to be told")}
    assert told == {f"contestant-{fifth['contestant_id']}", f"contestant-{sixth['contestant_id']}"}


def replay(stack):
    return subprocess.run(
        [str(BIN / "leitai"), "--config", str(stack.config_path("ranking")), "replay", "ranking", "--verify"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def audit(stack) -> tuple[int, dict]:
    run = subprocess.run(
        [str(BIN / "leitai"), "--config", str(stack.config_path("ranking")), "audit"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return run.returncode, json.loads(run.stdout)


def test_replay_rebuilds_the_read_model_identically_and_names_a_corrupted_document(stack, contest, store):
    # the live read model converges once the last events are consumed: wait for that, not for a time
    runs = []

    def identical():
        runs.append(replay(stack))
        return runs[-1].returncode == 0

    try:
        wait_until(identical, timeout=60, what="the live read model to equal the rebuilt one")
    except TimeoutError:
        raise AssertionError(runs[-1].stdout[-3000:] + runs[-1].stderr[-2000:]) from None
    assert runs[-1].stdout.strip().endswith("identical")
    code, report = audit(stack)
    assert code == 0 and report["ok"] and set(report["stores"]) == {"registration", "scoring", "ranking"}
    assert all(store_report["ok"] for store_report in report["stores"].values()), report
    assert report["stores"]["registration"]["checked_commits"] > 0, report
    target = store["ranking"].results.find_one({"stage_id": "semi"})
    store["ranking"].results.update_one({"_id": target["_id"]}, {"$set": {"stage_score": "99.99"}})
    run = replay(stack)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f'results/{target["_id"]}: stage_score: live "99.99" != rebuilt "{target["stage_score"]}"' in run.stdout
    code, report = audit(stack)  # the nightly audit fails loudly on the same difference
    assert code == 1 and not report["ok"] and report["replay"]["differences"] == 1
    assert all(store_report["ok"] for store_report in report["stores"].values())


def test_shuffled_and_duplicated_delivery_gives_the_leaderboard_of_in_order_delivery(
    stack, contest, store, tmp_path, mongo_url
):
    client = pymongo.MongoClient(mongo_url, tz_aware=True)
    vhost = Vhost().create()
    shuffled_db, in_order_db = client[f"{stack.prefix}_shuffled"], client[f"{stack.prefix}_in_order"]
    config = tmp_path / "ranking-shuffled.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "AMQP_URI": vhost.uri,
                "MONGO_URL": mongo_url,
                "MONGO_DATABASE": shuffled_db.name,
                "LEITAI_ENVIRONMENT": "test",
            }
        )
    )
    ranking = ChildProcess(
        [str(BIN / "nameko"), "run", "--config", str(config), "services.ranking.service:RankingService"],
        name="ranking-shuffled",
    ).start()
    try:
        events = [
            (source, event)
            for source, types in PROJECTION.sources.items()
            for batch in EventStore(MongoCommitLog(store[source]), REGISTRY).read_all()
            for event in batch
            if event.type in types
        ]
        rng = random.Random(4)
        deliveries = events + rng.sample(events, len(events) // 4)  # a quarter of them twice
        rng.shuffle(deliveries)
        wait_until(
            lambda: queue_state(vhost.uri, "evt-scoring-EntryScored--ranking.on_entry_scored")[1],
            what="the shuffled ranking to consume",
        )
        with (
            Connection(vhost.uri, transport_options={"confirm_publish": True}) as connection,
            connection.Producer() as producer,
        ):
            for source, event in deliveries:
                producer.publish(
                    json.dumps(event.to_wire(REGISTRY)),
                    exchange=event_exchange(source),
                    routing_key=event.type,
                    content_type="application/json",
                    declare=[],
                    delivery_mode=2,
                )
        rebuild(PROJECTION, store, in_order_db, REGISTRY)
        wait_until(
            lambda: not diff(in_order_db, shuffled_db, PROJECTION.collections),
            timeout=120,
            what="the shuffled delivery to converge",
        )
        for stage in ("prelim", "semi", "final"):
            tables = [
                board.table(ReadModel(db), board.stage_doc(ReadModel(db), contest, stage))
                for db in (in_order_db, shuffled_db)
            ]
            assert tables[0] == tables[1] and len(tables[0]) >= 5
    finally:
        ranking.stop()
        vhost.delete()
        client.drop_database(shuffled_db.name)
        client.drop_database(in_order_db.name)
        client.close()


def test_exports_open_in_excel_and_agree_with_the_leaderboard(stack, contest):
    board_rows = ok(stack.call("GET", f"/contests/{contest}/stages/prelim/leaderboard", token=ORG))["standings"]
    request = urllib.request.Request(
        f"{stack.base}/contests/{contest}/stages/prelim/results.xlsx", headers={"Authorization": f"Bearer {ORG}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
        book = openpyxl.load_workbook(io.BytesIO(response.read()))
    results = list(book["成绩"].iter_rows(values_only=True))
    assert results[0][:8] == ("名次", "组内名次", "排序", "选手编号", "姓名", "乡镇", "分组", "最后得分")
    assert [(row[3], Decimal(str(row[7]))) for row in results[1:]] == [
        (r["entry_id"], Decimal(r["stage_score"])) for r in board_rows
    ]
    sheets = list(book["评分表"].iter_rows(values_only=True))
    assert len(sheets) == 1 + 18 * 5 and sheets[0][0] == "场次"
    judges = list(book["评委校准"].iter_rows(values_only=True))
    assert judges[0][:2] == ("场次", "评委") and [row[1] for row in judges[1:6]] == JUDGES

    request = urllib.request.Request(
        f"{stack.base}/contests/{contest}/stages/prelim/results.csv?kind=sheets",
        headers={"Authorization": f"Bearer {ORG}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["场次", "选手编号", "姓名", "评委"] and len(rows) == 1 + 18 * 5

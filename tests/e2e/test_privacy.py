"""Issue 31 acceptance, over HTTP against the services as processes: a contest registered with
everyone's e-mail and phone publishes a result whose audit bundle, exports and public answers
hold nothing shaped like a phone number or an e-mail address; a person's erasure leaves
`leitai verify`, `leitai replay ranking --verify` and a bundle made afterwards verifying, their
name on the results as published, and notify unable to reach them and saying why."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import urllib.request

import openpyxl
import pytest

from testkit.servers import wait_until
from testkit.stack import ok
from tests.e2e.contest_flow import ORG, publish, run_session
from tests.support.contact_scan import contact_shaped
from tests.support.pipeline import BIN

pytestmark = pytest.mark.integration
CONTEST, OFFICE = "county-2021", "county"
JUDGES = ["J1", "J2", "J3"]
CRITERIA = [{"criterion_id": "work", "name": "讲工作", "max": "100", "weight": "1", "step": "0.5"}]
ENTRIES = [f"ta-{n}" for n in range(1, 5)]
ERASED = "contestant-c-ta-1"


def contact(n: int, who: str) -> dict:
    return {"email": f"{who}{n}@example.cn", "phone": f"1390391{n:04d}"}


@pytest.fixture(scope="module")
def published(stack):
    tree = [
        {"code": OFFICE, "name": "示范县", "level": "county"},
        {"code": "ta", "name": "甲镇", "level": "township", "parent": OFFICE},
    ]
    tree += [{"code": e, "name": f"甲镇{e}村", "level": "village", "parent": "ta"} for e in ENTRIES]
    ok(stack.call("PUT", "/regions/county", {"regions": tree}, ORG))
    office = {"name": "示范县委组织部", "email": "zzb@example.gov.cn", "phone": "0391-8181234"}
    contest = {"contest_id": CONTEST, "name": "书记擂台比武", "tree_id": "county", "county_code": OFFICE}
    ok(stack.call("POST", "/contests", dict(contest, format="knockout", organiser=office), ORG))
    stage = {
        "stage_id": "prelim",
        "name": "乡镇初赛",
        "order": 1,
        "panel_size": 3,
        "criteria": CRITERIA,
        "drop_rule": [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}],
        "advancement": {"per_group": 2},
        "groups": [{"group_id": "ta", "name": "甲镇", "townships": ["ta"]}],
    }
    ok(stack.call("POST", f"/contests/{CONTEST}/stages", stage, ORG))
    for n, judge in enumerate(JUDGES, start=1):
        ok(
            stack.call(
                "POST",
                f"/contests/{CONTEST}/judges",
                {"judge_id": judge, "name": f"评委{n}", **contact(n, "judge")},
                ORG,
            )
        )
    entries = [
        {
            "entry_id": f"e-{e}",
            "contestant_id": f"c-{e}",
            "name": f"书记{e}",
            "village_code": e,
            "title": "述职",
            **contact(n, "village"),
        }
        for n, e in enumerate(ENTRIES, start=1)
    ]
    ok(stack.call("POST", f"/contests/{CONTEST}/entries", {"entries": entries}, ORG))
    _, locked = run_session(
        stack,
        CONTEST,
        "prelim-ta",
        "prelim",
        "ta",
        JUDGES,
        lambda entry, judge: {"work": str(60 + len(entry) + JUDGES.index(judge))},
    )
    return publish(stack, CONTEST, "prelim", after=[locked])


def leitai(stack, service: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "leitai"), "--config", str(stack.config_path(service)), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def bundle_of(stack, tmp_path, name: str) -> dict:
    """The stage's audit bundle, made now, once every log it rests on has a signed checkpoint;
    checked by the auditor's verifier with the organiser's key."""

    def complete():  # the publication reaches the read model by its event: not found until then
        code, certificate = stack.call("GET", f"/contests/{CONTEST}/stages/prelim/certificate")
        assert code in (200, 404), certificate
        return certificate if code == 200 and not certificate["pending"] else None

    wait_until(complete, what="the preliminary's certificate to cite signed checkpoints")
    key = stack.signer.verifier.encoded()
    path = tmp_path / name
    made = leitai(
        stack, "ranking", "audit", "bundle", "prelim", "--contest", CONTEST, "-o", str(path), "--verifier-key", key
    )
    assert made.returncode == 0, made.stderr
    checked = subprocess.run(
        [sys.executable, "tools/verify_bundle.py", str(path), "--key", key], capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0 and checked.stdout.startswith("verified"), checked.stdout + checked.stderr
    return json.loads(path.read_text(encoding="utf-8"))


def public_answers(stack) -> dict[str, str]:
    """What every GET route of the OpenAPI document answers anyone without a token, for this
    contest and stage (a refusal is an answer too)."""
    document = ok(stack.call("GET", "/openapi.json"))
    values = {
        "contest_id": CONTEST,
        "stage_id": "prelim",
        "log": "registration",
        "session_id": "prelim-ta",
        "size": "1",
    }
    answers = {}
    for path, operations in document["paths"].items():
        names = re.findall(r"\{(\w+)\}", path)
        if "get" not in operations or set(names) - set(values):
            continue
        filled = re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path)
        code, body = stack.call("GET", filled)
        answers[filled] = f"{code} {body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)}"
    return answers


def test_no_bundle_export_or_public_answer_holds_contact_data(stack, published, tmp_path):
    assert contact_shaped(json.dumps(bundle_of(stack, tmp_path, "prelim.json"), ensure_ascii=False)) == []
    answers = public_answers(stack)
    assert any(path.endswith("/results") and "书记ta-1" in answer for path, answer in answers.items())
    assert {path: contact_shaped(answer) for path, answer in answers.items() if contact_shaped(answer)} == {}
    code, text = stack.call("GET", f"/contests/{CONTEST}/stages/prelim/results.csv", token=ORG)
    assert code == 200 and "书记ta-1" in text and contact_shaped(text) == []
    xlsx = f"{stack.base}/contests/{CONTEST}/stages/prelim/results.xlsx"
    with urllib.request.urlopen(urllib.request.Request(xlsx, headers={"Authorization": f"Bearer {ORG}"})) as answer:
        book = openpyxl.load_workbook(io.BytesIO(answer.read()))
    cells = [str(c) for sheet in book for row in sheet.iter_rows(values_only=True) for c in row]
    assert "书记ta-1" in cells and contact_shaped("\n".join(cells)) == []
    # the organisers, and they alone, still reach everyone: the vault answers them
    judges = ok(stack.call("GET", f"/contests/{CONTEST}", token=ORG))["judges"]
    assert [j["email"] for j in judges] == [contact(n, "judge")["email"] for n in (1, 2, 3)]


def test_an_erasure_leaves_every_audit_valid_the_name_published_and_notify_saying_why(stack, published, tmp_path):
    deliveries = f"/contests/{CONTEST}/deliveries?recipient={ERASED}"

    def told():  # the suite's stack has no mail server listening: tried, and tried again
        found = [d for d in ok(stack.call("GET", deliveries, token=ORG))["deliveries"] if d["channel"] == "email"]
        return found if found and all(d["attempts"] for d in found) else None

    assert {d["address"] for d in wait_until(told, what="the contestant's e-mail to be tried")} == {
        "village1@example.cn"
    }

    erase = [
        "privacy",
        "erase",
        ERASED,
        "--contest",
        CONTEST,
        "--office",
        OFFICE,
        "--reason",
        "本人申请删除",
        "--by",
        "org1",
    ]
    done = leitai(stack, "registration", *erase)
    assert done.returncode == 0 and "erased the contact data" in done.stdout, done.stderr

    def forgotten():
        found = [d for d in ok(stack.call("GET", deliveries, token=ORG))["deliveries"] if d["channel"] != "inbox"]
        return found if all(d["address"] == "" and d["status"] == "undeliverable" for d in found) else None

    for delivery in wait_until(forgotten, what="notify to make the erased person's deliveries undeliverable"):
        assert delivery["last_error"].startswith("contact data erased on request or by retention")
    again = leitai(stack, "registration", *erase)
    assert again.returncode == 0 and "was erased already" in again.stdout

    for service in ("registration", "scoring", "ranking"):
        checked = leitai(stack, service, "verify")
        assert checked.returncode == 0, checked.stdout + checked.stderr
    replayed = leitai(stack, "ranking", "replay", "ranking", "--verify")
    assert replayed.returncode == 0 and replayed.stdout.strip().endswith("identical"), replayed.stdout + replayed.stderr
    after = bundle_of(stack, tmp_path, "after.json")
    assert "书记ta-1" in json.dumps(after, ensure_ascii=False) and contact_shaped(json.dumps(after)) == []
    results = ok(stack.call("GET", f"/contests/{CONTEST}/stages/prelim/results"))
    assert "书记ta-1" in [r["name"] for r in results["standings"]]
    view = ok(stack.call("GET", f"/contests/{CONTEST}", token=ORG))
    [entry] = [e for e in view["entries"] if e["contestant_id"] == "c-ta-1"]
    assert (entry["email"], entry["phone"]) == ("", "")

    export = ["privacy", "export", ERASED, "--contest", CONTEST, "--office", OFFICE]
    exported = leitai(stack, "registration", *export, "--notify-database", stack.database("notify"))
    held = json.loads(exported.stdout)
    assert held["contact"] == {"name": "书记ta-1"} and held["erased"]["by"] == "org1"
    assert {n["kind"] for n in held["notices"]} >= {"registration_confirmed", "stage_result"}
    assert contact_shaped(exported.stdout) == []  # what they were told, never again where

    again = [d for d in ok(stack.call("GET", deliveries, token=ORG))["deliveries"] if d["channel"] == "sms"][0]
    code, _ = stack.call("POST", f"/contests/{CONTEST}/deliveries/{again['_id']}/retry", {}, ORG)
    assert code == 409  # an undeliverable delivery is no failed one: nothing goes to them again

"""Issue 5 acceptance: every participant told what happened, exactly once, over real channels:
a real SMTP server process (aiosmtpd) and a local HTTP receiver for the SMS gateway."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from composition.sinks import SmsGateway
from testkit.boai import CONTEST, PANELS, set_up, submit_all
from testkit.servers import wait_until
from testkit.smtp_sink import SmtpSink
from testkit.stack import ORGANISER_TOKEN, Stack, eventually, judge_token, ok, running_stack
from tests.e2e.contest_flow import publish

pytestmark = pytest.mark.integration
ORG = ORGANISER_TOKEN
SMS_KEY = "sms-api-key-for-tests"
BAD = "c-qinghua-04"  # an address the SMTP server refuses
QUIET = "c-boshan-07"  # has switched SMS off


def phone(contestant_id: str) -> str:
    return "139" + str(int.from_bytes(contestant_id.encode()[-6:], "big") % 10**8).zfill(8)


def distinct_contacts(entries: list[dict]) -> None:
    for entry in entries:
        entry["phone"] = phone(entry["contestant_id"])
        entry["email"] = f"{entry['contestant_id']}@cun.example.cn"
        if entry["contestant_id"] == BAD:
            entry["email"] = f"{BAD}@invalid.example"


@pytest.fixture(scope="module")
def world(tmp_path_factory, mongo_url):
    folder = tmp_path_factory.mktemp("notify")
    sink, sms = SmtpSink(folder).start(), SmsGateway(SMS_KEY)
    settings = {
        "smtp": {"host": "127.0.0.1", "port": sink.port, "sender": "zzb@boai.example.cn"},
        "sms": {"url": sms.url, "api_key": SMS_KEY},
        "rates": {"email": 200, "sms": 200},
        "base_delay": 0.2,
        "max_attempts": 20,
        "lease_seconds": 2,
    }
    try:
        with running_stack(folder, mongo_url, [f"J{n}" for n in range(1, 11)], notify=settings) as stack:
            yield stack, sink, sms
    finally:
        sink.stop()
        sms.close()


def deliveries(stack: Stack, **query) -> list[dict]:
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return ok(stack.call("GET", f"/contests/{CONTEST}/deliveries?{suffix}", token=ORG))["deliveries"]


def test_results_reach_each_contestant_once_by_mail_and_sms_even_across_a_sigkill(world):
    stack, sink, sms = world
    orders = set_up(stack, adjust=distinct_contacts)
    ok(stack.call("PUT", f"/contests/{CONTEST}/recipients/contestant-{QUIET}/preferences", {"sms": False}, ORG))
    rng = random.Random(5)
    for session, judges in PANELS.items():
        submit_all(stack, session, orders[session]["order"], rng)
        ok(stack.call("POST", f"/sessions/{session}/lock", {}, judge_token(judges[0])))
    standings = {r["contestant_id"]: r for r in publish(stack, CONTEST, "prelim")["standings"]}
    assert len(standings) == 30

    # mid-batch: hold the SMTP server in the middle of one send, kill notify there, restart it
    wait_until(lambda: len(sink.mails("stage_result")) >= 5, what="the first result mails")
    sink.hold.touch()
    wait_until(lambda: sink.hold.with_suffix(".holding").exists(), what="a send to hang in the middle")
    notify = stack.child("notify")
    notify.kill()
    sink.hold.unlink()
    stack.restart("notify")

    good = [c for c in standings if c != BAD]
    wait_until(lambda: len(sink.mails("stage_result")) >= len(good), timeout=60, what="every result mail")
    wait_until(
        lambda: len([d for d in deliveries(stack, kind="stage_result", status="sent") if d["channel"] == "sms"]) == 29,
        timeout=60,
        what="every result SMS",
    )
    mails = sink.mails("stage_result")
    received = Counter(m["to"][0].split("@")[0] for m in mails)
    assert received == Counter(good)  # each exactly once; nobody missed
    for mail in mails:
        row = standings[mail["to"][0].split("@")[0]]
        assert f"最后得分为 {row['stage_score']} 分，排名第{row['rank']}名" in mail["body"]
    texts = [m for m in sms.messages() if "分，第" in m["text"]]  # the result's own short text
    by_phone = Counter(m["to"] for m in texts)
    assert by_phone == Counter(phone(c) for c in standings if c != QUIET)  # nobody twice; SMS off means none
    for message in texts:
        row = next(r for c, r in standings.items() if phone(c) == message["to"])
        assert f"得 {row['stage_score']} 分，第{row['rank']}名" in message["text"] and len(message["text"]) <= 70

    [refused] = [d for d in deliveries(stack, kind="stage_result", status="failed") if d["channel"] == "email"]
    assert refused["recipient_id"] == f"contestant-{BAD}" and "553" in refused["last_error"]
    again = ok(stack.call("POST", f"/contests/{CONTEST}/deliveries/{refused['_id']}/retry", None, ORG))
    assert again["status"] == "pending" and again["attempts"] == 0
    inbox = eventually(stack, f"/contests/{CONTEST}/recipients/contestant-{BAD}/inbox", ORG)
    assert any(m["kind"] == "stage_result" for m in inbox["messages"])


def test_notify_writes_with_a_key_answer_a_retry_as_the_first_time_and_refuse_the_key_for_another(world):
    stack, sink, _ = world
    [refused] = [
        d
        for d in deliveries(stack, kind="stage_result")
        if d["channel"] == "email" and d["recipient_id"] == f"contestant-{BAD}"
    ]
    wait_until(
        lambda: deliveries(stack, recipient=f"contestant-{BAD}", kind="stage_result", status="failed"),
        what="the address to be refused again",
    )
    path = f"/contests/{CONTEST}/deliveries/{refused['_id']}/retry"
    first = ok(stack.call("POST", path, None, ORG, headers={"Idempotency-Key": "retry-bad-once"}))
    assert first["status"] == "pending" and first["attempts"] == 0
    wait_until(
        lambda: deliveries(stack, recipient=f"contestant-{BAD}", kind="stage_result", status="failed"),
        what="the retried send to be refused once more",
    )
    # failed again by now, yet the same request answers as the first time and sends nothing more
    assert ok(stack.call("POST", path, None, ORG, headers={"Idempotency-Key": "retry-bad-once"})) == first
    [after] = deliveries(stack, recipient=f"contestant-{BAD}", kind="stage_result", status="failed")
    assert after["attempts"] == 1
    code, body = stack.call("POST", path, None, ORG)  # without a key it is a new request, decided anew
    assert code == 200 and body["attempts"] == 0

    prefs = f"/contests/{CONTEST}/recipients/contestant-{QUIET}/preferences"
    key = {"Idempotency-Key": "quiet-inbox-off"}
    answer = ok(stack.call("PUT", prefs, {"inbox": False}, ORG, headers=key))
    # the recipient's channels as they now stand: SMS was switched off before
    assert answer == {"recipient_id": f"contestant-{QUIET}", "email": True, "sms": False, "inbox": False}
    assert ok(stack.call("PUT", prefs, {"inbox": False}, ORG, headers=key)) == answer
    code, body = stack.call("PUT", prefs, {"inbox": True}, ORG, headers=key)
    assert code == 409 and "different request" in body["error"]["message_id"]
    code, body = stack.call("POST", path, None, ORG, headers=key)  # another route under the same key
    assert code == 409
    ok(stack.call("PUT", prefs, {"inbox": True}, ORG))  # as it was, for the tests after this one


def test_replaying_the_events_sends_nothing_twice(world):
    stack, sink, sms = world
    before = (len(sink.mails()), len(sms.messages()), len(deliveries(stack)))
    redelivered = stack.replay_to("notify")
    assert redelivered > 0
    wait_until(lambda: stack.queues_drained("notify"), what="notify to take every replayed event")
    assert (len(sink.mails()), len(sms.messages()), len(deliveries(stack))) == before


def test_mail_held_back_by_an_smtp_outage_arrives_once_it_is_back(world):
    stack, sink, _ = world
    sink.stop()
    newcomers = [
        {
            "entry_id": f"e-late-{n}",
            "contestant_id": f"c-late-{n}",
            "name": f"书记late{n}",
            "village_code": f"qinghua-v1{n}",
            "title": "补报名",
            "email": f"c-late-{n}@cun.example.cn",
        }
        for n in range(1, 4)
    ]
    ok(stack.call("POST", f"/contests/{CONTEST}/entries", {"entries": newcomers}, ORG))

    def retried() -> bool:
        pending = [
            d
            for d in deliveries(stack, kind="registration_confirmed")
            if d["recipient_id"].startswith("contestant-c-late") and d["channel"] == "email"
        ]
        return len(pending) == 3 and all(d["attempts"] >= 2 and d["status"] == "pending" for d in pending)

    wait_until(retried, timeout=30, what="the confirmations to be retried while the server is down")
    sink.start()
    wait_until(
        lambda: len([m for m in sink.mails("registration_confirmed") if "late" in m["to"][0]]) == 3,
        timeout=60,
        what="the held-back confirmations",
    )
    assert Counter(m["to"][0] for m in sink.mails("registration_confirmed") if "late" in m["to"][0]) == Counter(
        f"{e['contestant_id']}@cun.example.cn" for e in newcomers
    )


def test_judges_are_reminded_once_of_a_session_that_starts_soon(world):
    stack, _, _ = world
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    ok(
        stack.call(
            "POST",
            f"/contests/{CONTEST}/sessions",
            {"session_id": "s3", "stage_id": "prelim", "group_id": "g-qinghua", "starts_at": soon},
            ORG,
        )
    )
    ok(
        stack.call(
            "PUT",
            f"/contests/{CONTEST}/sessions/s3/panel",
            {"seats": [{"judge_id": j, "head": n == 0} for n, j in enumerate(PANELS["s1"])]},
            ORG,
        )
    )
    ok(stack.call("POST", f"/contests/{CONTEST}/sessions/s3/draw", {}, ORG))
    ok(stack.call("POST", f"/contests/{CONTEST}/sessions/s3/opening", None, ORG))

    def reminders():
        found = [
            d for d in deliveries(stack, kind="session_reminder") if d["channel"] == "inbox" and d["status"] == "sent"
        ]
        return found if len(found) == 5 else None

    sent = wait_until(reminders, timeout=30, what="a reminder for each judge of s3")
    assert sorted(d["recipient_id"] for d in sent) == sorted(f"judge-{j}" for j in PANELS["s1"])
    inbox = ok(stack.call("GET", f"/contests/{CONTEST}/recipients/judge-J1/inbox", token=ORG))["messages"]
    assert [m["subject"] for m in inbox if m["kind"] == "session_reminder"] == ["评分提醒：乡镇初赛 即将开始"]
    # the judges have no e-mail or phone: those channels say so rather than fail
    assert {d["status"] for d in deliveries(stack, kind="session_reminder") if d["channel"] != "inbox"} == {
        "undeliverable"
    }
    assert len(deliveries(stack, kind="session_reminder")) == 15  # s1 and s2 (2021) are long past: none

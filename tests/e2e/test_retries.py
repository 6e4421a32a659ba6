"""What a retry means. A request the client was told timed out never takes effect later: the
RPC request carries the gateway's deadline (5 s in the test stack), expires at the broker while
it waits in the queue, and is refused by the service if it is delivered anyway after its
deadline. A write retried with its Idempotency-Key answers as the first time did and changes
nothing: docs/api.md's retry recipe, followed here through an outage. And a request sent with
the Leitai-Written token of an earlier write sees that write, or answers "not yet" (503): never
a refusal that a moment later would not be one."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from testkit.servers import wait_until
from testkit.stack import ORGANISER_TOKEN, ok
from tests.e2e.contest_flow import written

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def regions(stack):
    ok(
        stack.call(
            "PUT",
            "/regions/late",
            {
                "regions": [
                    {"code": "late", "name": "示范县", "level": "county"},
                    {"code": "late-t", "name": "示范镇", "level": "township", "parent": "late"},
                    {"code": "late-u", "name": "评委镇", "level": "township", "parent": "late"},  # the judges' own
                    *[
                        {"code": f"late-v{n}", "name": f"示范{n}村", "level": "village", "parent": "late-t"}
                        for n in range(3)
                    ],
                ]
            },
            token=ORGANISER_TOKEN,
        )
    )


def new_contest(
    stack, contest_id: str | None = None, key: str | None = None, name: str = "迟到的请求"
) -> tuple[str, tuple[int, dict]]:
    contest_id = contest_id or f"late-{uuid.uuid4().hex[:6]}"
    answer = stack.call(
        "POST",
        "/contests",
        {"contest_id": contest_id, "name": name, "tree_id": "late", "county_code": "late", "format": "knockout"},
        token=ORGANISER_TOKEN,
        headers={"Idempotency-Key": key} if key else None,
    )
    return contest_id, answer


def test_a_request_queued_past_its_deadline_is_dropped_not_executed_when_the_service_returns(stack):
    stack.child("registration").kill()
    contest_id, (code, body) = new_contest(stack)
    assert code == 503 and "outcome is unknown" in body["error"]["message_id"], body
    stack.restart("registration")  # the request is still queued unless its expiration dropped it
    wait_until(lambda: stack.ops("registration")[0] == 200, what="registration ready again")
    # a request sent now is queued behind the late one, had the broker kept it: once it is done,
    # so would the late one be
    assert new_contest(stack)[1][0] == 201
    assert stack.call("GET", f"/contests/{contest_id}", token=ORGANISER_TOKEN)[0] == 404


def test_a_request_delivered_after_its_deadline_is_refused_by_the_service(stack):
    registration = stack.child("registration")
    os.kill(registration.process.pid, signal.SIGSTOP)  # it holds the request, but cannot run it in time
    try:
        contest_id, (code, body) = new_contest(stack)
    finally:
        os.kill(registration.process.pid, signal.SIGCONT)
    assert code == 503, body
    wait_until(lambda: "expired request not executed" in registration.output(), what="registration to refuse it")
    assert stack.call("GET", f"/contests/{contest_id}", token=ORGANISER_TOKEN)[0] == 404
    contest_id, answer = new_contest(stack)  # and it goes on serving
    assert answer[0] == 201, answer


def test_a_write_retried_with_its_key_answers_as_the_first_time_and_the_key_is_bound_to_its_request(stack):
    key = str(uuid.uuid4())
    contest_id, first = new_contest(stack, key=key)
    assert first[0] == 201
    assert new_contest(stack, contest_id, key=key) == (contest_id, first)  # the same status and body
    assert new_contest(stack, contest_id)[1][0] == 409  # without the key: "already exists"
    code, body = new_contest(stack, contest_id, key=key, name="另一个请求")[1]
    assert code == 409 and "different request" in body["error"]["message_id"]
    code, body = new_contest(stack, key="not a valid key")[1]
    assert code == 400 and "Idempotency-Key" in body["error"]["fields"]


def test_the_retry_recipe_through_an_outage_creates_the_contest_once(stack):
    key = str(uuid.uuid4())
    stack.child("registration").kill()
    contest_id, (code, _) = new_contest(stack, key=key)
    assert code == 503  # outcome unknown: retry with the same key
    stack.restart("registration")
    wait_until(lambda: stack.ops("registration")[0] == 200, what="registration ready again")
    _, retried = new_contest(stack, contest_id, key=key)
    assert retried[0] == 201, retried
    assert new_contest(stack, contest_id, key=key)[1] == retried
    assert stack.call("GET", f"/contests/{contest_id}", token=ORGANISER_TOKEN)[0] == 200


def test_a_request_after_a_write_sees_it_or_answers_not_yet_and_never_refuses_falsely(stack):
    org = ORGANISER_TOKEN
    contest_id, answer = new_contest(stack)
    ok(answer)
    judges = ["J1", "J2", "J3"]
    ok(
        stack.call(
            "POST",
            f"/contests/{contest_id}/stages",
            {
                "stage_id": "st",
                "name": "初赛",
                "order": 1,
                "panel_size": 3,
                "criteria": [{"criterion_id": "c", "name": "讲工作", "max": "10", "weight": "1", "step": "1"}],
                "groups": [{"group_id": "g", "name": "示范镇", "townships": ["late-t"]}],
                "drop_rule": [{"min_sheets": 1, "drop_high": 0, "drop_low": 0}],
                "advancement": {"per_group": 1},
            },
            org,
        )
    )
    for judge in judges:
        ok(
            stack.call(
                "POST",
                f"/contests/{contest_id}/judges",
                {"judge_id": judge, "name": judge, "township_code": "late-u"},
                org,
            )
        )
    tokens = {judge: stack.invite(contest_id, judge) for judge in judges}  # a new contest's judges are invited
    ok(
        stack.call(
            "POST",
            f"/contests/{contest_id}/entries",
            {
                "entries": [
                    {
                        "entry_id": f"e{n}",
                        "contestant_id": f"c{n}",
                        "name": f"书记{n}",
                        "village_code": f"late-v{n}",
                        "title": "述职",
                    }
                    for n in range(3)
                ]
            },
            org,
        )
    )
    ok(
        stack.call(
            "POST",
            f"/contests/{contest_id}/sessions",
            {
                "session_id": f"{contest_id}-s",
                "stage_id": "st",
                "group_id": "g",
                "starts_at": "2021-06-01T09:00:00+08:00",
            },
            org,
        )
    )
    session = f"{contest_id}-s"
    ok(
        stack.call(
            "PUT",
            f"/contests/{contest_id}/sessions/{session}/panel",
            {"seats": [{"judge_id": j, "head": n == 0} for n, j in enumerate(judges)]},
            org,
        )
    )
    order = ok(stack.call("POST", f"/contests/{contest_id}/sessions/{session}/draw", {}, org))["order"]
    opened = written(stack.exchange("POST", f"/contests/{contest_id}/sessions/{session}/opening", None, org))
    # scoring hears of the opening by an event: with its token, the first sheet waits for it
    sheets = [
        written(
            stack.exchange(
                "PUT",
                f"/sessions/{session}/sheets/{entry}",
                {"submission_id": str(uuid.uuid4()), "scores": {"c": str(3 + n)}},
                tokens[judge],
                headers={"Leitai-After": opened},
            )
        )
        for n, entry in enumerate(order)
        for judge in judges
    ]
    code, body = stack.call("GET", f"/contests/{contest_id}", token=org, headers={"Leitai-After": "not a token"})
    assert code == 400 and "Leitai-After" in body["error"]["fields"], body

    relay = stack.child("scoring-relay")
    os.kill(relay.process.pid, signal.SIGSTOP)  # the lock is stored, but ranking cannot hear of it
    try:
        locked = written(stack.exchange("POST", f"/sessions/{session}/lock", {}, tokens[judges[0]]))
        publish = f"/contests/{contest_id}/stages/st/results"
        code, body = stack.call("POST", publish, None, org)
        assert code == 422, body  # without the token: the refusal the token exists to prevent
        code, body, headers = stack.exchange("POST", publish, None, org, headers={"Leitai-After": locked})
        assert code == 503 and "not yet seen" in body["error"]["message_id"] and headers["Retry-After"], body
    finally:
        os.kill(relay.process.pid, signal.SIGCONT)
    code, published = stack.call("POST", publish, None, org, headers={"Leitai-After": locked})
    assert code == 201 and [r["entry_id"] for r in published["standings"]] == list(reversed(order)), published
    code, csv = stack.call(
        "GET",
        f"/contests/{contest_id}/stages/st/results.csv?kind=sheets",
        token=org,
        headers={"Leitai-After": ", ".join(sheets)},
    )
    assert code == 200 and csv.count("\n") == 1 + len(sheets), csv


def test_no_configured_secret_appears_in_any_log_line(stack):
    """Run last in this module: after outages, refusals, retries and a kill, with every
    process's output. Tokens, the SMTP password, the SMS key and the checkpoint signing key
    stay out of the logs."""
    assert stack.call("POST", "/contests", {}, token="a-forged-token-0123456789")[0] == 401
    secrets = [s for s in stack.secrets() if s]
    assert len(secrets) >= 4
    logs = stack.logs()
    assert all('"level": "INFO"' in text for text in logs.values()), [n for n, t in logs.items() if not t]
    leaks = {name: [s for s in secrets if s in text] for name, text in logs.items()}
    assert not {name: found for name, found in leaks.items() if found}

"""A judge let in with ``leitai grant mint`` (no configured token, no restart of the gateway)
submits a sheet through the gateway; once ``leitai grant revoke`` has run, the same token gets
401. The gateway keeps no look-up here (LEITAI_GRANT_CACHE_S 0), so the revocation holds from
the next request on. With registration down, a minted token's look-up is a 503 within the
request's deadline, and the token works again once registration is back."""

from __future__ import annotations

import os
import random
import re
import subprocess
import time

import pytest

from testkit.boai import CONTEST, PANELS, random_scores, set_up, sheet
from testkit.stack import BIN, ORGANISER_TOKEN, ok, running_stack

pytestmark = pytest.mark.integration
JUDGES = [f"J{n}" for n in range(1, 11)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, mongo_url):
    with running_stack(tmp_path_factory.mktemp("stack"), mongo_url, JUDGES, grant_cache_s=0) as running:
        yield running


@pytest.fixture(scope="module")
def orders(stack):
    return set_up(stack)


def leitai_grant(stack, *args: str) -> str:
    """``leitai grant ...`` as an organiser runs it, in the stack's registration database."""
    env = dict(
        os.environ,
        MONGO_URL=stack.mongo_url,
        MONGO_DATABASE=stack.database("registration"),
        LEITAI_ENVIRONMENT="test",
    )
    done = subprocess.run(
        [str(BIN / "leitai"), "grant", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def mint_judge(stack, judge: str) -> tuple[str, str]:
    """(grant id, token) of a new grant of ``judge`` in the contest, minted with the command."""
    minted = leitai_grant(
        stack,
        *("mint", "--role", "judge", "--id", judge, "--contest", CONTEST, "--label", f"评委 {judge}"),
        *("--days", "1", "--base-url", stack.base, "--by", "org1"),
    )
    grant_id = re.search(r"^minted (grant-[0-9a-f]{12}):", minted, re.M)[1]
    token = re.search(r"^token \(shown this once: only its digest is kept\): (lt_\S+)$", minted, re.M)[1]
    assert f"sign-in link: {stack.base}/judge#token={token}" in minted
    return grant_id, token


def test_a_judge_minted_in_submits_a_sheet_and_once_revoked_gets_401(stack, orders):
    session, judge = "s1", PANELS["s1"][1]
    entry = orders[session]["order"][0]
    grant_id, token = mint_judge(stack, judge)
    assert token not in stack.tokens  # the gateway was never told of it

    path = f"/sessions/{session}/sheets/{entry}"
    code, body = stack.call("PUT", path, sheet(random_scores(random.Random(1))), token)
    assert code == 200, body
    assert body["judge_id"] == judge
    code, body = stack.call("GET", "/judges/me/sessions", token=token)
    assert code == 200 and session in {s["session_id"] for s in body["sessions"]}, body

    made_up = "lt_" + "A" * 43  # the minted form, minted by no one
    assert stack.call("PUT", path, sheet(random_scores(random.Random(2))), made_up)[0] == 401

    revoked = leitai_grant(stack, "revoke", grant_id, "--reason", "replaced on the panel", "--by", "org1")
    assert f"revoked {grant_id}" in revoked
    code, body = stack.call("PUT", path, sheet(random_scores(random.Random(3))), token)
    assert code == 401, body
    assert body["error"]["code"] == "unauthorized"
    listed = leitai_grant(stack, "list", "--contest", CONTEST)
    assert "revoked" in listed and "replaced on the panel" in listed and token not in listed


def test_with_registration_down_a_minted_token_is_a_503_within_the_deadline_then_works_again(stack, orders):
    session, judge = "s1", PANELS["s1"][2]
    path = f"/sessions/{session}/sheets/{orders[session]['order'][1]}"
    stack.child("registration").kill()
    _, token = mint_judge(stack, judge)  # the command needs the store, not the service
    started = time.monotonic()
    code, body = stack.call("PUT", path, sheet(random_scores(random.Random(4))), token)
    assert code == 503 and body["error"]["code"] == "unavailable", body
    assert "could not be looked up" in body["error"]["message_id"]
    assert time.monotonic() - started < 5 + 2  # the stack's deadline (LEITAI_RPC_TIMEOUT) is 5 s
    stack.restart("registration")
    code, body = stack.call("PUT", path, sheet(random_scores(random.Random(5))), token)
    assert code == 200 and body["judge_id"] == judge, body


def test_an_organiser_invites_a_judge_from_the_console_and_issuing_again_ends_the_old_link(stack, orders):
    """The console's way in: the organiser's invitation answers a link with the token in its
    fragment and its QR code; the judge signs in with it; issuing again revokes the first."""
    judge, path = PANELS["s2"][0], f"/contests/{CONTEST}/invitations"
    first = ok(stack.call("POST", path, {"id": judge, "base_url": stack.base}, ORGANISER_TOKEN))
    assert first["link"] == f"{stack.base}/judge#token={first['token']}" and len(first["qr"]) >= 21
    desk = ok(stack.call("GET", "/judges/me/sessions", token=first["token"]))
    assert desk["judge_id"] == judge and "s2" in {s["session_id"] for s in desk["sessions"]}
    again = ok(stack.call("POST", path, {"id": judge, "base_url": stack.base}, ORGANISER_TOKEN))
    assert again["replaces"] == [first["grant_id"]]
    code, body = stack.call("GET", "/judges/me/sessions", token=first["token"])
    assert code == 401 and "expired or revoked" in body["error"]["message_id"]
    assert ok(stack.call("GET", "/judges/me/sessions", token=again["token"]))["judge_id"] == judge
    listed = {g["grant_id"]: g["status"] for g in ok(stack.call("GET", path, token=ORGANISER_TOKEN))["invitations"]}
    assert (listed[first["grant_id"]], listed[again["grant_id"]]) == ("revoked", "active")
    assert all("token" not in g for g in ok(stack.call("GET", path, token=ORGANISER_TOKEN))["invitations"])
    # revoked from the console: the link stops working at once (this stack keeps no look-up)
    ok(stack.call("POST", f"{path}/{again['grant_id']}/revocation", {"reason": "评委更换"}, ORGANISER_TOKEN))
    assert stack.call("GET", "/judges/me/sessions", token=again["token"])[0] == 401

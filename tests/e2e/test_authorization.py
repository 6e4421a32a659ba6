"""The authorisation matrix, generated from the OpenAPI document: every operation, called by an
organiser, a judge seated on the session, a judge of another session, the screen, no token and
a forged token. What each may expect is decided in one place (``expected``) from the roles the
document lists for the operation (``x-roles``); a denied call never changes anything, so the
matrix runs against a contest that is set up, its sessions open."""

from __future__ import annotations

import re

import pytest

from leitai.messages import formatted
from testkit.boai import CONTEST, set_up
from testkit.stack import (
    ELSEWHERE_CONTEST,
    ELSEWHERE_ORGANISER_TOKEN,
    ELSEWHERE_SCREEN_TOKEN,
    ELSEWHERE_SUPERVISOR_TOKEN,
    ORGANISER_TOKEN,
    SCREEN_TOKEN,
    SUPERVISOR_TOKEN,
    judge_token,
)

pytestmark = pytest.mark.integration
CALLERS = {
    "organiser": ORGANISER_TOKEN,
    "judge of this session": judge_token("J1"),
    "judge of another session": judge_token("J6"),
    "screen": SCREEN_TOKEN,
    "supervisor": SUPERVISOR_TOKEN,
    "no token": None,
    "forged token": "forged-token-0123456789abcdef",
}
ROLE_OF = {
    "organiser": "organiser",
    "judge of this session": "judge",
    "judge of another session": "judge",
    "screen": "screen",
    "supervisor": "supervisor",
}
PARAMS = {
    "tree_id": "boai",
    "contest_id": CONTEST,
    "stage_id": "prelim",
    "session_id": "s1",
    "entry_id": "e-qinghua-01",
    "series_id": "series-x",
    "meeting_id": "meeting-x",
    "delivery_id": "delivery-x",
    "recipient_id": "c-qinghua-01",
    "log": "scoring",
    "size": "1",
    "appeal_id": "appeal-x",
    "correction_id": "correction-x",
    "change_id": "change-x",
    "grant_id": "grant-x",
    "name": "pages",  # /pages/{name}.{kind}
    "kind": "js",
}
ALLOWED, UNAUTHENTICATED, FORBIDDEN, NOT_SEATED = "allowed", "401", "403", "refused: not seated"


def expected(roles: list[str], path: str, caller: str) -> str:
    """The one table: who may call what."""
    if "public" in roles:
        return ALLOWED  # a forged token on a public route is just the public
    if caller in ("no token", "forged token"):
        return UNAUTHENTICATED
    if ROLE_OF[caller] not in roles:
        return FORBIDDEN
    if caller == "judge of another session" and "{session_id}" in path:
        return NOT_SEATED  # the role may, this judge may not: refused before anything is done
    return ALLOWED


def outcome(code: int) -> str:
    if code == 401:
        return UNAUTHENTICATED
    if code == 403:
        return FORBIDDEN
    assert code < 500, code
    return ALLOWED


@pytest.fixture(scope="module")
def document(stack):
    set_up(stack)
    code, body = stack.call("GET", "/openapi.json")
    assert code == 200
    return body


def test_every_operation_answers_every_caller_as_the_matrix_says(stack, document):
    operations = [(method.upper(), path, op) for path, item in document["paths"].items() for method, op in item.items()]
    assert len(operations) >= 30
    wrong = []
    for method, path, op in operations:
        url = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)
        for caller, token in CALLERS.items():
            want = expected(op["x-roles"], path, caller)
            # an empty body: a caller let in gets a 400 for it (or the route's own refusal), never a change
            code, _ = stack.call(method, url, {} if method != "GET" else None, token)
            got = outcome(code)
            if want == NOT_SEATED:
                ok = code in (400, 403)
            else:
                ok = got == want
            if not ok:
                wrong.append(f"{method} {path} as {caller}: expected {want}, got {code}")
    assert not wrong, "\n".join(wrong)


# The contest dimension: grants of another county (an office) and another contest, holding the
# same ids as ours (org1, inspector1, hall, J1, J6: ids are not identities), in every role
ELSEWHERE = {
    "organiser of another county": ELSEWHERE_ORGANISER_TOKEN,
    "supervisor of another county": ELSEWHERE_SUPERVISOR_TOKEN,
    "screen of another contest": ELSEWHERE_SCREEN_TOKEN,
    "judge J1 of another contest": judge_token("J1", ELSEWHERE_CONTEST),
    "judge J6 of another contest": judge_token("J6", ELSEWHERE_CONTEST),
}
SCOPE_REFUSAL = "this grant is for"


def english(body) -> str:
    """A refusal's message in its own English (as the logs say it): its id with its values."""
    said = body.get("error", {}) if isinstance(body, dict) else {}
    return formatted(said.get("message_id", ""), said.get("params") or {})


def test_every_operation_on_our_contest_refuses_every_grant_of_another(stack, document):
    """Every route that acts on a contest or a session (and is not public) refuses each grant of
    another contest or county with 403, saying whose the grant is, and changes nothing."""
    before = stack.call("GET", f"/contests/{CONTEST}", token=ORGANISER_TOKEN)[1]
    scoped = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if "public" not in op["x-roles"] and ("{contest_id}" in path or "{session_id}" in path)
    ]
    assert len(scoped) >= 30
    wrong = []
    for method, path in scoped:
        url = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)
        for caller, token in ELSEWHERE.items():
            code, body = stack.call(method, url, {} if method != "GET" else None, token)
            message = english(body)
            # a role that may never do it is refused for its role; every other, for its scope
            if code != 403 or not (message.startswith("only ") or SCOPE_REFUSAL in message):
                wrong.append(f"{method} {path} as {caller}: {code} {message!r}")
    assert not wrong, "\n".join(wrong)
    assert stack.call("GET", f"/contests/{CONTEST}", token=ORGANISER_TOKEN)[1] == before


def test_what_acts_on_no_one_contest_shows_another_county_nothing_of_ours(stack, document):
    organiser, judge = ELSEWHERE["organiser of another county"], ELSEWHERE["judge J1 of another contest"]
    listed = stack.call("GET", "/contests", token=organiser)
    assert listed[0] == 200 and CONTEST not in {c["contest_id"] for c in listed[1]["contests"]}
    assert CONTEST in {c["contest_id"] for c in stack.call("GET", "/contests", token=ORGANISER_TOKEN)[1]["contests"]}
    desk = stack.call("GET", "/judges/me/sessions", token=judge)
    assert desk[0] == 200 and desk[1]["sessions"] == []  # J1 sits in our s1, not in their contest
    assert stack.call("GET", "/judges/me/sessions", token=judge_token("J1"))[1]["sessions"] != []
    # a contest of our county, or with our contest's id, is not theirs to create
    ours = {
        "contest_id": "theirs-in-boai",
        "name": "擂台",
        "tree_id": "boai",
        "county_code": "boai",
        "format": "knockout",
    }
    code, body = stack.call("POST", "/contests", ours, organiser)
    assert code == 403 and SCOPE_REFUSAL in english(body)
    code, body = stack.call("POST", "/contests", dict(ours, contest_id=CONTEST, county_code="elsewhere"), organiser)
    assert code in (403, 404) and stack.call("GET", f"/contests/{CONTEST}")[1]["county_code"] == "boai"
    # a region tree our contests stand on is replaced by the operator only
    code, body = stack.call(
        "PUT", "/regions/boai", {"regions": [{"code": "x", "name": "x", "level": "county"}]}, organiser
    )
    assert code == 403, body
    # public routes show them what they show the public: no set-up, no unpublished score
    view = stack.call("GET", f"/contests/{CONTEST}", token=organiser)[1]
    assert view["judges"] == [] and all("seats" not in s for s in view["sessions"])
    assert stack.call("GET", "/sessions/s1/results", token=organiser)[0] == 404


def keys_of(value, into: set[str]) -> set[str]:
    """Every object key anywhere in a JSON answer."""
    if isinstance(value, dict):
        for key, item in value.items():
            into.add(key)
            keys_of(item, into)
    elif isinstance(value, list):
        for item in value:
            keys_of(item, into)
    return into


# Every field an anonymous caller or the venue's screen may be shown of a contest whose sessions
# are open and whose stages are not published: the contest's public rules and its people's
# names, never a panel, a conflict, a video room, a lot seed, a contact or a score.
PUBLIC_FIELDS = {
    # health, region trees, checkpoints, errors
    "status",
    "checks",
    "registration",
    "scoring",
    "ranking",
    "notify",
    "tree_id",
    "regions",
    "code",
    "name",
    "level",
    "parent",
    "checkpoints",
    "error",
    "message",
    "message_id",  # a refusal's template and its values, which its message says anyway
    "params",
    "msgid",
    "size",  # the checkpoint size a refusal names, as the path gave it
    "fields",
    "request_id",
    # the contest (services/registration/contest.py PUBLIC_FIELDS)
    "contest_id",
    "county_code",
    "format",
    "description",
    "version",
    "stages",
    "stage_id",
    "order",
    "groups",
    "group_id",
    "townships",
    "criteria",
    "criterion_id",
    "max",
    "weight",
    "step",
    "panel_size",
    "drop_rule",
    "min_sheets",
    "drop_high",
    "drop_low",
    "advancement",
    "per_group",
    "overall",
    "on_tie",
    "tiebreak",
    "kind",
    "judges",
    "entries",
    "entry_id",
    "contestant_id",
    "village_code",
    "township_code",
    "work_unit",
    "title",
    "withdrawn",
    "sessions",
    "session_id",
    "starts_at",
    "place",
    "seed",
    "opened",
    "forum_series",
    "meetings",
    "advancement_changes",
    # the screen's live board before any sheet: its frame, no scores yet
    "standings",
    "published",
    "reflects",
    "position",
}
NOT_BEFORE_PUBLICATION = (
    "/sessions/{session_id}/results",
    "/contests/{contest_id}/stages/{stage_id}/entries/{entry_id}/working",
)


def test_public_and_screen_answers_show_allow_listed_fields_only_and_no_score_before_publication(stack, document):
    shown: dict[str, set[str]] = {}
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None or "public" not in operation["x-roles"] or path == "/openapi.json":
            continue  # the API's own description is public by design
        url = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)
        for caller in ("no token", "screen", "judge of another session"):
            code, body = stack.call("GET", url, None, CALLERS[caller])
            if path in NOT_BEFORE_PUBLICATION:
                assert code == 404, f"{path} as {caller} before publication: {code}"
            if isinstance(body, (dict, list)):
                shown[f"{path} as {caller}"] = keys_of(body, set())
    assert len(shown) >= 30
    unlisted = {where: sorted(keys - PUBLIC_FIELDS) for where, keys in shown.items() if keys - PUBLIC_FIELDS}
    assert unlisted == {}
    contest = stack.call("GET", f"/contests/{CONTEST}")[1]
    assert contest["judges"] == [] and all("seats" not in s and "video_room" not in s for s in contest["sessions"])

"""No secret in a URL or a log: the big screen's tickets (a signed cookie instead of ?token=), the
access log's redaction, and the gateway's settings errors that name a token by its place."""

from __future__ import annotations

import base64
import json
from http.cookies import SimpleCookie

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from leitai.config import ConfigurationError
from leitai.errors import InvalidInput
from leitai.roles import JUDGE, ORGANISER, SCREEN
from services.gateway import accesslog, tickets
from services.gateway.auth import Authenticator, Unauthorized
from services.gateway.settings import load
from services.gateway.tickets import Screen, Tickets

TOKEN = "screen-token-never-in-a-url-0123"
SCREEN_ACTOR = {"role": SCREEN, "id": "hall", "contest": "c"}
NOW = 1_760_000_000.0


def request(path: str = "/live/c1/s1/events", headers: dict | None = None, base: str = "http://venue") -> Request:
    return Request(EnvironBuilder(path=path, base_url=base, headers=headers or {}).get_environ())


def test_a_ticket_names_its_holder_and_stage_and_never_the_token():
    keyed = Tickets.derived("k" * 32)
    ticket = keyed.issue(SCREEN_ACTOR, "c1", "s1", NOW)
    assert keyed.check(ticket, "c1", "s1", NOW + 59) == SCREEN_ACTOR
    version, payload, _ = ticket.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert version == "v1" and claims == {
        "role": SCREEN,
        "id": "hall",
        "contest": "c",
        "contest_id": "c1",
        "stage_id": "s1",
        "exp": int(NOW) + tickets.TTL_S,
    }
    assert TOKEN not in ticket
    # the same shared key on another replica opens it; another deployment's key does not
    assert Tickets.derived("k" * 32).check(ticket, "c1", "s1", NOW) == SCREEN_ACTOR
    with pytest.raises(Unauthorized, match="not valid"):
        Tickets.derived("x" * 32).check(ticket, "c1", "s1", NOW)


@pytest.mark.parametrize(
    "spoil, says",
    [
        (lambda t: None, "no screen ticket"),
        (lambda t: "", "no screen ticket"),
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "not valid"),  # the MAC altered
        (lambda t: t.replace("v1.", "v2.", 1), "not valid"),
        (lambda t: "v1.e30." + t.split(".")[2], "not valid"),  # another payload ({}) under its MAC
        (lambda t: "made-up", "not valid"),
    ],
)
def test_a_missing_forged_or_altered_ticket_is_refused_saying_so(spoil, says):
    keyed = Tickets.derived("k" * 32)
    with pytest.raises(Unauthorized, match=says):
        keyed.check(spoil(keyed.issue(SCREEN_ACTOR, "c1", "s1", NOW)), "c1", "s1", NOW)


def test_an_expired_ticket_or_one_for_another_stage_is_refused_saying_so():
    keyed = Tickets.derived("k" * 32)
    ticket = keyed.issue(SCREEN_ACTOR, "c1", "s1", NOW)
    with pytest.raises(Unauthorized, match="expired"):
        keyed.check(ticket, "c1", "s1", NOW + tickets.TTL_S)
    with pytest.raises(Unauthorized, match="another stage"):
        keyed.check(ticket, "c1", "s2", NOW)


def test_without_a_shared_key_each_process_makes_its_own():
    ticket = Tickets.derived(None).issue(SCREEN_ACTOR, "c1", "s1", NOW)
    with pytest.raises(Unauthorized, match="not valid"):
        Tickets.derived(None).check(ticket, "c1", "s1", NOW)


@pytest.mark.parametrize(
    "base, headers, secure",
    [
        ("http://192.168.1.20:8000", {}, False),  # a hall's network, local development: not Secure
        ("https://leitai.example", {}, True),
        ("http://leitai-gateway:8000", {"X-Forwarded-Proto": "https"}, True),  # behind the ingress
    ],
)
def test_the_ticket_cookie_is_http_only_strict_short_and_for_the_stream_only(base, headers, secure):
    screen = Screen(Tickets.derived("k" * 32), request("/live/c1/s1/ticket", headers, base))
    answer = screen.ticket(SCREEN_ACTOR, "c1", "s1")
    assert answer.status_code == 200 and answer.json == {"stream": "/live/c1/s1/events", "expires_in": 60}
    (header,) = answer.headers.getlist("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes and ("secure" in attributes) == secure
    cookie = SimpleCookie(header)[tickets.COOKIE]
    assert cookie["path"] == "/live/c1/s1/events" and cookie["max-age"] == "60" and cookie["samesite"] == "Strict"
    assert TOKEN not in header
    # what the browser sends back opens the stream
    watching = Screen(screen.tickets, request(headers={"Cookie": f"{tickets.COOKIE}={cookie.value}"}))
    assert watching.watcher(Authenticator({}).actor, "c1", "s1") == SCREEN_ACTOR


def test_the_stream_takes_a_programs_bearer_token_and_refuses_a_token_in_the_url():
    authenticator = Authenticator({TOKEN: SCREEN_ACTOR}).actor  # the gateway's look-up (minted grants too)
    keyed = Tickets.derived("k" * 32)
    by_header = Screen(keyed, request(headers={"Authorization": f"Bearer {TOKEN}"}))
    assert by_header.watcher(authenticator, "c1", "s1") == SCREEN_ACTOR
    assert (
        Screen(keyed, request(headers={"Authorization": "Bearer forged-0123456789abcdef"})).watcher(
            authenticator, "c1", "s1"
        )
        is None
    )  # the gateway's permit makes that a 401
    with pytest.raises(Unauthorized, match="no screen ticket"):
        Screen(keyed, request()).watcher(authenticator, "c1", "s1")
    for where in ("/live/c1/s1/events", "/live/c1/s1"):
        in_url = Screen(keyed, request(f"{where}?token={TOKEN}"))
        with pytest.raises(InvalidInput, match="#token=") as refused:
            in_url.watcher(authenticator, "c1", "s1") if where.endswith("events") else in_url.no_token_in_url()
        assert "token" in refused.value.details


@pytest.mark.parametrize(
    "line, logged",
    [
        (f"GET /live/c1/s1/events?token={TOKEN} HTTP/1.1", "GET /live/c1/s1/events?token=… HTTP/1.1"),
        (f"GET /x?kind=sheets&version=2&access_token={TOKEN} HTTP/1.1", "GET /x?kind=…&version=2&…=… HTTP/1.1"),
        (f"GET /x?{TOKEN} HTTP/1.1", "GET /x?… HTTP/1.1"),  # a bare value may be a token too
        (f"GET /x?{TOKEN}=1 HTTP/1.1", "GET /x?…=1 HTTP/1.1"),  # and a name
        ("GET /contests/c1 HTTP/1.1", "GET /contests/c1 HTTP/1.1"),
        (f'127.0.0.1 - - "GET /x?token={TOKEN}%3D HTTP/1.1" 400 12', '127.0.0.1 - - "GET /x?token=… HTTP/1.1" 400 12'),
    ],
)
def test_the_access_log_keeps_parameter_names_and_never_a_value_that_could_be_a_credential(line, logged):
    assert accesslog.redact(line) == logged
    assert accesslog.redact(logged) == logged  # redacting twice changes nothing


def test_a_line_the_web_server_could_not_parse_keeps_nothing_after_its_question_mark():
    said = accesslog.redact_unparsed(f"code 400, message Bad request syntax ('GET /x?token=a {TOKEN} b HTTP/1.1')")
    assert TOKEN not in said and said.startswith("code 400, message Bad request syntax ('GET /x?")


@pytest.mark.parametrize(
    "tokens, says",
    [
        ({"short-secret": {"role": JUDGE, "id": "J1"}}, "token #1 (role judge)"),
        (
            {"organiser-secret-0123456789": {"role": ORGANISER, "id": "o1"}, "boss-secret-0123456789": {"role": "x"}},
            "token #2",
        ),
        ('{"organiser-secret-0123456789": {"role": "organiser", "id": "o1"', "not valid JSON at line 1, column"),
        ("", "not set"),
    ],
)
def test_a_malformed_tokens_setting_names_the_tokens_place_never_the_token(tokens, says):
    with pytest.raises(ConfigurationError) as refused:
        load({"LEITAI_TOKENS": tokens, "LEITAI_ENVIRONMENT": "test", "AMQP_URI": "memory://"})
    message = str(refused.value)
    assert "LEITAI_TOKENS" in message and says in message
    assert "secret" not in message, message


def test_the_tokens_setting_may_come_as_the_raw_json_text_of_the_environment():
    loaded = load(
        {
            "LEITAI_TOKENS": json.dumps({TOKEN: SCREEN_ACTOR}),
            "LEITAI_ENVIRONMENT": "test",
            "AMQP_URI": "memory://",
        }
    )
    assert loaded["LEITAI_TOKENS"] == {TOKEN: SCREEN_ACTOR}

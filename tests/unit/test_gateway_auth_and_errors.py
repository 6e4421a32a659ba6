"""The gateway's two tables: who may call a route, and which HTTP status each domain error
answers with (looked up by class hierarchy, so a new error needs no new row)."""

import pytest

from leitai.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, RuleViolated, Unavailable
from leitai.roles import JUDGE, ORGANISER, PUBLIC, SCREEN, require_role
from services.gateway.auth import Authenticator, Unauthorized
from services.gateway.http import status_of

TOKENS = {"o" * 16: {"role": ORGANISER, "id": "org1"}, "s" * 16: {"role": SCREEN, "id": "hall"}}


class SessionAlreadyLocked(Conflict):
    pass


class Unforeseen(DomainError):
    pass


@pytest.mark.parametrize(
    "error, status",
    [
        (InvalidInput("x"), 400),
        (Unauthorized("x"), 401),
        (Forbidden("x"), 403),
        (NotFound("x"), 404),
        (Conflict("x"), 409),
        (RuleViolated("x"), 422),
        (Unavailable("x"), 503),
        (SessionAlreadyLocked("x"), 409),
        (Unforeseen("x"), 422),
    ],
)
def test_every_domain_error_maps_to_its_nearest_listed_class(error, status):
    assert status_of(error)[0] == status


def test_a_route_for_some_roles_refuses_no_token_a_forged_one_and_another_role():
    auth = Authenticator(TOKENS)
    assert auth.authorize(f"Bearer {'o' * 16}", {ORGANISER}, to="publish")["id"] == "org1"
    with pytest.raises(Unauthorized):
        auth.authorize(None, {ORGANISER}, to="publish")
    with pytest.raises(Unauthorized):
        auth.authorize(f"Bearer {'x' * 16}", {ORGANISER}, to="publish")
    with pytest.raises(Forbidden, match="only an organiser may publish"):
        auth.authorize(f"Bearer {'s' * 16}", {ORGANISER}, to="publish")


def test_a_public_route_takes_anyone_and_still_knows_a_token_holder():
    auth = Authenticator(TOKENS)
    assert auth.authorize(None, {PUBLIC}, to="read")["role"] == PUBLIC
    assert auth.authorize(f"Bearer {'s' * 16}", {PUBLIC}, to="read")["role"] == SCREEN


def test_the_guard_names_every_role_that_may_act():
    require_role({"role": JUDGE}, ORGANISER, JUDGE, to="lock")
    with pytest.raises(Forbidden, match="only an organiser or a screen may watch"):
        require_role({"role": JUDGE}, ORGANISER, SCREEN, to="watch")


def test_every_route_documents_its_bodies_from_schemas_that_exist():
    from services.gateway.http import ROUTES
    from services.gateway.openapi import build_document
    from services.gateway.service import GatewayService  # defining it registers the routes

    document = build_document()
    assert GatewayService.name == "gateway" and len(ROUTES) >= 30
    assert {route.path for route in ROUTES} <= set(document["paths"])


def test_an_unavailable_service_answers_503_with_retry_after_and_says_the_outcome_is_unknown():
    from services.gateway.http import error_response

    response = error_response(
        Unavailable("the store is not answering; the outcome is unknown", {"retry_after": 3}), "req-12345678"
    )
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    assert error_response(Unavailable("no answer within 30 s"), "req-12345678").headers["Retry-After"] == "2"
    # as it arrives over RPC: nameko turns the numbers in an error's details into strings
    assert error_response(Unavailable("not yet", {"retry_after": "1.5"}), "req-12345678").headers["Retry-After"] == "2"


def test_a_token_may_be_configured_as_its_sha256_digest_and_a_malformed_key_is_refused():
    import hashlib

    from marshmallow import ValidationError

    from services.gateway.settings import GatewaySettingsSchema as _Settings

    token = "a-judges-token-kept-out-of-the-config"
    digest = f"sha256:{hashlib.sha256(token.encode()).hexdigest()}"
    auth = Authenticator({digest: {"role": JUDGE, "id": "J1"}, **TOKENS})
    assert auth.authorize(f"Bearer {token}", {JUDGE}, to="score")["id"] == "J1"
    with pytest.raises(Unauthorized):
        auth.authorize(f"Bearer {digest}", {JUDGE}, to="score")  # the digest is not the token
    assert _Settings().load({"LEITAI_TOKENS": {digest: {"role": JUDGE, "id": "J1"}}})
    for bad in ("sha256:nothex", "short"):
        with pytest.raises(ValidationError, match="sha256"):
            _Settings().load({"LEITAI_TOKENS": {bad: {"role": JUDGE, "id": "J1"}}})


def test_the_public_results_page_escapes_what_it_shows_and_names_the_fingerprint():
    from leitai.certificates import fingerprint
    from services.gateway.results_page import render

    digest = "ab" * 32
    board = {
        "contest_id": "c",
        "stage_id": "semi",
        "name": "县级复赛<script>",
        "standings": [
            {
                "rank": 1,
                "name": "<b>石鹏</b>",
                "group_id": "g",
                "stage_score": "92.44",
                "advanced": True,
                "decided_by": None,
            },
            {
                "rank": 1,
                "name": "谭卫国",
                "group_id": "g",
                "stage_score": "92.44",
                "advanced": False,
                "decided_by": "lot",
            },
        ],
    }
    page = render(board, {"standings_sha256": digest, "fingerprint": fingerprint(digest), "pending": []}).decode()
    assert "abab abab abab abab" in page and digest in page
    assert "<script>" not in page and "&lt;b&gt;石鹏" in page
    assert page.index("石鹏") < page.index("谭卫国") and "抽签" in page


@pytest.mark.parametrize(
    "raw",
    [
        '{"csv": "code,name,level,parent\\n\\ud957x,村,village,t1"}',  # a lone surrogate is no text
        "[" * 100_000 + "]" * 100_000,  # nesting past the parser's depth
        "{not json",
    ],
)
def test_a_body_that_is_not_json_text_is_a_400_and_never_reaches_a_service(raw):
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    import services.gateway.service  # noqa: F401  (its endpoints fill ROUTES)
    from services.gateway.http import ROUTES, read_body

    route = next(r for r in ROUTES if r.name == "import_regions")
    request = Request(EnvironBuilder(method="PUT", data=raw.encode("utf-8", "surrogatepass")).get_environ())
    with pytest.raises(InvalidInput) as refused:
        read_body(route, request)
    assert refused.value.details == {"_body": ["not valid JSON text"]}

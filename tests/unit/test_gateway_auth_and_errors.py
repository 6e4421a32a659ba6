"""The gateway's two tables: who may call a route, and which HTTP status each domain error
answers with (looked up by class hierarchy, so a new error needs no new row)."""

import json
import re

import pytest

from leitai.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, RuleViolated, Unavailable
from leitai.roles import JUDGE, ORGANISER, PUBLIC, SCREEN, require_role
from leitai.rpc import STORE_OUTAGE
from services.gateway.auth import Authenticator, Unauthorized
from services.gateway.http import status_of

TOKENS = {
    "o" * 16: {"role": ORGANISER, "id": "org1", "office": "boai"},
    "s" * 16: {"role": SCREEN, "id": "hall", "contest": "c"},
}


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
    from leitai.i18n import Languages, catalogues
    from services.gateway.http import error_response

    chinese = Languages(catalogues()).for_request([])
    response = error_response(Unavailable(STORE_OUTAGE, {"retry_after": 3}), "req-12345678", chinese)
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    assert json.loads(response.get_data())["error"]["message"] == "数据存储没有应答，结果未知：请用同一幂等键重试"
    assert error_response(Unavailable("no answer within 30 s"), "req-12345678", chinese).headers["Retry-After"] == "2"
    # as it arrives over RPC: nameko turns the numbers in an error's details into strings
    late = Unavailable("not yet", {"retry_after": "1.5"})
    assert error_response(late, "req-12345678", chinese).headers["Retry-After"] == "2"


def test_a_token_may_be_configured_as_its_sha256_digest_and_a_malformed_key_is_refused():
    import hashlib

    from marshmallow import ValidationError

    from services.gateway.settings import GatewaySettingsSchema as _Settings

    token = "a-judges-token-kept-out-of-the-config"
    digest = f"sha256:{hashlib.sha256(token.encode()).hexdigest()}"
    auth = Authenticator({digest: {"role": JUDGE, "id": "J1", "contest": "c"}, **TOKENS})
    assert auth.authorize(f"Bearer {token}", {JUDGE}, to="score")["id"] == "J1"
    with pytest.raises(Unauthorized):
        auth.authorize(f"Bearer {digest}", {JUDGE}, to="score")  # the digest is not the token
    assert _Settings().load({"LEITAI_TOKENS": {digest: {"role": JUDGE, "id": "J1", "contest": "c"}}})
    for bad in ("sha256:nothex", "short"):
        with pytest.raises(ValidationError, match="sha256"):
            _Settings().load({"LEITAI_TOKENS": {bad: {"role": JUDGE, "id": "J1", "contest": "c"}}})


def test_the_public_results_page_escapes_what_it_shows_and_names_the_fingerprint():
    from leitai.certificates import fingerprint
    from services.gateway.names import Names
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
    certificate = {"standings_sha256": digest, "fingerprint": fingerprint(digest), "pending": []}
    page = render(board, certificate, Names(groups={"g": "<i>北片</i>"})).decode()
    assert "abab abab abab abab" in page and digest in page
    assert "&lt;i&gt;北片" in page and ">g<" not in page  # the group by its name, escaped
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


# -- minted grants (leitai grant mint): looked up through registration, kept a little while -----
class Lookups:
    """A fake of registration's grant_holder: the grants it knows, by digest, and every call."""

    def __init__(self, known=None):
        self.known = dict(known or {})
        self.calls = []

    def __call__(self, digest):
        self.calls.append(digest)
        return self.known.get(digest)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def minted(n=0):
    from leitai.grants import new_token

    return new_token() if n is None else "lt_" + f"{n:043d}"


def digest_hex(token):
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


JUDGE_GRANT = {"role": JUDGE, "id": "J1", "contest": "c", "grant_id": "grant-0123456789ab"}


def test_the_token_registration_mints_is_the_form_the_gateway_looks_up():
    from leitai.grants import MINTED_TOKEN

    tokens = {minted(None) for _ in range(50)}
    assert len(tokens) == 50 and all(MINTED_TOKEN.fullmatch(t) for t in tokens)


def test_a_minted_token_is_looked_up_by_its_digest_and_its_answer_kept_for_the_cache_s():
    clock, token = Clock(), minted(1)
    lookup = Lookups({digest_hex(token): JUDGE_GRANT})
    auth = Authenticator(TOKENS, cache_s=10, clock=clock)
    assert auth.actor(f"Bearer {token}", lookup) == JUDGE_GRANT
    assert lookup.calls == [digest_hex(token)]  # the digest, never the token, goes to registration
    clock.now += 9.9
    assert auth.actor(f"Bearer {token}", lookup) == JUDGE_GRANT and len(lookup.calls) == 1
    # revoked meanwhile: seen once the answer kept runs out
    lookup.known.clear()
    clock.now += 0.1
    assert auth.actor(f"Bearer {token}", lookup) is None and len(lookup.calls) == 2
    # a token not found is kept as such too: made-up tokens sent again cost no look-up
    assert auth.actor(f"Bearer {token}", lookup) is None and len(lookup.calls) == 2
    clock.now += 10
    lookup.known[digest_hex(token)] = JUDGE_GRANT
    assert auth.actor(f"Bearer {token}", lookup) == JUDGE_GRANT and len(lookup.calls) == 3


def test_a_cache_of_zero_looks_a_minted_token_up_on_every_request():
    token = minted(2)
    lookup = Lookups({digest_hex(token): JUDGE_GRANT})
    auth = Authenticator(TOKENS, cache_s=0)
    assert [auth.actor(f"Bearer {token}", lookup)["id"] for _ in range(3)] == ["J1"] * 3
    assert len(lookup.calls) == 3 and len(auth.minted) == 0
    lookup.known.clear()
    assert auth.actor(f"Bearer {token}", lookup) is None


def test_only_a_well_formed_minted_token_that_is_not_configured_is_ever_looked_up():
    configured = "lt_" + "c" * 43  # a configured token of the minted form: configuration wins
    lookup = Lookups()
    auth = Authenticator({configured: {"role": ORGANISER, "id": "org2", "deployment": True}, **TOKENS}, cache_s=10)
    assert auth.actor(f"Bearer {configured}", lookup)["id"] == "org2"
    assert auth.actor(f"Bearer {'o' * 16}", lookup)["id"] == "org1"
    for other in ("x" * 46, "lt_short", "lt_" + "a" * 44, "lt_" + "!" * 43, "LT_" + "a" * 43):
        assert auth.actor(f"Bearer {other}", lookup) is None
    assert lookup.calls == []
    assert auth.actor(f"Bearer {minted(3)}") is None  # no look-up given (the stream's header): not ours
    assert lookup.calls == []


def test_a_failed_look_up_is_not_kept_and_the_next_request_asks_again():
    token = minted(4)
    answers = [Unavailable("the store is not answering"), JUDGE_GRANT]

    def lookup(digest):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    auth = Authenticator(TOKENS, cache_s=10)
    with pytest.raises(Unavailable):
        auth.actor(f"Bearer {token}", lookup)
    assert auth.actor(f"Bearer {token}", lookup) == JUDGE_GRANT and answers == []


def test_the_cache_is_bounded_and_a_flood_of_unknown_tokens_never_pushes_out_a_grant_found():
    from services.gateway.auth import GrantCache

    clock = Clock()
    cache = GrantCache(10, found_size=3, unknown_size=5, clock=clock)
    cache.put(b"judge", JUDGE_GRANT)
    for n in range(1000):
        cache.put(f"unknown-{n}".encode(), None)
    assert len(cache) == 1 + 5
    assert cache.get(b"judge") == (True, JUDGE_GRANT)
    assert cache.get(b"unknown-999") == (True, None) and cache.get(b"unknown-0") == (False, None)
    for n in range(4):
        cache.put(f"grant-{n}".encode(), dict(JUDGE_GRANT, id=f"J{n}"))
    assert cache.get(b"judge") == (False, None)  # the oldest grant found goes first
    assert [cache.get(f"grant-{n}".encode())[0] for n in range(4)] == [False, True, True, True]
    clock.now += 10
    assert cache.get(b"grant-3") == (False, None) and cache.get(b"unknown-999") == (False, None)


def test_an_unknown_minted_token_costs_the_callers_address_a_request_before_any_look_up():
    from leitai.errors import RateLimited
    from services.gateway.auth import GatewaySettings

    lookup = Lookups()
    settings = GatewaySettings(Authenticator(TOKENS, cache_s=10), 5, {"per_second": 0.001, "burst": 3})
    flood = [minted(100 + n) for n in range(5)]
    for token in flood[:3]:
        assert settings.identify(f"Bearer {token}", "203.0.113.9", lookup) is None
    assert len(lookup.calls) == 3
    with pytest.raises(RateLimited):  # the address has spent its burst: no fourth RPC
        settings.identify(f"Bearer {flood[3]}", "203.0.113.9", lookup)
    assert len(lookup.calls) == 3
    # another address is not held up; one already answered (kept) costs nothing and no RPC
    assert settings.identify(f"Bearer {flood[4]}", "198.51.100.7", lookup) is None
    assert settings.identify(f"Bearer {flood[0]}", "203.0.113.9", lookup) is None
    assert len(lookup.calls) == 4
    # a grant found and kept: its holder's own requests cost the address nothing more
    token = minted(200)
    lookup.known[digest_hex(token)] = JUDGE_GRANT
    assert settings.identify(f"Bearer {token}", "198.51.100.7", lookup) == JUDGE_GRANT
    for _ in range(5):
        assert settings.identify(f"Bearer {token}", "198.51.100.7", lookup) == JUDGE_GRANT
    assert len(lookup.calls) == 5


def test_a_look_up_registration_does_not_answer_is_a_503_within_the_requests_deadline():
    import time

    from eventlet.event import Event

    from services.gateway.auth import GatewaySettings

    never = Event()  # registration is down: nameko's RPC would wait for ever

    def lookup(digest):
        return never.wait()

    settings = GatewaySettings(Authenticator(TOKENS, cache_s=10), 0.2, {"per_second": 100, "burst": 100})
    started = time.monotonic()
    with pytest.raises(Unavailable, match="could not be looked up within 0.2 s"):
        settings.identify(f"Bearer {minted(5)}", "203.0.113.9", lookup)
    assert 0.2 <= time.monotonic() - started < 1.0
    assert len(settings.authenticator.minted) == 0


@pytest.mark.parametrize("value, problem", [(-1, "greater than or equal to 0"), ("soon", "Not a valid number")])
def test_the_grant_cache_setting_defaults_to_ten_seconds_allows_none_and_names_itself_when_wrong(value, problem):
    from leitai.config import ConfigurationError
    from services.gateway.settings import load

    config = {
        "AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/",
        "LEITAI_ENVIRONMENT": "test",
        "LEITAI_TOKENS": {"o" * 16: {"role": ORGANISER, "id": "org1", "deployment": True}},
    }
    assert load(config)["LEITAI_GRANT_CACHE_S"] == 10
    assert load(dict(config, LEITAI_GRANT_CACHE_S="0"))["LEITAI_GRANT_CACHE_S"] == 0
    with pytest.raises(ConfigurationError, match=f"LEITAI_GRANT_CACHE_S: .*{problem}"):
        load(dict(config, LEITAI_GRANT_CACHE_S=value))


def test_the_request_id_is_the_gateways_own_whatever_the_client_sends():
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from services.gateway.http import new_request_id

    chosen = "someone-elses-request-id"
    request = Request(EnvironBuilder(headers={"X-Request-Id": chosen}).get_environ())
    minted = {new_request_id(request) for _ in range(3)}
    assert chosen not in minted and len(minted) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", m) for m in minted)


def test_an_unexpected_error_is_a_500_with_the_request_id_and_nothing_of_the_error(caplog):
    """A bug or an outage nobody mapped: the client gets "internal error" and the request id,
    never the exception's words; the log has the traceback under the same id."""
    from nameko.testing.services import worker_factory
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from services.gateway.auth import GatewaySettings
    from services.gateway.service import GatewayService

    gateway = worker_factory(GatewayService)
    gateway.settings = GatewaySettings(Authenticator(TOKENS), 5, {"per_second": 100, "burst": 100})
    gateway.registration.get_regions.side_effect = RuntimeError("the secret inner workings")
    request = Request(EnvironBuilder(path="/regions/boai").get_environ())
    with caplog.at_level("ERROR"):
        response = GatewayService.get_regions(gateway, request, tree_id="boai")
    body = json.loads(response.get_data())
    assert response.status_code == 500 and body["error"]["code"] == "internal"
    assert body["error"]["message"] == "系统内部错误" and "secret" not in response.get_data(as_text=True)
    assert body["error"]["message_id"] == "internal error"
    [record] = [r for r in caplog.records if r.getMessage() == "failed"]
    assert record.request_id == body["error"]["request_id"] and "the secret inner workings" in caplog.text


def test_an_idempotency_key_is_the_grant_holders_within_its_scope():
    """org1 of county A and org1 of county B (ids are not identities) never share a key."""
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    import services.gateway.service  # noqa: F401  (its endpoints fill ROUTES)
    from services.gateway.http import ROUTES, idempotency

    route = next(r for r in ROUTES if r.name == "create_contest")
    request = Request(EnvironBuilder(method="POST", headers={"Idempotency-Key": "k-1"}).get_environ())
    keys = {
        idempotency(route, request, {"role": ORGANISER, "id": "org1", **scope}, {}, {})["key"]
        for scope in ({"office": "a"}, {"office": "b"}, {"contest": "a"}, {"deployment": True})
    }
    assert len(keys) == 4


def test_a_tree_size_past_what_a_store_can_hold_is_a_400_not_a_500():
    from marshmallow import ValidationError
    from nameko.testing.services import worker_factory
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from services.gateway.auth import GatewaySettings
    from services.gateway.schemas import CheckpointQuery
    from services.gateway.service import GatewayService

    with pytest.raises(ValidationError):
        CheckpointQuery().load({"after": "99999999999999999999999"})
    gateway = worker_factory(GatewayService)
    gateway.settings = GatewaySettings(Authenticator(TOKENS), 5, {"per_second": 100, "burst": 100})
    big = "99999999999999999999999999999"
    response = GatewayService.checkpoint(
        gateway, Request(EnvironBuilder(path=f"/logs/scoring/checkpoints/{big}").get_environ()), log="scoring", size=big
    )
    assert response.status_code == 400 and not gateway.scoring.checkpoint.called


def test_a_flood_of_made_up_tokens_from_a_halls_address_never_holds_its_judges_back():
    """The judges share the hall's address with the flood: once found, a judge's grant is
    looked up again (its cache entry gone) without paying for it."""
    from services.gateway.auth import GatewaySettings

    clock, lookup = Clock(), Lookups()
    judge = minted(300)
    lookup.known[digest_hex(judge)] = JUDGE_GRANT
    settings = GatewaySettings(Authenticator(TOKENS, cache_s=10, clock=clock), 5, {"per_second": 0.001, "burst": 2})
    hall = "203.0.113.50"
    assert settings.identify(f"Bearer {judge}", hall, lookup) == JUDGE_GRANT  # paid once, found
    settings.identify(f"Bearer {minted(400)}", hall, lookup)  # the flood spends what is left of the burst
    clock.now += 11  # the judge's cache entry is gone
    assert settings.identify(f"Bearer {judge}", hall, lookup) == JUDGE_GRANT
    assert lookup.calls.count(digest_hex(judge)) == 2

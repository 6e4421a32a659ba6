"""What one client may take of the gateway: whose address X-Forwarded-For may name, how many
requests of one client wait for writes at once, how many live streams it holds open, what the
settings require; every route but liveness rate-limited; the OpenAPI document built once; one
poller per stage, however many screens watch it."""

from __future__ import annotations

import ipaddress

import eventlet
import pytest

from leitai import consistency, metrics
from leitai.errors import InvalidInput, RateLimited
from leitai.ratelimit import Concurrency
from leitai.roles import JUDGE, ORGANISER, PUBLIC, SCREEN
from services.gateway import live
from services.gateway.auth import Authenticator, GatewaySettings
from services.gateway.http import ROUTES, forwarded_client

PROXIES = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "fd00::/8")]
TOKENS = {"o" * 16: {"role": ORGANISER, "id": "org1", "office": "boai"}}


# -- X-Forwarded-For, believed from a trusted proxy only ------------------------------------
@pytest.mark.parametrize(
    "peer, forwarded, trusted, client",
    [
        # nobody trusted (the default): the header is anyone's to write, the connection is the client
        ("203.0.113.9", ["1.2.3.4"], [], "203.0.113.9"),
        ("10.0.0.5", ["1.2.3.4"], [], "10.0.0.5"),
        # a caller that is no trusted proxy names whatever it likes: not believed
        ("203.0.113.9", ["1.2.3.4"], PROXIES, "203.0.113.9"),
        # through the ingress: what it saw connect, the right-most address that is no proxy of ours
        ("10.0.0.5", ["198.51.100.7"], PROXIES, "198.51.100.7"),
        ("10.0.0.5", ["6.6.6.6, 198.51.100.7"], PROXIES, "198.51.100.7"),  # the left one the client wrote
        ("10.0.0.5", ["6.6.6.6, 198.51.100.7, 10.1.2.3"], PROXIES, "198.51.100.7"),  # two proxies of ours
        ("10.0.0.5", ["6.6.6.6", "198.51.100.7, 10.1.2.3"], PROXIES, "198.51.100.7"),  # as two headers
        ("10.0.0.5", ["10.9.9.9, 10.1.2.3"], PROXIES, "10.9.9.9"),  # every hop ours: the farthest
        ("10.0.0.5", [], PROXIES, "10.0.0.5"),  # no header: the proxy itself
        ("10.0.0.5", [" , "], PROXIES, "10.0.0.5"),
        # as proxies write them: with ports, IPv6 in brackets, IPv4 mapped into IPv6
        ("10.0.0.5", ["198.51.100.7:51234"], PROXIES, "198.51.100.7"),
        ("10.0.0.5", ["[2001:db8::7]:443"], PROXIES, "2001:db8::7"),
        ("fd00::1", ["2001:db8::7"], PROXIES, "2001:db8::7"),
        ("::ffff:10.0.0.5", ["198.51.100.7"], PROXIES, "198.51.100.7"),
        ("10.0.0.5", ["::ffff:10.2.2.2, 198.51.100.7, ::ffff:10.3.3.3"], PROXIES, "198.51.100.7"),
        # what is no address at all is the client's word for itself: it is who the limit counts
        ("10.0.0.5", ["1.2.3.4, unknown"], PROXIES, "unknown"),
        (None, ["1.2.3.4"], PROXIES, None),
    ],
)
def test_the_client_is_the_right_most_address_no_trusted_proxy_wrote(peer, forwarded, trusted, client):
    assert forwarded_client(peer, forwarded, trusted) == client


def test_trusted_proxies_are_a_setting_of_cidrs_none_by_default():
    from marshmallow import ValidationError

    from services.gateway.settings import GatewaySettingsSchema

    schema = GatewaySettingsSchema()
    assert schema.load({"LEITAI_TOKENS": TOKENS})["LEITAI_TRUSTED_PROXIES"] == []
    assert schema.load({"LEITAI_TOKENS": TOKENS, "LEITAI_TRUSTED_PROXIES": None})["LEITAI_TRUSTED_PROXIES"] == []
    loaded = schema.load({"LEITAI_TOKENS": TOKENS, "LEITAI_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8 192.0.2.1"})
    assert loaded["LEITAI_TRUSTED_PROXIES"] == [*PROXIES, ipaddress.ip_network("192.0.2.1/32")]
    assert schema.load({"LEITAI_TOKENS": TOKENS, "LEITAI_TRUSTED_PROXIES": ["10.0.0.0/8"]})
    with pytest.raises(ValidationError, match="LEITAI_TRUSTED_PROXIES"):
        schema.load({"LEITAI_TOKENS": TOKENS, "LEITAI_TRUSTED_PROXIES": "10.0.0.0/33"})


# -- the settings: a shared key in production, the pool and the limits explicit ------------------
def test_production_requires_a_shared_key_to_seal_tokens_and_elsewhere_a_process_makes_its_own():
    from leitai.config import ConfigurationError
    from services.gateway.settings import load

    config = {"AMQP_URI": "amqp://leitai:secret@broker:5672/", "LEITAI_TOKENS": TOKENS}
    with pytest.raises(ConfigurationError, match="LEITAI_CONSISTENCY_KEY"):
        load(config)
    with pytest.raises(ConfigurationError, match="LEITAI_CONSISTENCY_KEY"):
        load(dict(config, LEITAI_CONSISTENCY_KEY="too short"))
    loaded = load(dict(config, LEITAI_CONSISTENCY_KEY="k" * 64))
    assert loaded["max_workers"] == 10 and loaded["LEITAI_STREAMS_PER_CLIENT"] == 4
    assert loaded["LEITAI_READ_YOUR_WRITES"] == {"token_ttl_s": 900, "wait_s": 5.0, "waits_per_client": 2}
    assert not load(dict(config, LEITAI_ENVIRONMENT="development"))["LEITAI_CONSISTENCY_KEY"]
    with pytest.raises(ConfigurationError, match="max_workers"):
        load(dict(config, LEITAI_CONSISTENCY_KEY="k" * 64, max_workers=0))


def test_only_the_public_gateway_may_run_without_tokens_and_a_sealing_key():
    from leitai.config import ConfigurationError
    from services.gateway.settings import load

    config = {"AMQP_URI": "amqp://leitai:secret@broker:5672/", "LEITAI_TOKENS": {}}
    assert load(dict(config, LEITAI_GATEWAY_EDGE="public"))["LEITAI_GATEWAY_EDGE"] == "public"
    for edge in ("internal", "all"):  # nobody could sign in
        with pytest.raises(ConfigurationError, match="LEITAI_TOKENS"):
            load(dict(config, LEITAI_GATEWAY_EDGE=edge, LEITAI_CONSISTENCY_KEY="k" * 64))
    with pytest.raises(ConfigurationError, match="LEITAI_GATEWAY_EDGE"):
        load(dict(config, LEITAI_GATEWAY_EDGE="outside"))


def test_tokens_handed_out_are_sealed_and_only_this_gateways_are_taken_back():
    settings = GatewaySettings(Authenticator(TOKENS), 30, {"per_second": 1, "burst": 1})
    lock = consistency.Written.of("session:s1", 4, ["SessionLocked"]).encode()
    (sealed,) = settings.sealed([lock])
    assert settings.after(sealed) == lock and settings.after(None) is None
    another = GatewaySettings(Authenticator(TOKENS), 30, {"per_second": 1, "burst": 1})  # a key of its own
    with pytest.raises(InvalidInput, match="Leitai-After"):
        another.after(sealed)
    with pytest.raises(InvalidInput, match="Leitai-After"):
        settings.after(lock)  # the unsealed token: what a forger can make


# -- what one client may hold at once --------------------------------------------------------
def test_the_cap_counts_each_key_apart_and_forgets_a_key_holding_none():
    cap = Concurrency(2)
    assert cap.enter("a") and cap.enter("a") and not cap.enter("a")
    assert cap.enter("b") and len(cap) == 3
    cap.leave("a")
    assert cap.held("a") == 1 and cap.enter("a") and not cap.enter("a")
    for _ in range(3):
        cap.leave("a")  # one too many: still none, never below
    cap.leave("b")
    assert len(cap) == 0 and cap._held == {}


def test_a_token_holder_waits_for_its_writes_in_two_requests_at_once_and_a_caller_without_a_token_never():
    settings = GatewaySettings(
        Authenticator(TOKENS),
        30,
        {"per_second": 1, "burst": 1},
        read_your_writes={"token_ttl_s": 60, "wait_s": 4.0, "waits_per_client": 2},
    )
    judge, other = {"role": JUDGE, "id": "J1"}, {"role": JUDGE, "id": "J2"}
    with settings.waiting(judge, "1.1.1.1") as first, settings.waiting(judge, "2.2.2.2") as second:
        with settings.waiting(judge, "1.1.1.1") as third, settings.waiting(other, "1.1.1.1") as others:
            assert (first, second, third, others) == (4.0, 4.0, 0.0, 4.0)
    with settings.waiting(judge, "1.1.1.1") as again:
        assert again == 4.0  # given back when each ended
    assert len(settings.waits) == 0
    for anonymous in (None, {"role": PUBLIC, "id": PUBLIC}):
        with settings.waiting(anonymous, "1.1.1.1") as waits:
            assert waits == 0.0


def test_a_client_holds_at_most_its_streams_and_a_stream_closed_twice_is_given_back_once():
    settings = GatewaySettings(Authenticator(TOKENS), 30, {"per_second": 1, "burst": 1}, streams_per_client=2)
    screen = {"role": SCREEN, "id": "hall"}
    first, second = settings.hold_stream(screen, "1.1.1.1"), settings.hold_stream(screen, "2.2.2.2")
    with pytest.raises(RateLimited, match="2 live streams"):
        settings.hold_stream(screen, "1.1.1.1")
    settings.hold_stream({"role": SCREEN, "id": "annex"}, "1.1.1.1")  # another client
    first()
    first()
    third = settings.hold_stream(screen, "1.1.1.1")
    with pytest.raises(RateLimited):
        settings.hold_stream(screen, "1.1.1.1")
    second()
    third()
    assert settings.streams.held(("screen", "hall")) == 0


def test_every_route_is_rate_limited_but_liveness():
    import services.gateway.service  # noqa: F401 - declares the routes

    free = sorted(r.path for r in ROUTES if 429 not in r.errors)
    assert free == ["/health/live"]


def test_the_openapi_document_is_built_once_per_process():
    import services.gateway.service  # noqa: F401 - declares the routes
    from services.gateway.openapi import build_document, document

    assert document() is document()
    assert document() == build_document()


# -- the big screen: one poller per stage --------------------------------------------------------
class Ranking:
    """A stand-in for ranking.live: counts what it is asked, answers ``state``."""

    def __init__(self) -> None:
        self.state: dict | Exception = {"n": 1}
        self.asked = 0
        self.closed = 0

    def live(self, contest_id: str, stage_id: str) -> dict:
        self.asked += 1
        if isinstance(self.state, Exception):
            raise self.state
        return dict(self.state, stage=stage_id)

    def close(self) -> None:
        self.closed += 1


def data(state: dict) -> bytes:
    import json

    return f"data: {json.dumps(state, sort_keys=True)}\n\n".encode()


def test_every_stream_of_a_stage_is_fed_by_one_poller_which_stops_with_the_last():
    made: list[Ranking] = []

    def source() -> Ranking:
        made.append(Ranking())
        return made[-1]

    boards = live.Boards(source, poll_s=0.001, keepalive_s=5)
    released: list[str] = []
    open_before = metrics.GATEWAY_LIVE_STREAMS._value.get()
    streams = [boards.stream("c", "prelim", lambda n=n: released.append(n)) for n in range(3)]
    assert [next(s) for s in streams] == [data({"n": 1, "stage": "prelim"})] * 3
    assert len(made) == 1 and list(boards.boards) == [("c", "prelim")]  # one source, one poller
    assert metrics.GATEWAY_LIVE_STREAMS._value.get() == open_before + 3

    made[0].state = {"n": 2}
    assert [next(s) for s in streams] == [data({"n": 2, "stage": "prelim"})] * 3

    final = boards.stream("c", "final")
    assert next(final) == data({"n": 1, "stage": "final"}) and len(made) == 2  # another stage, its own

    board = boards.boards[("c", "prelim")]
    for stream in streams:
        stream.close()
        stream.close()  # the server may close twice: given back once
    assert sorted(released) == [0, 1, 2]
    board.thread.wait()  # the poller ends with its last stream
    assert ("c", "prelim") not in boards.boards and made[0].closed == 1
    assert list(boards.boards) == [("c", "final")]
    assert next(streams[0], None) is None  # a closed stream ends
    other = boards.boards[("c", "final")]
    final.close()
    other.thread.wait()
    assert boards.boards == {} and metrics.GATEWAY_LIVE_STREAMS._value.get() == open_before

    again = boards.stream("c", "prelim")  # watched again: a new poller
    assert next(again) == data({"n": 1, "stage": "prelim"}) and len(made) == 3
    again.close()
    boards.stop()


def test_a_stream_whose_source_fails_keeps_its_connection_with_keep_alives():
    failing = Ranking()
    failing.state = TimeoutError("no answer within the poll's deadline")
    boards = live.Boards(lambda: failing, poll_s=0.001, keepalive_s=0.01)
    stream = boards.stream("c", "prelim")
    assert next(stream) == b": keep-alive\n\n"
    asked = failing.asked
    failing.state = {"n": 7}
    assert next(stream) == data({"n": 7, "stage": "prelim"}) and failing.asked > asked  # polled on, recovered
    stream.close()
    boards.stop()
    eventlet.sleep(0)

"""The internal and the public gateway: one image, one command, two route sets
(LEITAI_GATEWAY_EDGE). Each is started beside the running stack and every route of the product
is called on it: its own answer as routes do (with a request id), the other's are no route there
(nameko's 404 or 405, no request id), and its OpenAPI document lists exactly its own."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
import yaml

from services.gateway import service  # noqa: F401 - declares the routes into ROUTES
from services.gateway.http import ROUTES, serves
from services.gateway.settings import INTERNAL_EDGE, PUBLIC_EDGE
from testkit.servers import ChildProcess, wait_until
from testkit.stack import BIN, ORGANISER_TOKEN

# the one @http entrypoint that is no endpoint (a stream that does not end): internal
LIVE_STREAM = ("GET", "/live/<string:contest_id>/<string:stage_id>/events", "live_events")


@pytest.fixture(scope="module")
def gateways(stack, tmp_path_factory):
    """{edge: base URL} of a gateway of each edge, on the stack's broker and services."""
    folder = tmp_path_factory.mktemp("edges")
    base = yaml.safe_load(stack.config_path("gateway").read_text())
    started, children = {}, []
    for edge in (INTERNAL_EDGE, PUBLIC_EDGE):
        port = stack.free_port()
        config = dict(
            base,
            WEB_SERVER_ADDRESS=f"127.0.0.1:{port}",
            LEITAI_OPS_PORT=0,
            LEITAI_GATEWAY_EDGE=edge,
            # the public gateway holds no token: none of its routes takes one
            LEITAI_TOKENS=base["LEITAI_TOKENS"] if edge == INTERNAL_EDGE else {},
        )
        path = folder / f"gateway-{edge}.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        command = [str(BIN / "nameko"), "run", "--config", str(path), "services.gateway.service:GatewayService"]
        children.append(ChildProcess(command, name=f"gateway-{edge}").start())
        started[edge] = f"http://127.0.0.1:{port}"
    try:
        for edge, url in started.items():
            wait_until(lambda url=url: listening(url), timeout=60, what=f"the {edge} gateway to listen")
        yield started
    finally:
        for child in children:
            child.stop()


def listening(base: str) -> bool:
    try:
        return call(base, "GET", "/health/live")[0] == 200
    except OSError:
        return False


def call(base: str, method: str, path: str, token: str | None = None) -> tuple[int, dict | str, dict]:
    data = b"{}" if method in ("POST", "PUT", "DELETE") else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, payload, headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, payload, headers = error.code, error.read(), dict(error.headers)
    try:
        return status, json.loads(payload), headers
    except ValueError:
        return status, payload.decode(errors="replace"), headers


def concrete(rule: str) -> str:
    """A path of the rule: each parameter a valid id no contest has."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: f"{m.group(1).replace('_', '-')}-x", rule)


def there(answer: tuple[int, dict | str, dict]) -> bool:
    """A route answered (whatever it said: every answer of a route carries its request id), as
    opposed to nameko's own 404 or 405 for a path or method no route of this gateway has."""
    status, body, _ = answer
    unrouted = status in (404, 405) and isinstance(body, dict) and "request_id" not in body.get("error", {})
    return not unrouted


def every_route() -> list[tuple[str, str, str]]:
    return [(r.method, r.rule, r.name) for r in ROUTES] + [LIVE_STREAM]


@pytest.mark.parametrize("edge", [INTERNAL_EDGE, PUBLIC_EDGE])
def test_each_gateway_serves_its_own_routes_and_none_of_the_others(gateways, edge):
    token = ORGANISER_TOKEN if edge == INTERNAL_EDGE else None
    wrong = []
    for method, rule, name in every_route():
        answer = call(gateways[edge], method, concrete(rule), token)
        if there(answer) != serves(edge, name):
            wrong.append(f"{method} {rule}: {answer[0]} {answer[1]}"[:300])
    assert not wrong, wrong
    served = {(m, r) for m, r, n in every_route() if serves(edge, n)}
    others = {(m, r) for m, r, n in every_route() if serves(PUBLIC_EDGE if edge == INTERNAL_EDGE else INTERNAL_EDGE, n)}
    assert served - others and others - served  # each has routes of its own


def test_the_public_gateway_only_reads_and_its_document_lists_only_its_routes(gateways):
    public = [(m, r) for m, r, n in every_route() if serves(PUBLIC_EDGE, n)]
    assert {m for m, _ in public} == {"GET"}
    for edge, url in gateways.items():
        status, document, _ = call(url, "GET", "/openapi.json")
        assert status == 200
        listed = {(m.upper(), p) for p, operations in document["paths"].items() for m in operations}
        assert listed == {(r.method, r.path) for r in ROUTES if serves(edge, r.name)}


def test_what_the_public_gateway_answers_anyone_may_be_cached_a_minute(gateways):
    status, _, headers = call(gateways[PUBLIC_EDGE], "GET", "/logs/registration/checkpoints")
    assert (status, headers["Cache-Control"]) == (200, "public, max-age=60")
    status, _, headers = call(gateways[PUBLIC_EDGE], "GET", "/logs/nothing/checkpoints")
    assert (status, headers["Cache-Control"]) == (404, "no-store")  # an error: no cache keeps it

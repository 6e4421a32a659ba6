"""The gateway's HTTP plumbing: one decorator per endpoint, one table of error codes.

``@endpoint`` registers the nameko @http entrypoint and the route's contract (its action,
body and response schemas, status) from which both request handling and the OpenAPI document
are derived, so the two cannot drift apart. Who may call a route comes from its action's
declaration in leitai/access.py, the table the services check the same action against.

Every answer of the gateway, whichever route gave it (or none: nameko's own 404 and 405), leaves
through one place, ``secure_app``, which gives it ``SECURITY_HEADERS`` (a Content-Security-Policy
that allows no inline script or style) and ``Cache-Control: no-store`` when it answers a request
that carried a credential, or is an error. Endpoints are nameko's @http entrypoints served by a
web server that wraps its WSGI application so: ``http`` here, which the gateway uses for all of them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any
from urllib.parse import parse_qs

from marshmallow import Schema, ValidationError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response

from leitai.access import ACTIONS, scope_key
from leitai.consistency import WRITTEN_HEADER
from leitai.contracts.fields import ID_ERROR, ID_PATTERN
from leitai.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    RuleViolated,
    Unavailable,
)
from leitai.i18n import DEFAULT_LANGUAGE, Languages, Translator, catalogues
from leitai.messages import N_, Said, text
from leitai.roles import PUBLIC
from services.gateway import accesslog
from services.gateway.auth import Unauthorized
from services.gateway.settings import ALL_EDGES, INTERNAL_EDGE, PUBLIC_EDGE

log = logging.getLogger(__name__)


# The one table from domain errors to HTTP, looked up by class hierarchy: a new subclass
# answers as its nearest listed ancestor does.
ERROR_STATUS: dict[type[DomainError], tuple[int, str]] = {
    DomainError: (422, "refused"),
    InvalidInput: (400, "invalid_input"),
    Unauthorized: (401, "unauthorized"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    RuleViolated: (422, "rule_violated"),
    RateLimited: (429, "rate_limited"),
    Unavailable: (503, "unavailable"),
}
_PATH_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
MAX_BODY_BYTES = 4 * 1024 * 1024
RETRY_AFTER_S = 2  # a region tree of a big county as CSV fits many times over

# What every answer carries (OWASP secure headers). The pages (static/) load their scripts and
# style sheets from /pages/ and talk to the API and the live stream on the same origin; nothing
# inline, no frames, no plug-ins, no other origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",  # fetch to the API, EventSource to the live stream
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # no page's address leaves with its links
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that do not know it
}
PRIVATE = "no-store"  # an answer to someone with a credential, or an error: no cache keeps it


def carries_credential(environ: dict) -> bool:
    """A token in the Authorization header, the big screen's ticket in a cookie (its stream:
    EventSource sends no headers; tickets.py), or a token in the query string (refused, 400)."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    return bool(environ.get("HTTP_AUTHORIZATION") or environ.get("HTTP_COOKIE")) or "token" in query


def secure_headers(environ: dict, status: int, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` of an answer with ``status`` to the request ``environ``, secured: the
    security headers always, whatever the route set; no-store for a credential's or an error's."""
    private = status >= 400 or carries_credential(environ)
    replaced = {name.lower() for name in SECURITY_HEADERS} | ({"cache-control"} if private else set())
    kept = [(name, value) for name, value in headers if name.lower() not in replaced]
    if not private and not any(name.lower() == "cache-control" for name, _ in kept):
        kept.append(("Vary", "Authorization"))  # a cache keeps the public answer apart from a token holder's
    return kept + list(SECURITY_HEADERS.items()) + ([("Cache-Control", PRIVATE)] if private else [])


NO_SUCH_ADDRESS = N_("there is no such address here")
NOT_THIS_WAY = N_("this address does not take this method")


def secure_app(app: Callable, languages: Languages) -> Callable:
    """The WSGI application ``app``, each of its answers through ``secure_headers``; werkzeug's
    own English HTML page for a path no route has (404) or a method it does not take (405)
    replaced by the API's error body, in the reader's language (``languages``: the deployment's,
    as every other error is said)."""

    def secured(environ, start_response):
        plain: list[int] = []

        def start(status, headers, exc_info=None):
            code = int(status.split()[0])
            html = any(n.lower() == "content-type" and v.startswith("text/html") for n, v in headers)
            if code in (404, 405) and html:  # no route of ours answered: werkzeug's default page
                plain.append(code)
                return lambda data: None
            return start_response(status, secure_headers(environ, code, headers), exc_info)

        answer = app(environ, start)
        if not plain:
            return answer
        if hasattr(answer, "close"):
            answer.close()
        accepted = [value for value, _ in parse_accept_header(environ.get("HTTP_ACCEPT_LANGUAGE", ""))]
        message = languages.for_request(accepted).message(NO_SUCH_ADDRESS if plain[0] == 404 else NOT_THIS_WAY)
        code = "not_found" if plain[0] == 404 else "method_not_allowed"
        body = json.dumps({"error": {"code": code, "message": message, "fields": None}}, ensure_ascii=False).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        reason = "404 NOT FOUND" if plain[0] == 404 else "405 METHOD NOT ALLOWED"
        start_response(reason, secure_headers(environ, plain[0], headers))
        return [body]

    return secured


class SecureWebServer(WebServer):
    """nameko's web server (a SharedExtension, one per container): its WSGI application secured,
    its access log without credentials (accesslog.py)."""

    def get_wsgi_app(self):
        # LEITAI_LANGUAGE was checked at start-up with the gateway's other settings (settings.py)
        default = self.container.config.get("LEITAI_LANGUAGE") or DEFAULT_LANGUAGE
        return secure_app(super().get_wsgi_app(), Languages(catalogues(), default))

    def get_wsgi_server(self, sock, wsgi_app, protocol=None, debug=False):
        return accesslog.server(sock, wsgi_app)


# A route of another gateway's edge (settings.py: EDGES) is no route at all in this one: nameko's
# 404, answered as every path no route has.
PUBLIC_CACHE = "public, max-age=60"  # a published result may be corrected: a minute, no more


def serves(edge: str, entrypoint: str) -> bool:
    """Whether the gateway of ``edge`` serves the entrypoint named ``entrypoint`` (an endpoint's
    route, or an @http entrypoint of its own: the live stream, internal)."""
    edges = next((route.edges for route in ROUTES if route.name == entrypoint), (INTERNAL_EDGE,))
    return edge == ALL_EDGES or edge in edges


class SecureHttp(HttpRequestHandler):
    server = SecureWebServer()

    def setup(self):
        # LEITAI_GATEWAY_EDGE was checked at start-up with the gateway's other settings
        if serves(self.container.config.get("LEITAI_GATEWAY_EDGE") or ALL_EDGES, self.method_name):
            super().setup()


http = SecureHttp.decorator  # every entrypoint of the gateway: two web servers would share one port


@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # werkzeug rule, e.g. /contests/<string:contest_id>
    name: str
    summary: str
    roles: tuple[str, ...]  # its action's (leitai/access.py), or (PUBLIC,)
    body: type[Schema] | None = None  # a JSON body, or for GET routes: the query string
    response: type[Schema] | None = None
    status: int = 200
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404, 409, 422, 429, 503))
    media_type: str = "application/json"  # otherwise the handler returns the body as bytes
    action: str | None = None  # what it does, as leitai/access.py declares it; None: public
    edges: tuple[str, ...] = (INTERNAL_EDGE,)  # the gateways that serve it (INTERNAL, PUBLIC_EDGE)

    @property
    def to(self) -> str:
        """What a refused caller tried to do: "only an organiser may <to>"."""
        return ACTIONS[self.action].to if self.action else f"{self.summary[0].lower()}{self.summary[1:]}"

    @property
    def path(self) -> str:
        return _PATH_PARAM.sub(r"{\1}", self.rule)

    @property
    def params(self) -> list[str]:
        return _PATH_PARAM.findall(self.rule)


ROUTES: list[Route] = []


def endpoint(
    method: str,
    rule: str,
    *,
    summary: str,
    action: str | None = None,
    roles: set[str] | None = None,
    body: type[Schema] | None = None,
    response: type[Schema] | None = None,
    status: int = 200,
    errors: tuple[int, ...] | None = None,
    media_type: str = "application/json",
    edges: tuple[str, ...] = (INTERNAL_EDGE,),
):
    """``action``: what the route does, a name in leitai/access.py's table, which says who may
    (the services check the same name); a route anyone may call says ``roles={PUBLIC}`` instead.
    ``edges``: the gateways that serve it; the public one only reads, for anyone."""
    if (action is None) == (roles is None) or (roles is not None and set(roles) != {PUBLIC}):
        raise TypeError(f"{method} {rule}: give action= (leitai/access.py), or roles={{PUBLIC}} for a public route")
    if PUBLIC_EDGE in edges and (method != "GET" or action is not None):
        raise TypeError(f"{method} {rule}: the public gateway serves only GET routes anyone may call")

    def decorate(fn: Callable) -> Callable:
        route = Route(
            method,
            rule,
            fn.__name__,
            summary,
            ACTIONS[action].roles if action is not None else (PUBLIC,),
            body,
            response,
            status,
            **({"errors": errors} if errors is not None else {}),
            media_type=media_type,
            action=action,
            edges=edges,
        )
        ROUTES.append(route)

        @functools.wraps(fn)
        def handler(self, request, **params):
            return self.dispatch(route, fn, request, params)

        return http(method, rule)(handler)

    return decorate


def json_response(status: int, body: Any, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, default=str), status=status, mimetype="application/json", headers=headers
    )


def respond(route: Route, result: Any, request_id: str, written: list[str]) -> Response:
    """``written``: the tokens of what the request wrote, for a request that depends on it to
    send back (leitai/consistency.py)."""
    headers = {"X-Request-Id": request_id}
    if written:
        headers[WRITTEN_HEADER] = ", ".join(written)
    if route.action is not None:  # a route for some roles only: never cached, whatever the credential's way
        headers["Cache-Control"] = PRIVATE
    elif route.edges == (PUBLIC_EDGE,):  # what the public gateway alone serves: for caches (no-store with a credential)
        headers["Cache-Control"] = PUBLIC_CACHE
    if isinstance(result, Response):  # a route that answers with more than a body (the screen's ticket: a cookie)
        result.headers.update(headers)
        return result
    if route.media_type == "application/json":
        return json_response(route.status, result, headers)
    return Response(result, status=route.status, mimetype=route.media_type, headers=headers)


def status_of(error: DomainError) -> tuple[int, str]:
    """The HTTP status and code of ``error``: its nearest class in ERROR_STATUS."""
    return next(ERROR_STATUS[cls] for cls in type(error).__mro__ if cls in ERROR_STATUS)


def error_response(error: DomainError, request_id: str, translator: Translator) -> Response:
    """``error`` as the client reads it: its message and field messages in ``translator``'s
    language (``message_id`` and ``params`` beside them, for a program that does not read the
    words); the English stays in the logs."""
    status, code = status_of(error)
    body = {
        "error": {
            "code": code,
            "message": translator.message(error.msgid, error.params),
            "message_id": error.msgid,
            "params": error.params,
            "fields": translator.fields(error.details) if status == 400 else None,
            "request_id": request_id,
        }
    }
    if status != 400 and error.details is not None:  # facts (ids, seconds), a message among them rendered too
        body["error"]["details"] = translator.fields(error.details)
    headers = {"Content-Language": translator.locale.replace("_", "-")}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="leitai"'
    if status in (429, 503):  # 503: the outcome is unknown: the client retries, with the same key, after this
        # a number, or its string: nameko's RPC turns the numbers in an error's details into strings
        headers["Retry-After"] = str(math.ceil(float((error.details or {}).get("retry_after") or RETRY_AFTER_S)))
    return json_response(status, body, headers)


def check_params(params: dict[str, str]) -> None:
    bad = {name: [ID_ERROR] for name, value in params.items() if not re.match(ID_PATTERN, value)}
    if bad:
        raise InvalidInput("path parameters are not valid", bad)


def read_body(route: Route, request) -> dict | None:
    """Parse, validate and normalise a JSON body into JSON-safe values (Decimals as strings)."""
    if route.body is None:
        return None
    if route.method == "GET":
        return _validated(route.body(), dict(request.args.items()), N_("the query string is not valid"))
    if (request.content_length or 0) > MAX_BODY_BYTES:
        problems: dict[str, list[Said]] = {"_body": [text("at most {max} bytes", max=MAX_BODY_BYTES)]}
        raise InvalidInput("the body is too large", problems)
    raw = request.get_data(as_text=True)
    try:
        data = json.loads(raw, parse_float=Decimal) if raw.strip() else {}  # never through a float
        # a \ud800-style escape decodes to a lone surrogate, which is no text: no store or
        # broker can encode it, so it is refused here rather than failing deep inside
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        problems = {"_body": [N_("not valid JSON text")]}
        raise InvalidInput("the body is not JSON", problems) from None
    if not isinstance(data, dict):
        problems = {"_body": [N_("must be an object")]}
        raise InvalidInput("the body must be a JSON object", problems)
    return _validated(route.body(), data, N_("the body is not valid"))


def _validated(schema: Schema, data: dict, message: str) -> dict:
    """``message``: the refusal's, marked N_ where it is written."""
    try:
        return schema.dump(schema.load(data))
    except ValidationError as exc:
        raise InvalidInput(message, exc.messages_dict) from None


IDEMPOTENT_METHODS = ("POST", "PUT", "DELETE")
IDEMPOTENCY_HEADER = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as Stripe-style clients send


def idempotency(route: Route, request, actor: dict, params: dict, body: dict | None) -> dict | None:
    """The request's idempotency key, scoped to who sent it, and the fingerprint of what it
    asked (route, path and body): the services answer a retry with the same key as they
    answered the first time, and refuse the key for a different request."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None or route.method not in IDEMPOTENT_METHODS:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        problems = {IDEMPOTENCY_HEADER: [N_("1 to 255 visible ASCII characters")]}
        raise InvalidInput(
            "the {header} header is not valid",
            problems,
            header=IDEMPOTENCY_HEADER,
        )
    # the grant's holder within its scope: an id is no identity across contests or counties
    scoped = hashlib.sha256(f"{actor['role']}\n{actor['id']}\n{scope_key(actor)}\n{key}".encode()).hexdigest()
    asked = json.dumps(
        {"route": route.name, "params": params, "body": body}, sort_keys=True, ensure_ascii=False, default=str
    )
    return {"key": scoped, "fingerprint": hashlib.sha256(asked.encode()).hexdigest()}


Network = IPv4Network | IPv6Network


def client_address(request, trusted: Sequence[Network] = ()) -> str | None:
    """Who is calling, for the limits of callers without a token (``forwarded_client``)."""
    return forwarded_client(request.remote_addr, request.headers.getlist("X-Forwarded-For"), trusted)


def forwarded_client(peer: str | None, forwarded: Sequence[str], trusted: Sequence[Network]) -> str | None:
    """The connection's address (``peer``), unless it is one of the ``trusted`` proxies
    (LEITAI_TRUSTED_PROXIES): then the right-most address of X-Forwarded-For that is no trusted
    proxy, the one the nearest trusted proxy saw connect (or the left-most, if every one is a
    trusted proxy). What anyone else sends in X-Forwarded-For is not believed: it could name
    any address, and with it a rate limit of its own."""
    connected = _ip(peer)
    if connected is None or not _within(connected, trusted):
        return peer
    client = peer
    for hop in reversed([h.strip() for header in forwarded for h in header.split(",") if h.strip()]):
        address = _ip(hop)
        if address is None:  # no address: what the hop said is all there is to tell the client by
            return hop[:100]
        client = str(address)
        if not _within(address, trusted):
            break
    return client


def _ip(text: str | None) -> IPv4Address | IPv6Address | None:
    """An address as a proxy writes it: bare, with a port (1.2.3.4:80) or in brackets ([::1]:80);
    an IPv4-mapped IPv6 address as its IPv4 one."""
    if not text:
        return None
    host = text.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        address = ip_address(host)
    except ValueError:
        return None
    return address.ipv4_mapped or address if isinstance(address, IPv6Address) else address


def _within(address: IPv4Address | IPv6Address, networks: Sequence[Network]) -> bool:
    return any(address in network for network in networks)


def new_request_id(request) -> str:
    """The gateway's own id for a request, whatever ``X-Request-Id`` the client sent: it names
    the request in every log line and is the ``correlation_id`` of every event it writes, so a
    client must not choose it (another request's id would blur who did what). The client reads
    it in the answer's ``X-Request-Id`` header and an error's body."""
    return uuid.uuid4().hex

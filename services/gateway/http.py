"""The gateway's HTTP plumbing: one decorator per endpoint, one table of error codes.

``@endpoint`` registers the nameko @http entrypoint and the route's contract (its action,
body and response schemas, status) from which both request handling and the OpenAPI document
are derived, so the two cannot drift apart. Who may call a route comes from its action's
declaration in leitai/access.py, the table the services check the same action against.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from leitai.access import ACTIONS
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
from leitai.roles import PUBLIC
from services.gateway.auth import Unauthorized

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
):
    """``action``: what the route does, a name in leitai/access.py's table, which says who may
    (the services check the same name); a route anyone may call says ``roles={PUBLIC}`` instead."""
    if (action is None) == (roles is None) or (roles is not None and set(roles) != {PUBLIC}):
        raise TypeError(f"{method} {rule}: give action= (leitai/access.py), or roles={{PUBLIC}} for a public route")

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
    if route.media_type == "application/json":
        return json_response(route.status, result, headers)
    return Response(result, status=route.status, mimetype=route.media_type, headers=headers)


def status_of(error: DomainError) -> tuple[int, str]:
    """The HTTP status and code of ``error``: its nearest class in ERROR_STATUS."""
    return next(ERROR_STATUS[cls] for cls in type(error).__mro__ if cls in ERROR_STATUS)


def error_response(error: DomainError, request_id: str) -> Response:
    status, code = status_of(error)
    body = {
        "error": {
            "code": code,
            "message": error.message,
            "fields": error.details if status == 400 else None,
            "request_id": request_id,
        }
    }
    if status != 400 and error.details is not None:
        body["error"]["details"] = error.details
    headers = {"WWW-Authenticate": 'Bearer realm="leitai"'} if status == 401 else None
    if status in (429, 503):  # 503: the outcome is unknown: the client retries, with the same key, after this
        # a number, or its string: nameko's RPC turns the numbers in an error's details into strings
        headers = {"Retry-After": str(math.ceil(float((error.details or {}).get("retry_after") or RETRY_AFTER_S)))}
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
        return _validated(route.body(), dict(request.args.items()), "the query string is not valid")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise InvalidInput("the body is too large", {"_body": [f"at most {MAX_BODY_BYTES} bytes"]})
    raw = request.get_data(as_text=True)
    try:
        data = json.loads(raw, parse_float=Decimal) if raw.strip() else {}  # never through a float
        # a \ud800-style escape decodes to a lone surrogate, which is no text: no store or
        # broker can encode it, so it is refused here rather than failing deep inside
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        raise InvalidInput("the body is not JSON", {"_body": ["not valid JSON text"]}) from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", {"_body": ["must be an object"]})
    return _validated(route.body(), data, "the body is not valid")


def _validated(schema: Schema, data: dict, message: str) -> dict:
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
        raise InvalidInput(
            f"the {IDEMPOTENCY_HEADER} header is not valid", {IDEMPOTENCY_HEADER: ["1 to 255 visible ASCII characters"]}
        )
    scoped = hashlib.sha256(f"{actor['role']}\n{actor['id']}\n{key}".encode()).hexdigest()
    asked = json.dumps(
        {"route": route.name, "params": params, "body": body}, sort_keys=True, ensure_ascii=False, default=str
    )
    return {"key": scoped, "fingerprint": hashlib.sha256(asked.encode()).hexdigest()}


def client_address(request) -> str | None:
    """Who is calling, for the rate limit of callers without a token: the first address the
    ingress saw (X-Forwarded-For), else the connection's."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    return forwarded.split(",")[0].strip() or request.remote_addr


def new_request_id(request) -> str:
    supplied = request.headers.get("X-Request-Id", "")
    return supplied if re.fullmatch(r"[A-Za-z0-9_-]{8,64}", supplied) else uuid.uuid4().hex

"""The OpenAPI 3 document, generated from the route table and its marshmallow schemas."""

from __future__ import annotations

import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from marshmallow import fields

from leitai.contracts.fields import ID_PATTERN
from services.gateway.http import IDEMPOTENCY_HEADER, IDEMPOTENT_METHODS, ROUTES, Route, serves
from services.gateway.schemas import ErrorResponse
from services.gateway.settings import ALL_EDGES

_DESCRIPTIONS = {
    400: "invalid input, with per-field messages",
    401: "no or unknown bearer token",
    403: "the token's role may not do this",
    404: "not found",
    409: "conflict: duplicate, stale or locked",
    422: "refused by a domain rule",
    429: "too many requests from this client; see Retry-After",
    503: "outcome unknown: a dependency did not answer; retry with the same Idempotency-Key",
}


DECIMAL_PATTERN = r"^-?[0-9]{1,7}(\.[0-9]{1,6})?$"


class _Converter(OpenAPIConverter):
    """Decimals travel as strings ("9.5"): say so, rather than apispec's number with string bounds."""

    def field2property(self, field):
        if isinstance(field, fields.Decimal):
            prop = {"type": "string", "pattern": DECIMAL_PATTERN, "example": "9.5"}
            if field.allow_none:
                prop["nullable"] = True
            return prop
        return super().field2property(field)


class _Plugin(MarshmallowPlugin):
    Converter = _Converter


@functools.cache
def document(edge: str = ALL_EDGES) -> dict:
    """``build_document``, built once per process (the routes are all declared once the service's
    module is loaded; building takes a tenth of a second): what GET /openapi.json serves.
    Shared: never to be changed by its callers."""
    return build_document(edge)


def build_document(edge: str = ALL_EDGES) -> dict:
    """The routes the gateway of ``edge`` serves (settings.py: EDGES)."""
    spec = APISpec(
        title="leitai gateway",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[_Plugin()],
        info={"description": "Contests, judges, entries and scoring for 擂台比武 performance contests."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorResponse)
    paths: dict[str, dict] = {}
    for route in (r for r in ROUTES if serves(edge, r.name)):
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(route: Route) -> dict:
    success: dict = {"description": "done"}
    if route.response is not None:
        success["content"] = {"application/json": {"schema": route.response}}
    elif route.media_type != "application/json":
        binary = {"schema": {"type": "string", "format": "binary"}}
        success["content"] = {media: binary for media in route.media_type.split(", ")}  # one, or a list
    responses = {str(route.status): success}
    for status in route.errors:
        if "public" in route.roles and status in (401, 403):
            continue
        responses[str(status)] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": "Error"}},
        }
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "responses": responses,
        "x-roles": sorted(route.roles),  # who may call it (docs/api.md "Roles and tokens")
        "parameters": [
            {"in": "path", "name": name, "required": True, "schema": {"type": "string", "pattern": ID_PATTERN}}
            for name in route.params
        ],
    }
    if route.method in IDEMPOTENT_METHODS:
        operation["parameters"].append(
            {
                "in": "header",
                "name": IDEMPOTENCY_HEADER,
                "required": False,
                "description": "any unique string (a UUID): a retry with the same key and request answers as the "
                "first time and changes nothing; the same key with another request is a 409",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
            }
        )
    if route.body is not None and route.method == "GET":
        operation["parameters"].append({"in": "query", "schema": route.body})
    elif route.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": route.body}}}
    if "public" not in route.roles:
        operation["security"] = [{"bearer": []}]
    return operation

"""The gateway's one settings schema: the tokens, the RPC deadline and the rate limit, checked
at start-up; a bad value stops the process with its key named (and never prints a token)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from leitai.config import ConfigurationError
from leitai.contracts.fields import Id
from leitai.roles import ROLES

KEYS = ("LEITAI_TOKENS", "LEITAI_RPC_TIMEOUT", "LEITAI_RATE_LIMIT")


class _Holder(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    id = Id(required=True)


DIGEST = "sha256:"


def _token_or_digest(key: str) -> None:
    if not re.fullmatch(r"sha256:[0-9a-f]{64}|(?!sha256:).{16,}", key, re.DOTALL):
        raise ValidationError("a token of 16 or more characters, or sha256:<64 hex digits>")


class _RateLimit(Schema):
    per_second = fields.Float(load_default=20.0, validate=validate.Range(min=0.1, max=100_000))
    burst = fields.Integer(load_default=60, validate=validate.Range(min=1, max=1_000_000))


class GatewaySettingsSchema(Schema):
    LEITAI_TOKENS = fields.Dict(
        keys=fields.String(validate=_token_or_digest),
        values=fields.Nested(_Holder),
        required=True,
        validate=validate.Length(min=1),
    )
    LEITAI_RPC_TIMEOUT = fields.Float(load_default=30.0, validate=validate.Range(min=0.5, max=600))
    # per client (a token's holder, or the address of a caller without one), per gateway process
    LEITAI_RATE_LIMIT = fields.Nested(_RateLimit, load_default=lambda: _RateLimit().load({}))


def load(config: Mapping[str, Any]) -> dict[str, Any]:
    """The gateway's settings out of a nameko config mapping; ConfigurationError naming the key."""
    try:
        loaded: dict[str, Any] = GatewaySettingsSchema().load({k: config[k] for k in KEYS if k in config})
    except ValidationError as exc:
        problems = "; ".join(f"{key}: {messages}" for key, messages in sorted(exc.messages_dict.items()))
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    return loaded

"""Bearer tokens and the roles they carry, from the LEITAI_TOKENS setting.

LEITAI_TOKENS maps each token to ``{role: organiser|judge|screen, id: <who>}``; ``screen`` is
the venue's big screen: it reads live standings and nothing else.
In production it comes from a Kubernetes Secret; tokens are compared in constant time.
"""
from __future__ import annotations

import hmac

from marshmallow import Schema, ValidationError, fields, validate
from nameko.extensions import DependencyProvider

from leitai.config import ConfigurationError
from leitai.contracts.fields import Id


class _Holder(Schema):
    role = fields.String(required=True, validate=validate.OneOf(["organiser", "judge", "screen"]))
    id = Id(required=True)


class _Tokens(Schema):
    tokens = fields.Dict(keys=fields.String(validate=validate.Length(min=16)), values=fields.Nested(_Holder),
                         required=True, validate=validate.Length(min=1))


class Authenticator:
    def __init__(self, tokens: dict[str, dict]) -> None:
        self._tokens = list(tokens.items())

    def actor(self, authorization: str | None) -> dict | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = authorization[len("Bearer "):].strip().encode()
        found = None
        for token, holder in self._tokens:  # no early exit: every token is compared
            if hmac.compare_digest(token.encode(), presented):
                found = holder
        return dict(found) if found else None


class Tokens(DependencyProvider):
    def setup(self) -> None:
        try:
            loaded = _Tokens().load({"tokens": self.container.config.get("LEITAI_TOKENS")})
        except ValidationError as exc:
            raise ConfigurationError(f"invalid configuration: LEITAI_TOKENS: {exc.messages}") from None
        self.authenticator = Authenticator(loaded["tokens"])

    def get_dependency(self, worker_ctx) -> Authenticator:
        return self.authenticator

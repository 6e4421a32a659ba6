"""Who is asking, and may they: bearer tokens and the roles they carry; and the gateway's
settings (the tokens and the RPC deadline).

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
from leitai.errors import DomainError
from leitai.roles import PUBLIC, ROLES, require_role
from leitai.rpc import register_errors


class Unauthorized(DomainError):
    """No token, or one that is not ours."""


class _Holder(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    id = Id(required=True)


class _Settings(Schema):
    LEITAI_TOKENS = fields.Dict(keys=fields.String(validate=validate.Length(min=16)), values=fields.Nested(_Holder),
                                required=True, validate=validate.Length(min=1))
    LEITAI_RPC_TIMEOUT = fields.Float(load_default=30.0, validate=validate.Range(min=0.5, max=600))


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

    def authorize(self, authorization: str | None, roles: frozenset[str] | set[str], to: str) -> dict:
        """The actor behind ``authorization`` if one of ``roles`` may do ``to``: Unauthorized
        without a valid token (unless the public may), Forbidden for another role."""
        actor = self.actor(authorization)
        if PUBLIC in roles:
            return actor or {"role": PUBLIC, "id": PUBLIC}
        if actor is None:
            raise Unauthorized("a bearer token is required")
        require_role(actor, *sorted(roles), to=to)
        return actor


class GatewaySettings:
    def __init__(self, authenticator: Authenticator, rpc_timeout: float) -> None:
        self.authenticator = authenticator
        self.rpc_timeout = rpc_timeout


class Settings(DependencyProvider):
    def setup(self) -> None:
        register_errors()  # what the services raise arrives here as the same class
        config = self.container.config
        try:
            loaded = _Settings().load({k: config[k] for k in ("LEITAI_TOKENS", "LEITAI_RPC_TIMEOUT") if k in config})
        except ValidationError as exc:
            problems = "; ".join(f"{key}: {messages}" for key, messages in sorted(exc.messages.items()))
            raise ConfigurationError(f"invalid configuration: {problems}") from None
        self.settings = GatewaySettings(Authenticator(loaded["LEITAI_TOKENS"]), loaded["LEITAI_RPC_TIMEOUT"])

    def get_dependency(self, worker_ctx) -> GatewaySettings:
        return self.settings

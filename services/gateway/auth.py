"""Who is asking, and may they: bearer tokens and the roles they carry; and the gateway's
settings (the tokens and the RPC deadline).

LEITAI_TOKENS maps each token to ``{role: organiser|judge|screen, id: <who>}``; ``screen`` is
the venue's big screen: it reads live standings and nothing else. A key may be the token
itself or ``sha256:<hex digest of the token>``, so that the configuration (and whoever can read
it) need not hold the tokens. In production it comes from a Kubernetes Secret. A presented
token is compared with every configured one, in constant time, digests included.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from marshmallow import Schema, ValidationError, fields, validate
from nameko.extensions import DependencyProvider

from leitai.config import ConfigurationError
from leitai.contracts.fields import Id
from leitai.errors import DomainError, RateLimited
from leitai.ratelimit import RateLimits
from leitai.roles import PUBLIC, ROLES, require_role
from leitai.rpc import register_errors


class Unauthorized(DomainError):
    """No token, or one that is not ours."""


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


class _Settings(Schema):
    LEITAI_TOKENS = fields.Dict(
        keys=fields.String(validate=_token_or_digest),
        values=fields.Nested(_Holder),
        required=True,
        validate=validate.Length(min=1),
    )
    LEITAI_RPC_TIMEOUT = fields.Float(load_default=30.0, validate=validate.Range(min=0.5, max=600))
    # per client (a token's holder, or the address of a caller without one), per gateway process
    LEITAI_RATE_LIMIT = fields.Nested(_RateLimit, load_default=lambda: _RateLimit().load({}))


class Authenticator:
    def __init__(self, tokens: dict[str, dict]) -> None:
        # every configured token as the digest it is compared by
        self._digests = [
            (bytes.fromhex(key[len(DIGEST) :]) if key.startswith(DIGEST) else _digest(key.encode()), holder)
            for key, holder in tokens.items()
        ]

    def actor(self, authorization: str | None) -> dict | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        presented = _digest(authorization[len("Bearer ") :].strip().encode())
        found = None
        for digest, holder in self._digests:  # no early exit: every token is compared
            if hmac.compare_digest(digest, presented):
                found = holder
        return dict(found) if found else None

    def authorize(self, authorization: str | None, roles: frozenset[str] | set[str], to: str) -> dict:
        """The actor behind ``authorization`` if one of ``roles`` may do ``to``: Unauthorized
        without a valid token (unless the public may), Forbidden for another role."""
        return self.permit(self.actor(authorization), roles, to)

    @staticmethod
    def permit(actor: dict | None, roles: frozenset[str] | set[str], to: str) -> dict:
        """``authorize`` for an actor already looked up (None: no valid token)."""
        if PUBLIC in roles:
            return actor or {"role": PUBLIC, "id": PUBLIC}
        if actor is None:
            raise Unauthorized("a bearer token is required")
        require_role(actor, *sorted(roles), to=to)
        return actor


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


class GatewaySettings:
    def __init__(self, authenticator: Authenticator, rpc_timeout: float, rate_limit: dict) -> None:
        self.authenticator = authenticator
        self.rpc_timeout = rpc_timeout
        self.limits = RateLimits(rate_limit["per_second"], rate_limit["burst"])

    def admit(self, actor: dict | None, address: str | None) -> None:
        """Raise RateLimited if this client (a token's holder, else its address) has used up
        its requests for now."""
        wait = self.limits.take((actor["role"], actor["id"]) if actor else ("address", address))
        if wait is not None:
            raise RateLimited("too many requests; slow down", {"retry_after": wait})


class Settings(DependencyProvider):
    def setup(self) -> None:
        register_errors()  # what the services raise arrives here as the same class
        config = self.container.config
        try:
            loaded = _Settings().load(
                {k: config[k] for k in ("LEITAI_TOKENS", "LEITAI_RPC_TIMEOUT", "LEITAI_RATE_LIMIT") if k in config}
            )
        except ValidationError as exc:
            problems = "; ".join(f"{key}: {messages}" for key, messages in sorted(exc.messages.items()))
            raise ConfigurationError(f"invalid configuration: {problems}") from None
        self.settings = GatewaySettings(
            Authenticator(loaded["LEITAI_TOKENS"]), loaded["LEITAI_RPC_TIMEOUT"], loaded["LEITAI_RATE_LIMIT"]
        )

    def get_dependency(self, worker_ctx) -> GatewaySettings:
        return self.settings

"""Who is asking, and may they: bearer tokens and the roles they carry; and the dependency
that hands the gateway its settings (settings.py validates them).

LEITAI_TOKENS maps each token to ``{role: organiser|judge|screen, id: <who>}``; ``screen`` is
the venue's big screen: it reads live standings and nothing else. A key may be the token
itself or ``sha256:<hex digest of the token>``, so that the configuration (and whoever can read
it) need not hold the tokens. In production it comes from a Kubernetes Secret. A presented
token is compared with every configured one, in constant time, digests included.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection

from nameko.extensions import DependencyProvider

from leitai.errors import DomainError, RateLimited
from leitai.ratelimit import RateLimits
from leitai.roles import PUBLIC, require_role
from leitai.rpc import register_errors
from services.gateway.settings import DIGEST, load


class Unauthorized(DomainError):
    """No token, or one that is not ours."""


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

    def authorize(self, authorization: str | None, roles: Collection[str], to: str) -> dict:
        """The actor behind ``authorization`` if one of ``roles`` may do ``to``: Unauthorized
        without a valid token (unless the public may), Forbidden for another role. ``roles`` and
        ``to``: an action's, from leitai/access.py."""
        return self.permit(self.actor(authorization), roles, to)

    @staticmethod
    def permit(actor: dict | None, roles: Collection[str], to: str) -> dict:
        """``authorize`` for an actor already looked up (None: no valid token). A refusal names
        ``roles`` in their order (a declaration's), a set's sorted."""
        if PUBLIC in roles:
            return actor or {"role": PUBLIC, "id": PUBLIC}
        if actor is None:
            raise Unauthorized("a bearer token is required")
        require_role(actor, *(roles if isinstance(roles, tuple | list) else sorted(roles)), to=to)
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
        loaded = load(self.container.config)
        self.settings = GatewaySettings(
            Authenticator(loaded["LEITAI_TOKENS"]), loaded["LEITAI_RPC_TIMEOUT"], loaded["LEITAI_RATE_LIMIT"]
        )

    def get_dependency(self, worker_ctx) -> GatewaySettings:
        return self.settings

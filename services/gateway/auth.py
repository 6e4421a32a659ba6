"""Who is asking, and may they: bearer tokens and the roles they carry; and the dependency
that hands the gateway its settings (settings.py validates them).

LEITAI_TOKENS maps each token to ``{role: organiser|judge|screen|supervisor, id: <who>}``; ``screen`` is
the venue's big screen: it reads live standings and nothing else. A key may be the token
itself or ``sha256:<hex digest of the token>``, so that the configuration (and whoever can read
it) need not hold the tokens. In production it comes from a Kubernetes Secret. A presented
token is compared with every configured one, in constant time, digests included.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from ipaddress import IPv4Network, IPv6Network

from nameko.extensions import DependencyProvider

from leitai.consistency import Seal
from leitai.errors import DomainError, RateLimited
from leitai.ratelimit import Concurrency, RateLimits
from leitai.roles import PUBLIC, require_role
from leitai.rpc import register_errors
from services.gateway.settings import DIGEST, load

log = logging.getLogger(__name__)


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
    def __init__(
        self,
        authenticator: Authenticator,
        rpc_timeout: float,
        rate_limit: dict,
        *,
        seal: Seal | None = None,
        read_your_writes: dict | None = None,
        streams_per_client: int = 4,
        trusted_proxies: Sequence[IPv4Network | IPv6Network] = (),
    ) -> None:
        self.authenticator = authenticator
        self.rpc_timeout = rpc_timeout
        self.limits = RateLimits(rate_limit["per_second"], rate_limit["burst"])
        self.seal = seal or Seal(secrets.token_bytes(32))  # this process's own: development and tests
        reading = {"token_ttl_s": 900, "wait_s": 5.0, "waits_per_client": 2, **(read_your_writes or {})}
        self.token_ttl_s, self.wait_s = reading["token_ttl_s"], reading["wait_s"]
        self.waits = Concurrency(reading["waits_per_client"])  # requests waiting for writes, per client
        self.streams = Concurrency(streams_per_client)  # live streams open, per client
        self.trusted_proxies = tuple(trusted_proxies)

    @staticmethod
    def client(actor: dict | None, address: str | None) -> tuple[str, str | None]:
        """Who a limit counts: a token's holder, else (no token, or the public's) the address."""
        return (actor["role"], actor["id"]) if actor and actor["role"] != PUBLIC else ("address", address)

    def admit(self, actor: dict | None, address: str | None) -> None:
        """Raise RateLimited if this client (a token's holder, else its address) has used up
        its requests for now."""
        wait = self.limits.take(self.client(actor, address))
        if wait is not None:
            raise RateLimited("too many requests; slow down", {"retry_after": wait})

    def sealed(self, written: list[str]) -> list[str]:
        """The Leitai-Written tokens of what a request wrote, sealed for its client."""
        expires = int(time.time()) + self.token_ttl_s
        return [self.seal.seal(token, expires) for token in written]

    def after(self, header: str | None) -> str | None:
        """A request's Leitai-After header opened for the services: None without one, or when
        every token in it expired; InvalidInput (400) when a token is not one this gateway sealed."""
        return None if header is None else self.seal.after(header, time.time())

    @contextmanager
    def waiting(self, actor: dict | None, address: str | None) -> Iterator[float]:
        """The seconds a request may wait for the writes its Leitai-After names: ``wait_s``
        while its client (a token's holder) has fewer than ``waits_per_client`` such requests
        running, else 0 (answered at once: run if seen, "not yet" if not). A caller without a
        token never waits: a public reader has no writes of its own to wait for."""
        key = self.client(actor, address)
        if key[0] == "address" or not self.waits.enter(key):
            yield 0.0
            return
        try:
            yield self.wait_s
        finally:
            self.waits.leave(key)

    def hold_stream(self, actor: dict | None, address: str | None) -> Callable[[], None]:
        """Take one of the client's live streams, and return what gives it back (once, however
        often called); RateLimited (429) when the client holds ``streams_per_client`` already."""
        key = self.client(actor, address)
        if not self.streams.enter(key):
            raise RateLimited(
                f"this client has {self.streams.per_key} live streams open already; close one first",
                {"retry_after": 5},
            )
        held = [True]

        def release() -> None:
            if held:
                held.clear()
                self.streams.leave(key)

        return release


class Settings(DependencyProvider):
    def setup(self) -> None:
        register_errors()  # what the services raise arrives here as the same class
        loaded = load(self.container.config)
        key = loaded["LEITAI_CONSISTENCY_KEY"]
        if not key:
            log.warning(
                "LEITAI_CONSISTENCY_KEY is not set: this process seals read-your-writes tokens with a key of its "
                "own, which another replica (or this one restarted) refuses"
            )
        self.settings = GatewaySettings(
            Authenticator(loaded["LEITAI_TOKENS"]),
            loaded["LEITAI_RPC_TIMEOUT"],
            loaded["LEITAI_RATE_LIMIT"],
            seal=Seal(key.encode()) if key else None,
            read_your_writes=loaded["LEITAI_READ_YOUR_WRITES"],
            streams_per_client=loaded["LEITAI_STREAMS_PER_CLIENT"],
            trusted_proxies=loaded["LEITAI_TRUSTED_PROXIES"],
        )

    def get_dependency(self, worker_ctx) -> GatewaySettings:
        return self.settings

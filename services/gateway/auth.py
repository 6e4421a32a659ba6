"""Who is asking, and may they: bearer tokens and the roles they carry; and the dependency
that hands the gateway its settings (settings.py validates them).

LEITAI_TOKENS maps each token to a grant (leitai/grants.py): ``{role: organiser|judge|screen|supervisor,
id: <who>, and one scope: contest: <id> | office: <county code> | deployment: true}``; ``screen`` is
the venue's big screen: it reads live standings and nothing else. A key may be the token
itself or ``sha256:<hex digest of the token>``, so that the configuration (and whoever can read
it) need not hold the tokens. In production it comes from a Kubernetes Secret. A presented
token is compared with every configured one, in constant time, digests included.

A token of the minted form (``lt_``…: ``leitai grant mint``, services/registration/grants.py)
that is not configured is looked up through registration by its digest, and the answer, found
or not, kept LEITAI_GRANT_CACHE_S seconds (``GrantCache``); one not known yet costs its caller's
address a request of its rate limit before the look-up (``GatewaySettings.identify``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import eventlet
from nameko.extensions import DependencyProvider

from leitai.access import scope_key
from leitai.consistency import Seal
from leitai.errors import DomainError, RateLimited, Unavailable
from leitai.grants import MINTED_TOKEN, holder
from leitai.i18n import Languages, Translator, catalogues
from leitai.messages import N_
from leitai.ratelimit import Concurrency, RateLimits
from leitai.roles import PUBLIC, require_role
from leitai.rpc import register_errors
from services.gateway.settings import ALL_EDGES, DIGEST, load

log = logging.getLogger(__name__)
Lookup = Callable[[str], "dict | None"]  # a token's sha256 (hex) -> its grant's actor, or None


NO_TOKEN = N_("a bearer token is required")
# the same words for a made-up token as for one that expired or was revoked: the presenter learns
# nothing about which tokens exist
NOT_VALID = N_("this token is not valid here: it is mistyped, expired or revoked; ask the organiser for a new one")


class Unauthorized(DomainError):
    """No token, or one that is not ours."""


class Authenticator:
    """Configured tokens first; then a token of the minted form (``lt_``…, leitai grant mint)
    through ``lookup`` (registration's ``grant_holder``, by the token's sha256 in hex), whose
    answers, found or not, are kept ``cache_s`` seconds (0: none kept)."""

    def __init__(
        self, tokens: dict[str, dict], cache_s: float = 0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        # every configured token as the digest it is compared by
        self._digests = [
            (bytes.fromhex(key[len(DIGEST) :]) if key.startswith(DIGEST) else _digest(key.encode()), holder(grant))
            for key, grant in tokens.items()
        ]
        self.minted = GrantCache(cache_s, clock=clock)

    def actor(
        self,
        authorization: str | None,
        lookup: Lookup | None = None,
        before_lookup: Callable[[], None] | None = None,
    ) -> dict | None:
        """Who holds the bearer token in ``authorization`` (None: no token, or none of ours).
        A minted token that is not configured is looked up with ``lookup`` (none given: not
        ours) unless its answer is cached; ``before_lookup`` runs first, and what it raises
        (the caller's rate limit) stops the look-up."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = authorization[len("Bearer ") :].strip()
        presented = _digest(token.encode())
        found = None
        for digest, configured in self._digests:  # no early exit: every token is compared
            if hmac.compare_digest(digest, presented):
                found = configured
        if found is None and lookup is not None and MINTED_TOKEN.fullmatch(token):
            found = self._minted(presented, lookup, before_lookup)
        return dict(found) if found else None

    def _minted(self, digest: bytes, lookup: Lookup, before_lookup: Callable[[], None] | None) -> dict | None:
        known, cached = self.minted.get(digest)
        if known:
            return cached
        if before_lookup is not None and not self.minted.vouched(digest):
            before_lookup()  # a token never found: its sender pays (a grant found before does not)
        answer = lookup(digest.hex())
        self.minted.put(digest, answer)  # not reached when the look-up failed: nothing kept
        return answer

    def authorize(self, authorization: str | None, roles: Collection[str], to: str) -> dict:
        """The actor behind ``authorization`` if one of ``roles`` may do ``to``: Unauthorized
        without a valid token (unless the public may), Forbidden for another role. ``roles`` and
        ``to``: an action's, from leitai/access.py."""
        return self.permit(self.actor(authorization), roles, to, presented=bool(authorization))

    @staticmethod
    def permit(actor: dict | None, roles: Collection[str], to: str, presented: bool = False) -> dict:
        """``authorize`` for an actor already looked up (None: no valid token; ``presented``: one
        was sent, which is not ours or no longer valid). A refusal names ``roles`` in their order
        (a declaration's), a set's sorted."""
        if PUBLIC in roles:
            return actor or {"role": PUBLIC, "id": PUBLIC}
        if actor is None:
            raise Unauthorized(NOT_VALID) if presented else Unauthorized(NO_TOKEN)
        require_role(actor, *(roles if isinstance(roles, tuple | list) else sorted(roles)), to=to)
        return actor


def _digest(token: bytes) -> bytes:
    return hashlib.sha256(token).digest()


VOUCHED_S = 3600  # how long a grant found stays vouched for (GrantCache.vouched)


class GrantCache:
    """What looking minted tokens up answered, by digest, each kept ``ttl_s`` seconds: the grants
    found (at most ``found_size``) apart from the tokens not found (at most ``unknown_size``), so
    that a flood of made-up tokens pushes out only others of its kind, never a judge's grant.
    When one is full, its oldest answer goes. ``ttl_s`` 0: nothing is kept."""

    def __init__(
        self,
        ttl_s: float,
        found_size: int = 4096,
        unknown_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._found: OrderedDict[bytes, tuple[float, dict]] = OrderedDict()
        self._unknown: OrderedDict[bytes, float] = OrderedDict()
        # grants found within VOUCHED_S: looked up again without charging their address, so
        # that made-up tokens from a hall's shared address never hold its judges back
        self._vouched: OrderedDict[bytes, float] = OrderedDict()
        self.found_size, self.unknown_size = found_size, unknown_size

    def get(self, digest: bytes) -> tuple[bool, dict | None]:
        """(True, the grant's actor or None for a token not found) while an answer is kept;
        (False, None) when it must be looked up."""
        now = self._clock()
        if digest in self._found:
            expires, actor = self._found[digest]
            if now < expires:
                return True, actor
            del self._found[digest]
        if digest in self._unknown:
            if now < self._unknown[digest]:
                return True, None
            del self._unknown[digest]
        return False, None

    def vouched(self, digest: bytes) -> bool:
        """Whether a grant was found for ``digest`` within VOUCHED_S (its look-up costs nothing)."""
        expires = self._vouched.get(digest)
        return expires is not None and self._clock() < expires

    def put(self, digest: bytes, actor: dict | None) -> None:
        if actor is not None:
            _keep(self._vouched, self.found_size, digest, self._clock() + VOUCHED_S)
        if self.ttl_s <= 0:
            return
        expires = self._clock() + self.ttl_s
        self._found.pop(digest, None)
        self._unknown.pop(digest, None)
        if actor is None:
            _keep(self._unknown, self.unknown_size, digest, expires)
        else:
            _keep(self._found, self.found_size, digest, (expires, actor))

    def __len__(self) -> int:
        return len(self._found) + len(self._unknown)


def _keep(kept: OrderedDict, size: int, key: bytes, value: Any) -> None:
    kept[key] = value
    while len(kept) > size:
        kept.popitem(last=False)  # the oldest: every answer is kept as long, so the first to go stale


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
        languages: Languages | None = None,
        edge: str = ALL_EDGES,
    ) -> None:
        self.authenticator = authenticator
        self.edge = edge  # the routes this process serves (LEITAI_GATEWAY_EDGE)
        self.rpc_timeout = rpc_timeout
        self.limits = RateLimits(rate_limit["per_second"], rate_limit["burst"])
        self.seal = seal or Seal(secrets.token_bytes(32))  # this process's own: development and tests
        reading = {"token_ttl_s": 900, "wait_s": 5.0, "waits_per_client": 2, **(read_your_writes or {})}
        self.token_ttl_s, self.wait_s = reading["token_ttl_s"], reading["wait_s"]
        self.waits = Concurrency(reading["waits_per_client"])  # requests waiting for writes, per client
        self.streams = Concurrency(streams_per_client)  # live streams open, per client
        self.trusted_proxies = tuple(trusted_proxies)
        self.languages = languages or Languages(catalogues())

    def translator(self, accepted: Sequence[str]) -> Translator:
        """Messages in the language the request asks for (``accepted``: its Accept-Language's
        languages, best first) if there is a catalogue for it, else in LEITAI_LANGUAGE."""
        return self.languages.for_request(accepted)

    @staticmethod
    def client(actor: dict | None, address: str | None) -> tuple[str, str | None]:
        """Who a limit counts: a token's holder, else (no token, or the public's) the address."""
        if not actor or actor["role"] == PUBLIC:
            return ("address", address)
        return (actor["role"], f"{actor['id']}@{scope_key(actor)}")

    def identify(self, authorization: str | None, address: str | None, lookup: Lookup | None) -> dict | None:
        """The actor behind ``authorization`` (None: no token of ours). A minted token neither
        configured nor cached is looked up with ``lookup`` (registration's ``grant_holder``; None:
        not looked up) only after its caller's address paid one request of its rate limit
        (RateLimited, 429, when it has none left), so that a flood of made-up tokens costs its
        sender and does not become RPCs; and within the request's deadline: Unavailable (503)
        when registration does not answer in ``rpc_timeout`` seconds."""

        def bounded(digest: str) -> dict | None:
            assert lookup is not None
            seconds = self.rpc_timeout
            late = Unavailable(
                "this token could not be looked up within {seconds} s; retry in a moment", seconds=format(seconds, "g")
            )
            with eventlet.Timeout(seconds, late):
                return lookup(digest)

        return self.authenticator.actor(
            authorization, bounded if lookup is not None else None, lambda: self.admit(None, address)
        )

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
                "this client has {per_key} live streams open already; close one first",
                {"retry_after": 5},
                per_key=self.streams.per_key,
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
            Authenticator(loaded["LEITAI_TOKENS"], loaded["LEITAI_GRANT_CACHE_S"]),
            loaded["LEITAI_RPC_TIMEOUT"],
            loaded["LEITAI_RATE_LIMIT"],
            seal=Seal(key.encode()) if key else None,
            read_your_writes=loaded["LEITAI_READ_YOUR_WRITES"],
            streams_per_client=loaded["LEITAI_STREAMS_PER_CLIENT"],
            trusted_proxies=loaded["LEITAI_TRUSTED_PROXIES"],
            languages=Languages(catalogues(), loaded["LEITAI_LANGUAGE"]),
            edge=loaded["LEITAI_GATEWAY_EDGE"],
        )

    def get_dependency(self, worker_ctx) -> GatewaySettings:
        return self.settings

"""The big screen's tickets: how its live stream knows who watches, with no token in any URL.

EventSource (what the screen's page reads the stream with) cannot send headers, and a token in
the query string lands in access logs, browser history and Referer. So the page takes the
screen's token from its link's fragment (``/live/{contest}/{stage}#token=…``: never sent to a
server) or as typed, keeps it on the device, and sends it once, in the Authorization header, to
``POST /live/{contest}/{stage}/ticket``. The answer sets a cookie holding a ticket, never the
token: ``v1.<payload>.<mac>``, the payload (base64url JSON) the holder's role, id and scope, the stage
and the expiry, the MAC an HMAC-SHA256 over it with the gateway's ticket key. The cookie is
HttpOnly, SameSite=Strict, scoped to the stage's stream (``Path=/live/{contest}/{stage}/events``),
lives ``TTL_S`` seconds, and is Secure when the page came over https (directly, or through a
proxy that says so in X-Forwarded-Proto); over plain http (``leitai up``, local development, a
hall's network without TLS) it cannot be, or the browser would never send it back. The stream
checks the ticket on each request: a missing, forged, altered, expired or another stage's
ticket is a 401 that says which. A program may send its bearer token to the stream in the
Authorization header instead.

The ticket key is derived from LEITAI_CONSISTENCY_KEY (every replica of the gateway shares it,
so a ticket one replica issued opens the stream on another; production requires it); without
one, each process makes its own, and its tickets open only its own streams.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from leitai.errors import InvalidInput
from leitai.grants import holder
from leitai.messages import N_
from services.gateway.auth import Unauthorized
from services.gateway.http import json_response
from services.gateway.settings import load

COOKIE = "leitai_live"
TTL_S = 60  # long enough to open the stream; the page asks again for each new connection
VERSION = "v1"
KEY_CONTEXT = b"leitai live-screen ticket key v1"  # the ticket key: HMAC(consistency key, this)
MAC_CONTEXT = b"leitai live-screen ticket v1\n"
TOKEN_IN_URL = N_(
    "a token never goes in a URL (access logs, browser history and Referer would keep it): open the big "
    "screen as /live/{contest}/{stage}#token=<token> (the fragment stays in the browser); a program sends "
    "Authorization: Bearer <token>"
)
NO_TICKET = N_(
    "no screen ticket: open the big screen with its link (/live/{contest}/{stage}#token=…); its page "
    "fetches a ticket with POST /live/{contest}/{stage}/ticket before it opens the stream"
)
FORGED = N_("the screen ticket is not valid (altered, made up, or issued with another key): the page fetches a new one")
EXPIRED = N_("the screen ticket has expired: the page fetches a new one")
ELSEWHERE = N_("the screen ticket is for another stage's stream")


def stream_path(contest_id: str, stage_id: str) -> str:
    return f"/live/{contest_id}/{stage_id}/events"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Tickets:
    """Issues (``issue``) and checks (``check``) the screen's tickets with ``key``."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def derived(cls, consistency_key: str | None) -> Tickets:
        """Tickets keyed from the gateway's shared key; without one, a key of this process's own."""
        if not consistency_key:
            return cls(secrets.token_bytes(32))
        return cls(hmac.new(consistency_key.encode(), KEY_CONTEXT, hashlib.sha256).digest())

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, MAC_CONTEXT + payload.encode(), hashlib.sha256).digest())

    def issue(self, actor: dict, contest_id: str, stage_id: str, now: float, ttl_s: int = TTL_S) -> str:
        claims = {
            **holder(actor),  # role, id and where the grant reaches
            "contest_id": contest_id,
            "stage_id": stage_id,
            "exp": int(now) + ttl_s,
        }
        payload = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
        return f"{VERSION}.{payload}.{self._mac(payload)}"

    def check(self, ticket: str | None, contest_id: str, stage_id: str, now: float) -> dict:
        """The actor (role, id and the grant's scope) ``ticket`` was issued to, for this stage's stream and still in
        date; Unauthorized saying why not."""
        if not ticket:
            raise Unauthorized(NO_TICKET)
        version, _, rest = ticket.partition(".")
        payload, _, mac = rest.partition(".")
        if version != VERSION or not payload or not hmac.compare_digest(self._mac(payload), mac):
            raise Unauthorized(FORGED)
        try:
            claims = json.loads(_unb64(payload))
            actor = holder({**claims, "role": str(claims["role"]), "id": str(claims["id"])})
            expires = int(claims["exp"])
            stage = (claims["contest_id"], claims["stage_id"])
        except (ValueError, binascii.Error, KeyError, TypeError):  # signed by us, so never; but no 500 if so
            raise Unauthorized(FORGED) from None
        if now >= expires:
            raise Unauthorized(EXPIRED)
        if stage != (contest_id, stage_id):
            raise Unauthorized(ELSEWHERE)
        return actor


def over_https(request) -> bool:
    """The page came over https: to this process, or to the proxy in front of it (which says so)."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.scheme == "https" or forwarded == "https"


def refuse_token_in_url(request) -> None:
    """400 for a request that carries ``?token=``: it was never to be there."""
    if "token" in request.args:
        raise InvalidInput(TOKEN_IN_URL, {"token": [TOKEN_IN_URL]})


class Screen:
    """The screen's tickets, for the request a worker handles."""

    def __init__(self, tickets: Tickets, request) -> None:
        self.tickets, self.request = tickets, request

    def ticket(self, actor: dict, contest_id: str, stage_id: str) -> Response:
        """The answer to POST …/ticket (``actor`` already let in): the cookie and what it is for."""
        path = stream_path(contest_id, stage_id)
        answer = json_response(200, {"stream": path, "expires_in": TTL_S})
        answer.set_cookie(
            COOKIE,
            self.tickets.issue(actor, contest_id, stage_id, time.time()),
            max_age=TTL_S,
            path=path,
            secure=over_https(self.request),
            httponly=True,
            samesite="Strict",
        )
        return answer

    def no_token_in_url(self) -> None:
        refuse_token_in_url(self.request)

    def watcher(self, identify: Callable[[str], dict | None], contest_id: str, stage_id: str) -> dict | None:
        """Who opens the stream: the holder of the bearer token in the Authorization header if
        there is one (``identify``: the gateway's look-up, minted grants included; None: not a
        token of ours), else the ticket's (Unauthorized saying why not); 400 for a token in the
        query string."""
        refuse_token_in_url(self.request)
        authorization = self.request.headers.get("Authorization")
        if authorization:
            return identify(authorization)
        return self.tickets.check(self.request.cookies.get(COOKIE), contest_id, stage_id, time.time())


class ScreenTickets(DependencyProvider):
    """The process's ``Tickets``; to a worker, a ``Screen`` bound to the request it handles."""

    def setup(self) -> None:
        self.tickets = Tickets.derived(load(self.container.config)["LEITAI_CONSISTENCY_KEY"])

    def get_dependency(self, worker_ctx) -> Screen:
        # an @http entrypoint's worker is called with the request first
        return Screen(self.tickets, worker_ctx.args[0] if worker_ctx.args else None)

"""Read your writes across services: a token for what a write appended, and the wait for it.

A write answers with a token (``Leitai-Written``) naming the commit it appended: its stream,
its first version and the types of its events, in order. A request that depends on another
service's view of that write sends the token back (``Leitai-After``); the service that
answers it first waits until it has consumed every event of the commit that it consumes at
all, so that publishing right after the last lock sees the lock, and the standings right
after a sheet count the sheet. Past a bound it answers 503 with Retry-After: "not yet", never
a refusal it would not give a moment later.

Why not a log position: positions are assigned after the commit, by the sequencer, so a
write cannot answer with one without waiting for the relay; and a view's highest applied
position says nothing of an earlier event still being retried or handled by a competing
consumer. A token names the very events, and a service counts the ones it has applied.

What leaves the gateway is a token sealed (``Seal``): the token, an expiry and an
HMAC-SHA256 over both with the gateway's key, so that a client can only send back what the
gateway handed out. A forged, altered or truncated token, or one sealed with another key, is
refused before anything waits for it; one past its expiry is no longer waited for.

Pure: the tokens, their seals (the time comes in as an argument) and the note of what a worker
wrote (a context variable: each nameko worker runs in a greenlet of its own, with a context of
its own).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Collection, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import groupby

from leitai.errors import InvalidInput

WRITTEN_HEADER = "Leitai-Written"
AFTER_HEADER = "Leitai-After"
MAX_TOKENS = 16  # one request may wait for this many writes
MAX_TOKEN_CHARS = 1024


@dataclass(frozen=True)
class Written:
    """One commit: ``runs`` are its event types in order, as (type, how many in a row)."""

    stream_id: str
    first_version: int
    runs: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, stream_id: str, first_version: int, event_types: Sequence[str]) -> Written:
        return cls(stream_id, first_version, tuple((t, len(list(g))) for t, g in groupby(event_types)))

    @property
    def last_version(self) -> int:
        return self.first_version + sum(n for _, n in self.runs) - 1

    def count_of(self, event_types: Collection[str]) -> int:
        """How many of the commit's events are of ``event_types``."""
        return sum(n for t, n in self.runs if t in event_types)

    def encode(self) -> str:
        raw = json.dumps(
            [self.stream_id, self.first_version, [list(r) for r in self.runs]],
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Written:
        """Raises ValueError on anything but a token ``encode`` made."""
        if not 0 < len(token) <= MAX_TOKEN_CHARS:
            raise ValueError(f"a token has 1 to {MAX_TOKEN_CHARS} characters")
        try:
            stream_id, first, runs = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise ValueError("not a token this API issued") from None
        if not (
            isinstance(stream_id, str)
            and stream_id
            and _count(first)
            and isinstance(runs, list)
            and runs
            and all(isinstance(r, list) and len(r) == 2 and isinstance(r[0], str) and _count(r[1]) for r in runs)
        ):
            raise ValueError("not a token this API issued")
        return cls(stream_id, first, tuple((t, n) for t, n in runs))


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def parse(header: str) -> list[Written]:
    """The tokens of a ``Leitai-After`` header: comma-separated, as the ``Leitai-Written``
    headers of several writes joined. Raises ValueError naming what is wrong."""
    tokens = [t.strip() for t in header.split(",") if t.strip()]
    if not 1 <= len(tokens) <= MAX_TOKENS:
        raise ValueError(f"1 to {MAX_TOKENS} comma-separated tokens, each from a {WRITTEN_HEADER} header")
    return [Written.decode(t) for t in tokens]


def after(header: str) -> list[Written]:
    """``parse``, for a request: what is wrong is an InvalidInput naming the header."""
    try:
        return parse(header)
    except ValueError as exc:
        raise InvalidInput(
            "the {header} header is not valid", {AFTER_HEADER: [str(exc)]}, header=AFTER_HEADER
        ) from None


# -- sealed tokens: what the gateway hands out and takes back -----------------------------
SEAL_CONTEXT = b"leitai Leitai-Written v1\n"  # a MAC of a token and nothing else
MIN_KEY_BYTES = 32
_SEALED = re.compile(rf"([A-Za-z0-9_-]{{1,{MAX_TOKEN_CHARS}}})\.([0-9]{{1,12}})\.([A-Za-z0-9_-]{{43}})")
NOT_ISSUED = (
    "not a token this API issued (altered, truncated, made up, or sealed with another deployment's key): "
    f"send back only the {WRITTEN_HEADER} tokens of your own writes, as they came"
)


class Seal:
    """Seals a token for a client (``seal``) and opens what a client sends back (``open``):
    ``<token>.<expires>.<mac>``, the MAC an HMAC-SHA256 with ``key`` over the token and its
    expiry (whole seconds since the epoch)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a key of at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def _mac(self, token: str, expires: str) -> str:
        digest = hmac.new(self._key, SEAL_CONTEXT + f"{token}.{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def seal(self, token: str, expires: int) -> str:
        return f"{token}.{expires}.{self._mac(token, str(expires))}"

    def open(self, sealed: str, now: float) -> str | None:
        """The token ``sealed`` carries; None once it expired (at ``now``). ValueError for
        anything this key did not seal."""
        found = _SEALED.fullmatch(sealed)
        if found is None or not hmac.compare_digest(self._mac(found[1], found[2]), found[3]):
            raise ValueError(NOT_ISSUED)
        Written.decode(found[1])  # sealed by us, so one of ours: this only guards the services
        return found[1] if now < int(found[2]) else None

    def after(self, header: str, now: float) -> str | None:
        """A ``Leitai-After`` header, opened: the tokens still in date, joined as the services
        read them (None when every one has expired: nothing to wait for). InvalidInput naming
        the header when a token is malformed or not sealed with this key."""
        try:
            sealed = [t.strip() for t in header.split(",") if t.strip()]
            if not 1 <= len(sealed) <= MAX_TOKENS:
                raise ValueError(f"1 to {MAX_TOKENS} comma-separated tokens, each from a {WRITTEN_HEADER} header")
            opened = [token for token in (self.open(t, now) for t in sealed) if token is not None]
        except ValueError as exc:
            raise InvalidInput(
                "the {header} header is not valid", {AFTER_HEADER: [str(exc)]}, header=AFTER_HEADER
            ) from None
        return ", ".join(opened) or None


# -- what the running worker wrote ------------------------------------------------------
_written: ContextVar[tuple[str, ...]] = ContextVar("leitai_written", default=())


def note(token: str) -> None:
    """Record that the running worker wrote (or, answering a retry, had written) ``token``."""
    _written.set((*_written.get(), token))


def taken() -> list[str]:
    """What the running worker wrote, forgotten as it is taken."""
    tokens = list(_written.get())
    _written.set(())
    return tokens

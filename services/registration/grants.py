"""Minted grants: a judge (or an office, a screen) let in by ``leitai grant mint``, without
editing the gateway's LEITAI_TOKENS and restarting it.

One document a grant in registration's database, collection ``grants``: ``_id`` the grant's id
(``grant-<12 hex>``), ``digest`` the sha256 of its token (hex, unique), the grant itself (role,
id and one scope: leitai/grants.py), ``label`` (whose it is, in words), ``minted_by``,
``minted_at``, ``expires_at`` (UTC, ISO 8601) and, once revoked, ``revoked_at``, ``revoked_by``
and ``revoke_reason``. The token itself is never stored: it is shown once, when it is minted,
and found again only by its digest (the gateway asks ``holder(digest)`` through registration's
``grant_holder`` RPC). Not event-sourced: a grant is who may come in, not a fact of a contest.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from pymongo import ReturnDocument
from pymongo.database import Database

from leitai.access import SCOPES
from leitai.errors import InvalidInput, NotFound
from leitai.grants import GrantSchema, holder, new_token
from leitai.messages import N_, Said, text

GRANTS = "grants"
MAX_DAYS = 366
MAX_LABEL = 200
_DIGEST = re.compile(r"[0-9a-f]{64}")
# what a listing shows: everything but the digest
_SHOWN = (
    "role",
    "id",
    *SCOPES,
    "label",
    "minted_by",
    "minted_at",
    "expires_at",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
)


def digest_of(token: str) -> str:
    """The sha256 of a token, in hex: what a grant is kept and found by."""
    return hashlib.sha256(token.encode()).hexdigest()


def iso(moment: datetime) -> str:
    """A moment in UTC as ISO 8601 to the second (``2026-06-01T09:00:00Z``): strings of this one
    form sort as the moments do."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class Minted:
    grant_id: str
    token: str  # shown once; not kept anywhere
    grant: dict[str, Any]  # role, id and its one scope
    label: str
    expires_at: str


def status(record: Mapping[str, Any], now: datetime) -> str:
    """``active``, ``expired`` or ``revoked``."""
    if record.get("revoked_at"):
        return "revoked"
    return "expired" if _moment(record["expires_at"]) <= now else "active"


class GrantStore:
    def __init__(self, db: Database) -> None:
        self._collection = db[GRANTS]

    @classmethod
    def opened(cls, db: Database) -> GrantStore:
        """The store over ``db``, its indexes made (idempotent): at a service's start-up."""
        store = cls(db)
        store.ensure_indexes()
        return store

    def ensure_indexes(self) -> None:
        self._collection.create_index("digest", unique=True)
        self._collection.create_index("contest")
        self._collection.create_index("office")

    def mint(self, grant: Mapping[str, Any], *, label: str, by: str, days: int, now: datetime | None = None) -> Minted:
        """A new grant and its token (``lt_`` + 32 random bytes, URL-safe base64): InvalidInput,
        keyed by field, for a grant GrantSchema refuses, a label too long or days out of 1..366."""
        problems: dict[str, list[Said]] = {}
        try:
            loaded = holder(GrantSchema().load(dict(grant)))
        except ValidationError as exc:
            problems.update({k: list(v) for k, v in _messages(exc).items()})
            loaded = {}
        label = label.strip()
        if len(label) > MAX_LABEL or any(unicodedata.category(c).startswith("C") for c in label):
            problems["label"] = [text("at most {max} characters, none of them a control character", max=MAX_LABEL)]
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
            problems["days"] = [text("a whole number of days from 1 to {max}", max=MAX_DAYS)]
        if not by.strip():
            problems["minted_by"] = [N_("who mints it, in words")]
        if problems:
            raise InvalidInput("this grant cannot be minted", problems)
        moment = now or datetime.now(UTC)
        token = new_token()
        grant_id = f"grant-{secrets.token_hex(6)}"
        expires_at = iso(moment + timedelta(days=days))
        self._collection.insert_one(
            {
                "_id": grant_id,
                "digest": digest_of(token),
                **loaded,
                "label": label,
                "minted_by": by.strip(),
                "minted_at": iso(moment),
                "expires_at": expires_at,
                "revoked_at": None,
                "revoked_by": None,
                "revoke_reason": None,
            }
        )
        return Minted(grant_id, token, loaded, label, expires_at)

    def holder(self, digest: str, now: datetime | None = None) -> dict[str, Any] | None:
        """The actor of the grant whose token has this digest (role, id, its scope and
        ``grant_id``); None when there is none, or it expired or was revoked."""
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            return None
        record = self._collection.find_one({"digest": digest})
        if record is None or status(record, now or datetime.now(UTC)) != "active":
            return None
        return holder(record) | {"grant_id": record["_id"]}

    def revoke(self, grant_id: str, by: str, reason: str, now: datetime | None = None) -> tuple[dict[str, Any], bool]:
        """Revoke a grant (from now on its token lets no one in): the grant as ``list`` shows it,
        and whether this call revoked it (False: it was revoked already, and is left as it was
        revoked the first time). NotFound for no such grant; InvalidInput without who or why."""
        problems = {
            name: [N_("give it, in words")]
            for name, value in (("revoked_by", by), ("reason", reason))
            if not value.strip()
        }
        if problems:
            raise InvalidInput("a revocation says who and why", problems)
        revoked = self._collection.find_one_and_update(
            {"_id": grant_id, "revoked_at": None},
            {"$set": {"revoked_at": iso(now or datetime.now(UTC)), "revoked_by": by.strip(), "revoke_reason": reason}},
            return_document=ReturnDocument.AFTER,
        )
        record = revoked or self._collection.find_one({"_id": grant_id})
        if record is None:
            raise NotFound("no grant {grant_id}", grant_id=grant_id)
        return _shown(record), revoked is not None

    def list(
        self, contest: str | None = None, office: str | None = None, now: datetime | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Every grant (of one contest, or of one office), oldest first, without its digest, with
        its ``status`` now (active, expired or revoked)."""
        query = {k: v for k, v in (("contest", contest), ("office", office)) if v is not None}
        moment = now or datetime.now(UTC)
        return [
            _shown(r) | {"status": status(r, moment)}
            for r in self._collection.find(query, {"digest": 0}, sort=[("minted_at", 1), ("_id", 1)])
        ]


def _shown(record: Mapping[str, Any]) -> dict[str, Any]:
    return {"grant_id": record["_id"], **{k: record[k] for k in _SHOWN if record.get(k) not in (None, False)}}


def _messages(exc: ValidationError) -> dict[str, Any]:
    messages = exc.messages
    return messages if isinstance(messages, dict) else {"grant": messages}

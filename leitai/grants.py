"""What a grant is: a role, who holds it, and its scope (leitai/access.py says what a scope
reaches). The one schema for the grants configured in LEITAI_TOKENS and those minted with
``leitai grant mint``; and the form of a minted token."""

from __future__ import annotations

import re
import secrets
from typing import Any

import segno
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from leitai.access import SCOPES
from leitai.contracts.fields import Id
from leitai.messages import N_
from leitai.roles import JUDGE, ORGANISER, ROLES, SUPERVISOR

# a minted token (``leitai grant mint``): lt_ and 32 random bytes in URL-safe base64. The gateway
# looks up only a token of this form: nothing else costs registration a request
TOKEN_PREFIX = "lt_"
MINTED_TOKEN = re.compile(r"lt_[A-Za-z0-9_-]{43}")


# the page a grant's holder signs in at, the token in its fragment (which no server sees); a
# screen has none: it types its token in on the big screen
SIGN_IN_PAGES = {JUDGE: "/judge", ORGANISER: "/console", SUPERVISOR: "/console"}


def sign_in_link(base_url: str, role: str, token: str) -> str | None:
    """Where ``token``'s holder signs in (its page, the token in the fragment), or None for a
    role that types its token in (a screen)."""
    page = SIGN_IN_PAGES.get(role)
    return None if page is None else f"{base_url}{page}#token={token}"


def sign_in_code(link: str) -> segno.QRCode:
    """The QR code of a sign-in link, as the console draws it and the CLI prints it."""
    return segno.make_qr(link, error="m")


def new_token() -> str:
    """A new minted token, of the form MINTED_TOKEN."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class GrantSchema(Schema):
    """``{"role": "judge", "id": "J1", "contest": "boai-2026"}``: exactly one scope; a judge's
    is always a contest (judges act only where they are seated, by the contest the grant names:
    a judge id is not an identity across contests)."""

    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    id = Id(required=True)
    contest = Id(load_default=None)
    office = Id(load_default=None)
    deployment = fields.Boolean(load_default=False, truthy={True}, falsy={False})  # true, not "yes"

    @validates_schema
    def _one_scope(self, data: dict[str, Any], **kwargs: Any) -> None:
        named = [s for s in SCOPES if data.get(s)]
        if len(named) != 1:
            raise ValidationError(
                N_('exactly one scope: "contest": <contest id>, "office": <county code> or "deployment": true'),
                "scope",
            )
        if data["role"] == JUDGE and named != ["contest"]:
            raise ValidationError(N_('a judge\'s grant names its contest: "contest": <contest id>'), "contest")

    @post_load
    def _as_holder(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return holder(data)


def holder(grant: dict[str, Any]) -> dict[str, Any]:
    """A loaded grant as the actor the services see: role, id and the one scope it names."""
    return {k: v for k, v in grant.items() if k in ("role", "id") or (k in SCOPES and v)}

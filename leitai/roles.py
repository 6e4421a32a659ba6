"""Who may act: the roles a bearer token carries, and the one guard every service uses.
Pure: the standard library only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leitai.errors import Forbidden

ORGANISER = "organiser"  # runs the contest
JUDGE = "judge"  # scores the sessions they are seated on
SCREEN = "screen"  # the venue's big screen: reads live standings, nothing else
SUPERVISOR = "supervisor"  # discipline inspection (纪检): decides appeals, sees what organisers see of them
ROLES = (ORGANISER, JUDGE, SCREEN, SUPERVISOR)  # what a token may carry
PUBLIC = "public"  # a request without a token


def has_role(actor: Mapping[str, Any], *roles: str) -> bool:
    return actor.get("role") in roles


def require_role(actor: Mapping[str, Any], *roles: str, to: str) -> None:
    """Forbidden unless ``actor`` holds one of ``roles``; ``to`` says what they tried to do."""
    if not has_role(actor, *roles):
        allowed = " or ".join(f"an {r}" if r[0] in "aeiou" else f"a {r}" for r in roles)
        raise Forbidden(f"only {allowed} may {to}")

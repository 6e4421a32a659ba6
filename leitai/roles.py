"""Who may act: the roles a bearer token carries, and the one guard every service uses.
Pure: the standard library and leitai's errors and messages only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leitai.errors import Forbidden
from leitai.messages import N_, text

ORGANISER = "organiser"  # runs the contest
JUDGE = "judge"  # scores the sessions they are seated on
SCREEN = "screen"  # the venue's big screen: reads live standings, nothing else
SUPERVISOR = "supervisor"  # discipline inspection (纪检): decides appeals, sees what organisers see of them
ROLES = (ORGANISER, JUDGE, SCREEN, SUPERVISOR)  # what a token may carry
PUBLIC = "public"  # a request without a token
# each role as a refusal names it ("only an organiser may …"): a message of its own, so that
# every language says it in its own words
ROLE_NAMES = {
    ORGANISER: N_("an organiser"),
    JUDGE: N_("a judge"),
    SCREEN: N_("a screen"),
    SUPERVISOR: N_("a supervisor"),
}


def has_role(actor: Mapping[str, Any], *roles: str) -> bool:
    return actor.get("role") in roles


def require_role(actor: Mapping[str, Any], *roles: str, to: str) -> None:
    """Forbidden unless ``actor`` holds one of ``roles`` (one or two: every action of
    leitai/access.py names so many); ``to`` says what they tried to do (the action's words, a
    message id)."""
    if not has_role(actor, *roles):
        names = [text(ROLE_NAMES.get(r, r)) for r in roles]
        if len(names) == 1:
            raise Forbidden("only {role} may {to}", role=names[0], to=text(to))
        first, other = names  # more would need words for a list in every language
        raise Forbidden("only {role} or {other} may {to}", role=first, other=other, to=text(to))

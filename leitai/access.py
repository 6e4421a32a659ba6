"""Who may do what, declared once: each action a route or a service method guards, the roles
that may do it and the words a refusal uses. Pure: the standard library and leitai.roles only.

The gateway's routes name their action (``@endpoint(..., action="lock_session")``) and let in
the roles declared here; the services check the same action again with :func:`require`
(tests/unit/test_access.py holds the two to each other). Where a service admits fewer than the
role (the head judge of the session, not every judge), the table holds the role, the outer set
the gateway admits, and the service keeps its narrower domain check: the comments say where.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leitai.roles import JUDGE, ORGANISER, SCREEN, SUPERVISOR, has_role, require_role


@dataclass(frozen=True)
class Action:
    roles: tuple[str, ...]  # who may, in the order a refusal names them
    to: str  # "only an organiser may <to>"
    gateway_only: bool = False  # the service takes no actor: the gateway's check is the only one
    # the route is public and the service shows these roles more than the public (allows()):
    # no route names it, the service alone checks it
    widens_public: bool = False


ACTIONS: dict[str, Action] = {
    # -- registration ---------------------------------------------------------------
    "import_regions": Action((ORGANISER,), "import a region tree"),
    "create_contest": Action((ORGANISER,), "create a contest"),
    "define_stage": Action((ORGANISER,), "define a stage"),
    "register_judge": Action((ORGANISER,), "register a judge"),
    "submit_entries": Action((ORGANISER,), "register entries"),
    "withdraw_entry": Action((ORGANISER,), "withdraw an entry"),
    "schedule_session": Action((ORGANISER,), "schedule a session"),
    "seat_panel": Action((ORGANISER,), "seat a panel"),
    "draw_order": Action((ORGANISER,), "draw the order of appearance"),
    "open_session": Action((ORGANISER,), "open a session"),
    "create_series": Action((ORGANISER,), "create a forum series"),
    "schedule_meeting": Action((ORGANISER,), "schedule a forum meeting"),
    "record_meeting": Action((ORGANISER,), "record a forum meeting"),
    "decide_advancement": Action((ORGANISER,), "decide an advancement change"),
    "see_participation": Action((ORGANISER,), "see the forum participation", gateway_only=True),
    # the public view of a contest is an allow-list (services/registration/contest.py,
    # PUBLIC_FIELDS); these see its set-up too: panels, conflicts, the video room, lot seeds
    # (organisers also the people's contacts)
    "see_contest_setup": Action((ORGANISER, SUPERVISOR), "see a contest's set-up", widens_public=True),
    # -- scoring --------------------------------------------------------------------
    # the session narrows it: a judge seated on it, not standing aside (ScoringSession.submit)
    "submit_sheet": Action((JUDGE,), "submit score sheets"),
    "see_judge_desk": Action((JUDGE,), "see a judge's sessions"),
    # the session narrows it: an organiser, or the session's head judge (ScoringSession.lock)
    "lock_session": Action((ORGANISER, JUDGE), "lock a session"),
    # the service narrows it: a judge seated on the session sees their own sheets, its head
    # judge (and an organiser) everything (Scoring.session_status)
    "see_session_scoring": Action((ORGANISER, JUDGE), "see a session's scoring"),
    "propose_correction": Action((ORGANISER,), "propose a correction"),
    # the session narrows it: never the proposer approves, only the proposer withdraws
    "decide_correction": Action((ORGANISER, SUPERVISOR), "decide a correction"),
    "see_corrections": Action((ORGANISER, SUPERVISOR), "see corrections"),
    # a stage's sessions' scores, sheets and comments are public once the stage is published;
    # before, organisers and the session's head judge see them (the services narrow a judge)
    "see_unpublished_scores": Action((ORGANISER, JUDGE), "see scores before they are published", widens_public=True),
    # -- ranking --------------------------------------------------------------------
    "list_contests": Action((ORGANISER,), "list the contests"),
    "publish_results": Action((ORGANISER,), "publish results"),
    # the live stream at the gateway; on the public leaderboard, the live standings (and as
    # they stood) instead of the published ones (Ranking.leaderboard)
    "see_live_standings": Action((ORGANISER, SCREEN), "see live standings"),
    # the big screen's ticket for its stream (the gateway's alone: no service takes part)
    "open_live_screen": Action((ORGANISER, SCREEN), "open the live screen", gateway_only=True),
    "see_calibration": Action((ORGANISER,), "see the judges' calibration"),
    "export_results": Action((ORGANISER,), "export a stage's results", gateway_only=True),
    "file_appeal": Action((ORGANISER,), "file an appeal"),
    "decide_appeal": Action((ORGANISER, SUPERVISOR), "decide an appeal"),
    "see_appeals": Action((ORGANISER, SUPERVISOR), "see the appeals"),
    # -- notify ---------------------------------------------------------------------
    "manage_notices": Action((ORGANISER,), "see or change notices"),
}


def allows(actor: Mapping[str, Any], action: str) -> bool:
    """Whether ``actor``'s role may do ``action`` (to choose what a reader is shown)."""
    return has_role(actor, *ACTIONS[action].roles)


def require(actor: Mapping[str, Any], action: str) -> None:
    """Forbidden unless ``actor``'s role may do ``action``: "only an organiser may lock a session"."""
    declared = ACTIONS[action]
    require_role(actor, *declared.roles, to=declared.to)

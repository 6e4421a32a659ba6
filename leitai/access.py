"""Who may do what, declared once: each action a route or a service method guards, the roles
that may do it and the words a refusal uses; and where a grant reaches (tenancy). Pure: the
standard library and leitai.roles only.

A grant is a role and a scope (docs/security.md, "Tenancy"): one contest (``"contest": id``),
an organising office (``"office": county code``: the contests it owns), or the whole
deployment (``"deployment": true``, the operator's). A check names the :class:`Place` it acts
on: the contest and the office that owns it; a grant that does not reach it is refused with
a reason that says so, whatever its role.

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

from leitai.errors import Forbidden
from leitai.messages import N_, Text, text
from leitai.roles import JUDGE, ORGANISER, SCREEN, SUPERVISOR, has_role, require_role

SCOPES = ("contest", "office", "deployment")  # what a grant's scope may name, narrowest first


@dataclass(frozen=True)
class Place:
    """What an action acts on: a contest, and the office (the county's code) that owns it, if
    known (None: a grant by office does not reach it)."""

    contest_id: str
    office: str | None


@dataclass(frozen=True)
class Action:
    roles: tuple[str, ...]  # who may, in the order a refusal names them
    to: str  # "only an organiser may <to>": a message id (N_), said in the reader's language
    gateway_only: bool = False  # the service takes no actor: the gateway's check is the only one
    # the route is public and the service shows these roles more than the public (allows()):
    # no route names it, the service alone checks it
    widens_public: bool = False
    # acts on no one contest (the judge's own desk, the list of contests, region trees): the
    # service narrows what it shows, or checks what it acts on, itself
    scoped: bool = True


ACTIONS: dict[str, Action] = {
    # -- registration ---------------------------------------------------------------
    "import_regions": Action((ORGANISER,), N_("import a region tree"), scoped=False),
    "create_contest": Action((ORGANISER,), N_("create a contest")),
    # the formats a contest starts from (leitai/formats.py): the same for every county
    "see_formats": Action((ORGANISER,), N_("see the contest formats"), gateway_only=True, scoped=False),
    "define_stage": Action((ORGANISER,), N_("define a stage")),
    "register_judge": Action((ORGANISER,), N_("register a judge")),
    "submit_entries": Action((ORGANISER,), N_("register entries")),
    "register_roster": Action((ORGANISER,), N_("register judges and entries")),
    "withdraw_entry": Action((ORGANISER,), N_("withdraw an entry")),
    "schedule_session": Action((ORGANISER,), N_("schedule a session")),
    "seat_panel": Action((ORGANISER,), N_("seat a panel")),
    "draw_order": Action((ORGANISER,), N_("draw the order of appearance")),
    "open_session": Action((ORGANISER,), N_("open a session")),
    "create_series": Action((ORGANISER,), N_("create a forum series")),
    "schedule_meeting": Action((ORGANISER,), N_("schedule a forum meeting")),
    "record_meeting": Action((ORGANISER,), N_("record a forum meeting")),
    "decide_advancement": Action((ORGANISER,), N_("decide an advancement change")),
    # a judge's (or a hall screen's) grant for the contest: its sign-in link, once; the list; revoking
    "invite": Action((ORGANISER,), N_("invite judges and screens")),
    "see_participation": Action((ORGANISER,), N_("see the forum participation"), gateway_only=True),
    # the public view of a contest is an allow-list (services/registration/contest.py,
    # PUBLIC_FIELDS); these see its set-up too: panels, conflicts, the video room, lot seeds
    # (organisers also the people's contacts)
    "see_contest_setup": Action((ORGANISER, SUPERVISOR), N_("see a contest's set-up"), widens_public=True),
    # -- scoring --------------------------------------------------------------------
    # the session narrows it: a judge seated on it, not standing aside (ScoringSession.submit)
    "submit_sheet": Action((JUDGE,), N_("submit score sheets")),
    "see_judge_desk": Action((JUDGE,), N_("see a judge's sessions"), scoped=False),
    # the session narrows it: an organiser, or the session's head judge (ScoringSession.lock)
    "lock_session": Action((ORGANISER, JUDGE), N_("lock a session")),
    # the service narrows it: a judge seated on the session sees their own sheets, its head
    # judge (and an organiser) everything (Scoring.session_status)
    "see_session_scoring": Action((ORGANISER, JUDGE), N_("see a session's scoring")),
    "propose_correction": Action((ORGANISER,), N_("propose a correction")),
    # the session narrows it: never the proposer approves, only the proposer withdraws
    "decide_correction": Action((ORGANISER, SUPERVISOR), N_("decide a correction")),
    "see_corrections": Action((ORGANISER, SUPERVISOR), N_("see corrections")),
    # a stage's sessions' scores, sheets and comments are public once the stage is published;
    # before, organisers and the session's head judge see them (the services narrow a judge)
    "see_unpublished_scores": Action(
        (ORGANISER, JUDGE), N_("see scores before they are published"), widens_public=True
    ),
    # -- ranking --------------------------------------------------------------------
    # the supervisor (纪检) finds the contests whose corrections and appeals are theirs to decide
    "list_contests": Action((ORGANISER, SUPERVISOR), N_("list the contests"), scoped=False),
    # who the grant presented is: what a page shows and offers follows from it
    "see_self": Action(
        (ORGANISER, JUDGE, SCREEN, SUPERVISOR), N_("see their own grant"), gateway_only=True, scoped=False
    ),
    "publish_results": Action((ORGANISER,), N_("publish results")),
    # the live stream at the gateway; on the public leaderboard, the live standings (and as
    # they stood) instead of the published ones (Ranking.leaderboard)
    "see_live_standings": Action((ORGANISER, SCREEN), N_("see live standings")),
    # 现场亮分: a session's scores as they come in, on the hall's screen (each seat's total, the
    # drops, the score), before publication: the hall's screen and organisers
    "see_hall": Action((ORGANISER, SCREEN), N_("see a hall's live scores")),
    # the big screen's ticket for its stream (the gateway's alone: no service takes part)
    "open_live_screen": Action((ORGANISER, SCREEN), N_("open the live screen"), gateway_only=True),
    "see_calibration": Action((ORGANISER,), N_("see the judges' calibration")),
    "export_results": Action((ORGANISER,), N_("export a stage's results"), gateway_only=True),
    "file_appeal": Action((ORGANISER,), N_("file an appeal")),
    "decide_appeal": Action((ORGANISER, SUPERVISOR), N_("decide an appeal")),
    "see_appeals": Action((ORGANISER, SUPERVISOR), N_("see the appeals")),
    # -- notify ---------------------------------------------------------------------
    "manage_notices": Action((ORGANISER,), N_("see or change notices")),
}


def allows(actor: Mapping[str, Any], action: str, place: Place | None) -> bool:
    """Whether ``actor``'s role may do ``action`` on ``place`` (to choose what a reader is shown)."""
    return has_role(actor, *_declared(action, place).roles) and (place is None or reaches(actor, place))


def require(actor: Mapping[str, Any], action: str, place: Place | None) -> None:
    """Forbidden unless ``actor``'s role may do ``action`` ("only an organiser may lock a
    session") on ``place``, which its grant must reach ("this grant is for contest A, not B").
    ``place`` is None exactly for the actions that act on no one contest (``scoped=False``)."""
    declared = _declared(action, place)
    require_role(actor, *declared.roles, to=declared.to)
    if place is not None:
        require_reach(actor, place)


def require_role_for(actor: Mapping[str, Any], action: str) -> None:
    """Forbidden unless ``actor``'s role may ever do ``action``: checked before what it acts on
    is looked up, so that a role that may not learns nothing (not even that it does not
    exist); :func:`require` checks the place once it is known."""
    declared = ACTIONS[action]
    require_role(actor, *declared.roles, to=declared.to)


def reaches(actor: Mapping[str, Any], place: Place) -> bool:
    """Whether ``actor``'s grant covers ``place``: its contest, its office, or everywhere."""
    if actor.get("deployment") is True:
        return True
    if actor.get("contest") is not None:
        return bool(actor["contest"] == place.contest_id)
    return actor.get("office") is not None and actor["office"] == place.office


def require_reach(actor: Mapping[str, Any], place: Place) -> None:
    """Forbidden, saying whose the grant is, unless it reaches ``place``."""
    if not reaches(actor, place):
        raise Forbidden(
            "{scope}, not for contest {contest_id}",
            {"contest_id": [place.contest_id]},
            scope=scope_of(actor),
            contest_id=place.contest_id,
        )


def scope_key(actor: Mapping[str, Any]) -> str:
    """A grant's scope as a key ("contest:c", "office:410822", "deployment:True"; "" for none):
    what tells org1 of one county from org1 of another wherever a holder is counted or keyed."""
    return next((f"{name}:{actor[name]}" for name in SCOPES if actor.get(name)), "")


def scope_of(actor: Mapping[str, Any]) -> Text:
    """A grant's scope in words, for a refusal: "this grant is for contest boai-2026"."""
    if actor.get("contest") is not None:
        return text("this grant is for contest {contest_id}", contest_id=actor["contest"])
    if actor.get("office") is not None:
        return text("this grant is for the contests of office {office}", office=actor["office"])
    return text("this grant reaches no contest")


def _declared(action: str, place: Place | None) -> Action:
    declared = ACTIONS[action]
    if declared.scoped != (place is not None):  # a programming error: the place was forgotten
        raise TypeError(f"{action} acts on {'a' if declared.scoped else 'no'} contest: place={place!r}")
    return declared

"""Registration's service layer: each command and query against its event store.

No nameko here: service.py maps entrypoints onto these methods, and the fast tests run them
against the in-memory event store.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from marshmallow import ValidationError

from leitai.access import Place, allows, require, require_role_for, scope_of
from leitai.application import execute, on_behalf
from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.contracts.registration import Contact
from leitai.domain import Decision, folding
from leitai.errors import Conflict, Forbidden, InvalidInput, NotFound
from leitai.eventstore import EventStore
from leitai.handlers import EventHandlers
from leitai.messages import N_
from leitai.privacy import CONTACT_FIELDS, OFFICE, PersonalData, contact_of, contestant, judge, without_contact
from leitai.roles import JUDGE, ORGANISER, has_role
from services.registration.contest import SESSION_ID_TAKEN, Contest
from services.registration.regions import Region, parse_csv, validate_tree


class RegionTree:
    """The region tree aggregate: the latest imported snapshot."""

    def __init__(self) -> None:
        self.version = 0
        self.regions: list[dict] = []

    def apply(self, event) -> None:
        self.regions = event.payload["regions"]
        self.version = event.stream_version


def contest_stream(contest_id: str) -> str:
    return f"contest-{contest_id}"


def tree_stream(tree_id: str) -> str:
    return f"regions-{tree_id}"


def new_seed() -> str:
    """A draw's seed when the organiser gives none: recorded with the draw, so the lot can be
    drawn again by anyone (leitai/lots.py)."""
    return secrets.token_hex(16)


class Grants(Protocol):
    """Where minted grants are kept (services/registration/grants.py, GrantStore)."""

    def mint(self, grant: dict[str, Any], *, label: str, by: str, days: int) -> Any: ...

    def list(self, contest: str | None = None, office: str | None = None) -> list[dict[str, Any]]: ...

    def revoke(self, grant_id: str, by: str, reason: str) -> tuple[dict[str, Any], bool]: ...


REISSUED = "issued again"  # why a judge's earlier grant stopped working


Contacts = dict[str, dict[str, str]]  # person (leitai/privacy.py) -> their contact, as a command gave it
CONTACT_INVALID = N_("contact data not valid: {problems}")


def _contacts(records: list[dict], person: Callable[[dict], str]) -> Contacts:
    """The contact of each record (``person`` names whose it is), checked: InvalidInput by the
    record's field, so that nothing is registered with an address that cannot be used."""
    found: Contacts = {}
    for record in records:
        given = contact_of(record)
        if not given:  # nothing to keep: the vault holds no record of them
            continue
        try:
            found[person(record)] = Contact().load(given)
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in sorted(exc.messages_dict.items()))
            raise InvalidInput(CONTACT_INVALID, exc.messages_dict, problems=problems) from None
    return found


def _person(decision: Decision) -> str | None:
    """Whose contact a registration event stands for, or None."""
    p = decision.payload
    return {
        "ContestCreated": lambda: OFFICE if p.get("organiser") else None,
        "JudgeRegistered": lambda: judge(p["judge_id"]),
        "EntrySubmitted": lambda: contestant(p["contestant_id"]),
    }.get(decision.type, lambda: None)()


class Registration:
    def __init__(self, store: EventStore, new_seed: Callable[[], str], grants: Grants, personal: PersonalData) -> None:
        """``new_seed``: a fresh seed for a lot the organiser did not seed; ``grants``: where the
        judges' and screens' sign-in grants are kept; ``personal``: the vault people's contact
        data is kept in, never in an event (leitai/privacy.py)."""
        self._store = store
        self._new_seed = new_seed
        self._grants = grants
        self._personal = personal

    # -- region trees --------------------------------------------------------------
    def import_regions(
        self, actor: dict, tree_id: str, regions: list[dict] | None = None, csv_text: str | None = None
    ) -> dict:
        require(actor, "import_regions", None)
        rows = parse_csv(csv_text) if csv_text is not None else regions or []
        validate_tree(rows)

        def imported(tree: RegionTree):
            # a tree may hold several counties' contests: replacing one is the operator's
            if tree.regions and actor.get("deployment") is not True:
                raise Forbidden(
                    "region tree {tree_id} exists already: only a deployment-wide grant replaces it",
                    {"tree_id": [tree_id]},
                    tree_id=tree_id,
                )
            return {"tree_id": tree_id, "regions": len(rows)}, [
                Decision("RegionsImported", {"tree_id": tree_id, "regions": rows})
            ]

        return execute(self._store, tree_stream(tree_id), folding(RegionTree), imported, **on_behalf(actor))

    def regions(self, tree_id: str) -> dict:
        return {"tree_id": tree_id, "regions": [r.__dict__ for r in self._tree(tree_id).values()]}

    # -- contests ------------------------------------------------------------------
    def create_contest(self, actor: dict, contest: dict) -> dict:
        # the office it will belong to: before the tree is looked up. A grant for one contest
        # vouches for no office: it would place its contest in any county
        require(actor, "create_contest", Place(contest["contest_id"], contest["county_code"]))
        if actor.get("contest") is not None:
            raise Forbidden(
                "{scope}: a contest is created with a grant of its office (its county) or the deployment's",
                scope=scope_of(actor),
            )
        tree = self._tree(contest["tree_id"])
        office = contest.get("organiser")
        return self._command(
            actor,
            "create_contest",
            contest["contest_id"],
            lambda c: c.create(
                contest["name"],
                contest["tree_id"],
                contest["county_code"],
                contest["format"],
                contest.get("description", ""),
                tree,
                None if office is None else without_contact(office),
            ),
            contacts=_contacts([office] if office else [], lambda _: OFFICE),
        )

    def define_stage(self, actor: dict, contest_id: str, stage: dict) -> dict:
        return self._command(
            actor, "define_stage", contest_id, lambda c: c.define_stage(stage, self._contest_tree(c), self._new_seed())
        )

    def register_judge(self, actor: dict, contest_id: str, judge: dict) -> dict:
        return self._command(
            actor,
            "register_judge",
            contest_id,
            lambda c: c.register_judge(without_contact(judge), self._contest_tree(c)),
            contacts=_judge_contacts([judge]),
        )

    def submit_entries(self, actor: dict, contest_id: str, entries: list[dict]) -> list[dict]:
        return self._command(
            actor,
            "submit_entries",
            contest_id,
            lambda c: c.submit_entries([without_contact(e) for e in entries], self._contest_tree(c)),
            many=True,
            contacts=_entry_contacts(entries),
        )

    def register_roster(self, actor: dict, contest_id: str, judges: list[dict], entries: list[dict]) -> list[dict]:
        """Judges and entries from one sheet: all registered, or none (each row's problems listed)."""
        return self._command(
            actor,
            "register_roster",
            contest_id,
            lambda c: c.register_roster(
                [without_contact(j) for j in judges], [without_contact(e) for e in entries], self._contest_tree(c)
            ),
            many=True,
            contacts={**_judge_contacts(judges), **_entry_contacts(entries)},
        )

    def roster_basis(self, actor: dict, contest_id: str) -> dict:
        """What a roster sheet is read against: the contest as its organisers see it (its judges
        and entries so far) and its region tree."""
        contest = self._contest_for(actor, "register_roster", contest_id)
        return {
            "contest": self._with_contacts(contest.view("contacts")),
            "regions": self.regions(contest.require_info()["tree_id"])["regions"],
        }

    def withdraw_entry(self, actor: dict, contest_id: str, entry_id: str, reason: str = "") -> dict:
        return self._command(actor, "withdraw_entry", contest_id, lambda c: c.withdraw(entry_id, reason))

    def schedule_session(self, actor: dict, contest_id: str, session: dict) -> dict:
        taken = Conflict(SESSION_ID_TAKEN, {"session_id": [session["session_id"]]}, session_id=session["session_id"])
        return self._command(actor, "schedule_session", contest_id, lambda c: c.schedule(session), reused=taken)

    def seat_panel(self, actor: dict, contest_id: str, session_id: str, seats: list[dict]) -> dict:
        return self._command(actor, "seat_panel", contest_id, lambda c: c.seat(session_id, seats))

    def draw_order(self, actor: dict, contest_id: str, session_id: str, seed: str | None = None) -> dict:
        return self._command(actor, "draw_order", contest_id, lambda c: c.draw(session_id, seed, self._new_seed()))

    def open_session(self, actor: dict, contest_id: str, session_id: str) -> dict:
        return self._command(actor, "open_session", contest_id, lambda c: c.open(session_id))

    def create_series(self, actor: dict, contest_id: str, series: dict) -> dict:
        return self._command(actor, "create_series", contest_id, lambda c: c.create_series(series))

    def schedule_meeting(self, actor: dict, contest_id: str, meeting: dict) -> dict:
        return self._command(actor, "schedule_meeting", contest_id, lambda c: c.schedule_meeting(meeting))

    def record_meeting(self, actor: dict, contest_id: str, record: dict) -> dict:
        return self._command(
            actor, "record_meeting", contest_id, lambda c: c.hold_meeting(record, self._contest_tree(c))
        )

    def contest_place(self, contest_id: str) -> dict | None:
        """The contest and the office that owns it (the gateway's check of a grant by office),
        or None if there is no such contest."""
        contest = folding(lambda: Contest(contest_id))(self._store.read_stream(contest_stream(contest_id)))
        return None if contest.info is None else asdict(place_of(contest))

    def participation(self, contest_id: str) -> list[dict]:
        """Each presenter's record over the contest's forum meetings."""
        return self._contest(contest_id).participation()

    def decide_advancement(self, actor: dict, contest_id: str, change_id: str, decision: dict) -> dict:
        """An organiser's decision on an advancement change referred to them; the same decision
        again answers with the record."""
        require_role_for(actor, "decide_advancement")

        def decided(contest: Contest):
            require(actor, "decide_advancement", place_of(contest))
            decisions = contest.decide_change(change_id, decision["action"], decision["reason"], actor["id"])
            return (decisions[0].payload if decisions else contest.decided(change_id)), decisions

        return execute(
            self._store, contest_stream(contest_id), folding(lambda: Contest(contest_id)), decided, **on_behalf(actor)
        )

    def contest_view(self, actor: dict, contest_id: str) -> dict:
        contest = self._contest(contest_id)
        setup = allows(actor, "see_contest_setup", place_of(contest))  # only where the grant reaches
        if setup and has_role(actor, ORGANISER):
            return self._with_contacts(contest.view("contacts"))
        return contest.view("setup" if setup else "public")

    def _with_contacts(self, view: dict) -> dict:
        """The contest as its organisers see it, with each person's contact from the vault
        (blank once erased)."""
        kept = {r["person"]: r for r in self._personal.people(view["contest_id"])}

        def contact(person: str) -> dict[str, str]:
            return {k: kept.get(person, {}).get(k, "") for k in CONTACT_FIELDS}

        return {
            **view,
            **({"organiser": dict(view["organiser"], **contact(OFFICE))} if view.get("organiser") else {}),
            "judges": [dict(j, **contact(judge(j["judge_id"]))) for j in view["judges"]],
            "entries": [dict(e, **contact(contestant(e["contestant_id"]))) for e in view["entries"]],
        }

    # -- invitations: a judge's or a hall screen's grant, issued from the console --------
    def invite(self, actor: dict, contest_id: str, invitation: dict) -> dict:
        """A grant for the contest and its token, shown this once: for a judge registered in it
        (``id`` its judge id; what was issued to them before stops working, so that a lost or
        leaked link is replaced by issuing again) or a hall's screen (``id`` the hall's name)."""
        contest = self._contest_for(actor, "invite", contest_id)
        role, holder_id = invitation["role"], invitation["id"]
        if role == JUDGE:
            judge = contest.judges.get(holder_id)
            if judge is None:
                raise NotFound(
                    "judge {holder_id} is not registered in contest {contest_id}",
                    {"id": [holder_id]},
                    holder_id=holder_id,
                    contest_id=contest_id,
                )
            label = judge["name"]
        else:
            label = invitation.get("label") or holder_id
        grants = self._grants
        earlier = [
            g["grant_id"]
            for g in grants.list(contest=contest_id)
            if (g["role"], g["id"], g["status"]) == (role, holder_id, "active") and role == JUDGE
        ]
        # minted first: a grant refused leaves what the judge holds as it is
        minted = grants.mint(
            {"role": role, "id": holder_id, "contest": contest_id},
            label=" ".join(label.split()),  # a name's tabs or line breaks are no part of a label
            by=actor["id"],
            days=invitation.get("days", 30),
        )
        for grant_id in earlier:
            grants.revoke(grant_id, actor["id"], REISSUED)
        return {
            "grant_id": minted.grant_id,
            "token": minted.token,
            "role": role,
            "id": holder_id,
            "contest_id": contest_id,
            "label": minted.label,
            "expires_at": minted.expires_at,
            "replaces": earlier,
        }

    def invitations(self, actor: dict, contest_id: str) -> list[dict]:
        """The contest's grants, newest last, with their status; never a token or a digest."""
        self._contest_for(actor, "invite", contest_id)
        return self._grants.list(contest=contest_id)

    def revoke_invitation(self, actor: dict, contest_id: str, grant_id: str, reason: str) -> dict:
        """End one of the contest's grants: its link lets no one in from now on (revoking it
        again answers with the grant as it was revoked)."""
        self._contest_for(actor, "invite", contest_id)
        grants = self._grants
        if grant_id not in {g["grant_id"] for g in grants.list(contest=contest_id)}:
            raise NotFound("no grant {grant_id} in contest {contest_id}", grant_id=grant_id, contest_id=contest_id)
        revoked, _ = grants.revoke(grant_id, actor["id"], reason)
        return revoked

    def _contest_for(self, actor: dict, action: str, contest_id: str) -> Contest:
        require_role_for(actor, action)
        contest = self._contest(contest_id)
        require(actor, action, place_of(contest))
        return contest

    # -- facts from ranking -----------------------------------------------------------
    def contestant_advanced(self, event: Event) -> None:
        """Ranking published the entry as advanced: it moves on (once, however often told)."""
        p = event.payload
        execute(
            self._store,
            contest_stream(p["contest_id"]),
            folding(lambda: Contest(p["contest_id"])),
            lambda c: (None, c.advance(p["entry_id"], p["stage_id"], p["next_stage_id"])),
            actor="ranking",
            correlation_id=event.correlation_id,
        )

    def results_published(self, event: Event) -> None:
        """Ranking published a stage's result (again, after a correction): recorded in the
        contest's stream, and for a republication entries follow a change of who advances, or
        it is referred to an organiser; once per publication."""
        record_publication(self._store, event)

    # -- plumbing ------------------------------------------------------------------
    def _tree(self, tree_id: str) -> dict[str, Region]:
        state = folding(RegionTree)(self._store.read_stream(tree_stream(tree_id)))
        if not state.regions:
            raise NotFound("region tree {tree_id} does not exist", tree_id=tree_id)
        return validate_tree(state.regions)

    def _contest(self, contest_id: str) -> Contest:
        contest = folding(lambda: Contest(contest_id))(self._store.read_stream(contest_stream(contest_id)))
        contest.require_info()
        return contest

    def _contest_tree(self, contest: Contest) -> dict[str, Region]:
        return self._tree(contest.require_info()["tree_id"])

    def _keep_contacts(self, contest: Contest, decisions: list[Decision], contacts: Contacts) -> None:
        for decision in decisions:
            person = _person(decision)
            if person is None or not contacts.get(person):
                continue
            p = decision.payload
            office = p["county_code"] if decision.type == "ContestCreated" else contest.require_info()["county_code"]
            name = p["organiser"]["name"] if person == OFFICE else p["name"]
            self._personal.keep(contest.contest_id, office, person, name, contacts[person])

    def _command(
        self,
        actor: dict,
        action: str,
        contest_id: str,
        decide: Callable[[Contest], list[Decision]],
        many: bool = False,
        reused: Conflict | None = None,
        contacts: Contacts | None = None,
    ):
        """``action``: what the command is, in leitai/access.py's table (who may do it);
        ``reused``: the refusal when an event id it chose is another record's (execute);
        ``contacts``: the people's contacts it came with, kept in the vault."""
        require_role_for(actor, action)

        def decided(contest: Contest):
            if contest.info is not None:  # a new contest's place was checked by create_contest
                require(actor, action, place_of(contest))
            decisions = decide(contest)
            # kept once the domain has accepted the command and before its events are stored,
            # so that notify, told of the events, finds the contacts; a retry keeps them again
            self._keep_contacts(contest, decisions, contacts or {})
            payloads = [d.payload for d in decisions]
            return (payloads if many else payloads[0]), decisions

        return execute(
            self._store,
            contest_stream(contest_id),
            folding(lambda: Contest(contest_id)),
            decided,
            reused=reused,
            **on_behalf(actor),
        )


def _judge_contacts(judges: list[dict]) -> Contacts:
    return _contacts(judges, lambda j: judge(j["judge_id"]))


def _entry_contacts(entries: list[dict]) -> Contacts:
    return _contacts(entries, lambda e: contestant(e["contestant_id"]))


def record_publication(store: EventStore, event: Event) -> None:
    """``event`` (StageResultsPublished or Republished) recorded in its contest's stream, once;
    also what `leitai audit note-publications` runs over publications made before it was."""
    p = event.to_wire(REGISTRY)["payload"]

    def decide(contest: Contest):
        followed = contest.follow_republication(p) if event.type == "StageResultsRepublished" else []
        return None, contest.record_result(str(event.event_id), p) + followed

    execute(
        store,
        contest_stream(p["contest_id"]),
        folding(lambda: Contest(p["contest_id"])),
        decide,
        actor="ranking",
        correlation_id=event.correlation_id,
    )


def place_of(contest: Contest) -> Place:
    """The contest a grant must reach, and the office (county) that owns it."""
    return Place(contest.contest_id, contest.require_info()["county_code"])


EVENT_HANDLERS: EventHandlers[Registration] = EventHandlers(
    "registration",
    {
        "ContestantAdvanced": Registration.contestant_advanced,
        "StageResultsPublished": Registration.results_published,
        "StageResultsRepublished": Registration.results_published,
    },
)

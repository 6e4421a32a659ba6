"""The registration service: region trees, contests, stages, judges, entries, sessions."""
from __future__ import annotations

from typing import Callable

from nameko.rpc import rpc

from leitai.application import Decision, execute, folding
from leitai.contracts import Event
from leitai.contracts.product import REGISTRY
from leitai.dependencies import EventStoreProvider, StoreHealth
from leitai.errors import Forbidden, NotFound
from leitai.messaging.consumer import reliable_handler
from services.registration.contest import Contest
from services.registration.regions import Region, parse_csv, validate_tree


class _Tree:
    """The region tree aggregate: the latest imported snapshot."""

    def __init__(self) -> None:
        self.version = 0
        self.regions: list[dict] = []

    def apply(self, event) -> None:
        self.regions = event.payload["regions"]
        self.version = event.stream_version


def _organiser(actor: dict) -> None:
    if actor.get("role") != "organiser":
        raise Forbidden("only an organiser may do this")


class RegistrationService(StoreHealth):
    name = "registration"
    store = EventStoreProvider(REGISTRY)

    # -- region trees --------------------------------------------------------------
    @rpc
    def import_regions(self, actor: dict, tree_id: str, regions: list[dict] | None = None,
                       csv_text: str | None = None) -> dict:
        _organiser(actor)
        rows = parse_csv(csv_text) if csv_text is not None else regions or []
        validate_tree(rows)
        return execute(self.store, f"regions-{tree_id}", folding(_Tree),
                       lambda tree: ({"tree_id": tree_id, "regions": len(rows)},
                                     [Decision("RegionsImported", {"tree_id": tree_id, "regions": rows})]),
                       actor=actor["id"], correlation_id=actor.get("request_id"))

    @rpc
    def get_regions(self, tree_id: str) -> dict:
        tree = self._tree(tree_id)
        return {"tree_id": tree_id, "regions": [r.__dict__ for r in tree.values()]}

    def _tree(self, tree_id: str) -> dict[str, Region]:
        state = folding(_Tree)(self.store.read_stream(f"regions-{tree_id}"))
        if not state.regions:
            raise NotFound(f"region tree {tree_id} does not exist")
        return validate_tree(state.regions)

    # -- contests ------------------------------------------------------------------
    @rpc
    def create_contest(self, actor: dict, contest: dict) -> dict:
        tree = self._tree(contest["tree_id"])
        return self._command(actor, contest["contest_id"], lambda c: c.create(
            contest["name"], contest["tree_id"], contest["county_code"], contest["format"],
            contest.get("description", ""), tree))

    @rpc
    def define_stage(self, actor: dict, contest_id: str, stage: dict) -> dict:
        return self._command(actor, contest_id, lambda c: c.define_stage(stage, self._contest_tree(c)))

    @rpc
    def register_judge(self, actor: dict, contest_id: str, judge: dict) -> dict:
        return self._command(actor, contest_id, lambda c: c.register_judge(judge, self._contest_tree(c)))

    @rpc
    def submit_entries(self, actor: dict, contest_id: str, entries: list[dict]) -> list[dict]:
        return self._command(actor, contest_id, lambda c: c.submit_entries(entries, self._contest_tree(c)), many=True)

    @rpc
    def withdraw_entry(self, actor: dict, contest_id: str, entry_id: str, reason: str = "") -> dict:
        return self._command(actor, contest_id, lambda c: c.withdraw(entry_id, reason))

    @rpc
    def schedule_session(self, actor: dict, contest_id: str, session: dict) -> dict:
        return self._command(actor, contest_id, lambda c: c.schedule(session))

    @rpc
    def seat_panel(self, actor: dict, contest_id: str, session_id: str, seats: list[dict]) -> dict:
        return self._command(actor, contest_id, lambda c: c.seat(session_id, seats))

    @rpc
    def draw_order(self, actor: dict, contest_id: str, session_id: str, seed: str | None = None) -> dict:
        return self._command(actor, contest_id, lambda c: c.draw(session_id, seed))

    @rpc
    def open_session(self, actor: dict, contest_id: str, session_id: str) -> dict:
        return self._command(actor, contest_id, lambda c: c.open(session_id))

    @rpc
    def create_series(self, actor: dict, contest_id: str, series: dict) -> dict:
        return self._command(actor, contest_id, lambda c: c.create_series(series))

    @rpc
    def schedule_meeting(self, actor: dict, contest_id: str, meeting: dict) -> dict:
        return self._command(actor, contest_id, lambda c: c.schedule_meeting(meeting))

    @rpc
    def record_meeting(self, actor: dict, contest_id: str, record: dict) -> dict:
        return self._command(actor, contest_id, lambda c: c.hold_meeting(record, self._contest_tree(c)))

    @rpc
    def participation(self, contest_id: str) -> list[dict]:
        """Each presenter's record over the contest's forum meetings."""
        return self._contest(contest_id).participation()

    @rpc
    def get_contest(self, actor: dict, contest_id: str) -> dict:
        return self._contest(contest_id).view(with_contacts=actor.get("role") == "organiser")

    # -- events from ranking ----------------------------------------------------------
    @reliable_handler("ranking", "ContestantAdvanced", registry=REGISTRY)
    def on_contestant_advanced(self, event: Event) -> None:
        p = event.payload
        execute(self.store, f"contest-{p['contest_id']}", folding(lambda: Contest(p["contest_id"])),
                lambda c: (None, c.advance(p["entry_id"], p["stage_id"], p["next_stage_id"])),
                actor="ranking", correlation_id=event.correlation_id)

    # -- plumbing ------------------------------------------------------------------
    def _contest(self, contest_id: str) -> Contest:
        contest = folding(lambda: Contest(contest_id))(self.store.read_stream(f"contest-{contest_id}"))
        contest.require_info()
        return contest

    def _contest_tree(self, contest: Contest) -> dict[str, Region]:
        return self._tree(contest.require_info()["tree_id"])

    def _command(self, actor: dict, contest_id: str, decide: Callable[[Contest], list[Decision]], many=False):
        _organiser(actor)

        def decided(contest: Contest):
            decisions = decide(contest)
            payloads = [d.payload for d in decisions]
            return (payloads if many else payloads[0]), decisions

        return execute(self.store, f"contest-{contest_id}", folding(lambda: Contest(contest_id)), decided,
                       actor=actor["id"], correlation_id=actor.get("request_id"))

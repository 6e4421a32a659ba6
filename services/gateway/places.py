"""Where a request acts, for the gateway's own check of a grant's scope (the services check it
again): the contest a route names, and the office that owns it, or a session's contest.

A contest's office and a session's contest never change once they exist, so what a service
answered is kept (bounded); what does not exist yet is asked again next time."""

from __future__ import annotations

from collections.abc import Callable

from nameko.extensions import DependencyProvider

from leitai.access import Place, require_reach

LIMIT = 50_000  # places kept; past it, the cache starts again (each is asked once more)


class Places:
    def __init__(self, limit: int = LIMIT) -> None:
        self._known: dict[tuple[str, str], Place] = {}
        self._limit = limit

    def reach(
        self,
        actor: dict,
        params: dict,
        contest_place: Callable[[str], dict | None],
        session_place: Callable[[str], dict | None],
    ) -> None:
        """Forbidden unless ``actor``'s grant reaches what ``params`` name (a contest, else a
        session); a place that does not exist is left to the service, which answers 404."""
        place = self._place(actor, params, contest_place, session_place)
        if place is not None:
            require_reach(actor, place)

    def _place(self, actor: dict, params: dict, contest_place, session_place) -> Place | None:
        if actor.get("deployment") is True:
            return None  # it reaches everywhere: nothing to look up
        if "contest_id" in params:
            if "contest" in actor:  # a grant for one contest: the name alone decides
                return Place(params["contest_id"], None)
            return self._known_or(("contest", params["contest_id"]), contest_place)
        if "session_id" in params:
            return self._known_or(("session", params["session_id"]), session_place)
        return None

    def _known_or(self, key: tuple[str, str], ask: Callable[[str], dict | None]) -> Place | None:
        if key not in self._known:
            answer = ask(key[1])
            if answer is None:
                return None
            if len(self._known) >= self._limit:
                self._known.clear()
            self._known[key] = Place(answer["contest_id"], answer["office"])
        return self._known[key]


class KnownPlaces(DependencyProvider):
    """One ``Places`` per gateway process, shared by its workers."""

    def setup(self) -> None:
        self.places = Places()

    def get_dependency(self, worker_ctx) -> Places:
        return self.places

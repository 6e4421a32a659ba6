"""Running a command against one event stream, with optimistic concurrency.

Load the stream, fold it into state, let the domain decide, append after the version the
decision was based on. If another command got there first, the whole cycle runs again on
fresh state: the domain never decides on stale state, and nothing is written twice.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence, TypeVar

from leitai.contracts import Event, NewEvent
from leitai.eventstore import ConcurrencyConflict, EventStore
from leitai.errors import Conflict


@dataclass(frozen=True)
class Decision:
    """An event a domain decided on; the store gives it versions and a position."""

    type: str
    payload: dict
    event_id: str | None = None  # set when the client chose it (an idempotent resubmission)


class Folded(Protocol):
    version: int

    def apply(self, event: Event) -> None: ...


S = TypeVar("S", bound=Folded)
R = TypeVar("R")


def folding(factory: Callable[[], S]) -> Callable[[Sequence[Event]], S]:
    """fold(events): a fresh state with every event applied, in stream order."""
    def fold(events: Sequence[Event]) -> S:
        state = factory()
        for event in events:
            state.apply(event)
        return state
    return fold


def execute(store: EventStore, stream_id: str, fold: Callable[[Sequence[Event]], S],
            decide: Callable[[S], tuple[R, Sequence[Decision]]], actor: str,
            correlation_id: str | None = None, attempts: int = 20) -> R:
    for _ in range(attempts):
        state = fold(store.read_stream(stream_id))
        result, decisions = decide(state)
        if not decisions:
            return result
        events = [NewEvent(d.type, d.payload, actor=actor, correlation_id=correlation_id,
                           event_id=uuid.UUID(d.event_id) if d.event_id else uuid.uuid4())
                  for d in decisions]
        try:
            store.append(stream_id, state.version, events)
            return result
        except ConcurrencyConflict:
            continue
    raise Conflict(f"stream {stream_id} is too busy; try again")

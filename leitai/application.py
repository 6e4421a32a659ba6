"""Running a command against one event stream, with optimistic concurrency.

Load the stream, fold it into state, let the domain decide, append after the version the
decision was based on. If another command got there first, the whole cycle runs again on
fresh state: the domain never decides on stale state, and nothing is written twice.
"""
from __future__ import annotations

import uuid
from typing import Callable, Sequence, TypeVar

from leitai.contracts import Event, NewEvent
from leitai.domain import Decision, Folded
from leitai.errors import Conflict
from leitai.eventstore import ConcurrencyConflict, EventStore

S = TypeVar("S", bound=Folded)
R = TypeVar("R")


def new_events(decisions: Sequence[Decision], actor: str, correlation_id: str | None) -> list[NewEvent]:
    return [NewEvent(d.type, d.payload, actor=actor, correlation_id=correlation_id,
                     event_id=uuid.UUID(d.event_id) if d.event_id else uuid.uuid4())
            for d in decisions]


def execute(store: EventStore, stream_id: str, fold: Callable[[Sequence[Event]], S],
            decide: Callable[[S], tuple[R, Sequence[Decision]]], actor: str,
            correlation_id: str | None = None, attempts: int = 20) -> R:
    for _ in range(attempts):
        state = fold(store.read_stream(stream_id))
        result, decisions = decide(state)
        if not decisions:
            return result
        try:
            store.append(stream_id, state.version, new_events(decisions, actor, correlation_id))
            return result
        except ConcurrencyConflict:
            continue
    raise Conflict(f"stream {stream_id} is too busy; try again")

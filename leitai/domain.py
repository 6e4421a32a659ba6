"""What every domain model shares: the decisions a command produces, and folding a stream
into state. Pure: the standard library only."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar


@dataclass(frozen=True)
class Decision:
    """An event a domain decided on; the store gives it versions and a position."""

    type: str
    payload: dict[str, Any]
    event_id: str | None = None  # set when the client chose it (an idempotent resubmission)


class DomainEvent(Protocol):
    """What folding reads of a stored event (leitai.contracts.Event has it all)."""

    @property
    def event_id(self) -> uuid.UUID: ...
    @property
    def type(self) -> str: ...
    @property
    def stream_version(self) -> int: ...
    @property
    def payload(self) -> dict[str, Any]: ...


class Folded(Protocol):
    version: int

    def apply(self, event: DomainEvent) -> None: ...


S = TypeVar("S", bound=Folded)


def folding(factory: Callable[[], S]) -> Callable[[Sequence[DomainEvent]], S]:
    """fold(events): a fresh state with every event applied, in stream order."""

    def fold(events: Sequence[DomainEvent]) -> S:
        state = factory()
        for event in events:
            state.apply(event)
        return state

    return fold

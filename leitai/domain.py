"""What every domain model shares: the decisions a command produces, and folding a stream
into state. Pure: the standard library only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar


@dataclass(frozen=True)
class Decision:
    """An event a domain decided on; the store gives it versions and a position."""

    type: str
    payload: dict
    event_id: str | None = None  # set when the client chose it (an idempotent resubmission)


class Folded(Protocol):
    version: int

    def apply(self, event) -> None: ...


S = TypeVar("S", bound=Folded)


def folding(factory: Callable[[], S]) -> Callable[[Sequence], S]:
    """fold(events): a fresh state with every event applied, in stream order."""

    def fold(events: Sequence) -> S:
        state = factory()
        for event in events:
            state.apply(event)
        return state

    return fold

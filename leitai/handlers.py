"""A service's handler table: the published events it consumes and the method of its service
layer that handles each (cosmicpython's ``EVENT_HANDLERS``).

The table is the one source of three things that must agree: the subscriptions the relays
declare queues for (``composition/product.py``), the service's nameko entrypoints
(``leitai.messaging.consumer.handling``) and the in-memory system's routing
(``tests/support/inmemory.py``). Adding a consumer of an event touches the table and the
handler, nothing else. Which service publishes an event type is its contract's business
(``Contract.source``), so the table names event types only.

Pure: the standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

A = TypeVar("A")


class _Contract(Protocol):
    @property
    def source(self) -> str: ...


class _Registry(Protocol):
    def get(self, event_type: str) -> _Contract: ...


class _Event(Protocol):
    @property
    def type(self) -> str: ...


def handler_name(event_type: str) -> str:
    """The consumer's method for an event type: EntryScored -> on_entry_scored."""
    return "on_" + "".join(f"_{c.lower()}" if c.isupper() else c for c in event_type).lstrip("_")


@dataclass(frozen=True)
class EventHandlers(Generic[A]):
    """``handlers`` maps an event type to a function of (service layer, event); with ``batch``,
    of (service layer, events of that type in log order), for a projection whose writes fold
    into one bulk write (leitai/writes.py)."""

    consumer: str  # the nameko service's name
    handlers: Mapping[str, Callable[[A, Any], None]]
    batch: bool = False

    def handle(self, application: A, events: Sequence[_Event]) -> None:
        """``events``, all of one type, to that type's handler: at once, or one by one."""
        if not events:
            return
        handler = self.handlers[events[0].type]
        if self.batch:
            handler(application, list(events))
        else:
            for event in events:
                handler(application, event)

    def consumes(self, registry: _Registry) -> dict[str, tuple[str, ...]]:
        """Source service -> the event types of it this service consumes."""
        sources: dict[str, tuple[str, ...]] = {}
        for event_type in self.handlers:
            source = registry.get(event_type).source
            sources[source] = (*sources.get(source, ()), event_type)
        return sources

    def rows(self, registry: _Registry) -> Iterator[tuple[str, str, str]]:
        """(source, event type, entrypoint method name) for each event handled."""
        for event_type in self.handlers:
            yield registry.get(event_type).source, event_type, handler_name(event_type)

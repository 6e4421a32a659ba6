"""The event store, written once over the CommitLog interface of its backends: MongoDB
(``leitai.eventstore.mongodb``) in every running service, memory (``leitai.eventstore.memory``)
in fast tests. ``verify`` (the function) is imported from ``leitai.eventstore.verify``: a
package attribute of that name would be shadowed by the submodule.

The names below load on first use, so that importing a pure part of the package
(``leitai.eventstore.merkle``, ``leitai.eventstore.hashchain``), as the standalone verifier's
tests and the audit tools do, does not load the store and its dependencies."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leitai.eventstore.errors import ConcurrencyConflict, CorruptRecord, EventIdReused, EventStoreError
    from leitai.eventstore.records import CommitLog, DuplicateCommit
    from leitai.eventstore.sequencer import LeaseLost, Sequencer
    from leitai.eventstore.store import AppendResult, EventStore, Stored
    from leitai.eventstore.verify import BadRecord, VerifyReport

_WHERE = {
    "ConcurrencyConflict": "errors",
    "CorruptRecord": "errors",
    "EventIdReused": "errors",
    "EventStoreError": "errors",
    "CommitLog": "records",
    "DuplicateCommit": "records",
    "LeaseLost": "sequencer",
    "Sequencer": "sequencer",
    "AppendResult": "store",
    "EventStore": "store",
    "Stored": "store",
    "BadRecord": "verify",
    "VerifyReport": "verify",
}
__all__ = [
    "AppendResult",
    "BadRecord",
    "CommitLog",
    "ConcurrencyConflict",
    "CorruptRecord",
    "DuplicateCommit",
    "EventIdReused",
    "EventStore",
    "EventStoreError",
    "LeaseLost",
    "Sequencer",
    "Stored",
    "VerifyReport",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)

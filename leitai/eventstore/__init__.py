"""The event store, written once over the CommitLog interface of its backends: MongoDB
(``leitai.eventstore.mongodb``) in every running service, memory (``leitai.eventstore.memory``)
in fast tests."""

from leitai.eventstore.errors import ConcurrencyConflict, CorruptRecord, EventIdReused, EventStoreError
from leitai.eventstore.records import CommitLog, DuplicateCommit
from leitai.eventstore.sequencer import LeaseLost, Sequencer
from leitai.eventstore.store import AppendResult, EventStore, Stored
from leitai.eventstore.verify import BadRecord, VerifyReport, verify

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
    "verify",
]

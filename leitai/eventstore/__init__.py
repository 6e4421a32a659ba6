from leitai.eventstore.errors import ConcurrencyConflict, CorruptRecord, EventIdReused, EventStoreError
from leitai.eventstore.sequencer import LeaseLost, Sequencer
from leitai.eventstore.store import AppendResult, EventStore, ensure_indexes
from leitai.eventstore.verify import BadRecord, VerifyReport, verify

__all__ = [
    "AppendResult", "BadRecord", "ConcurrencyConflict", "CorruptRecord", "EventIdReused", "EventStore",
    "EventStoreError", "LeaseLost", "Sequencer", "VerifyReport", "ensure_indexes", "verify",
]

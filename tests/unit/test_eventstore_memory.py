"""The in-memory event store passes the same conformance suite as the MongoDB one."""

import pytest

from leitai.eventstore.memory import MemoryCommitLog
from tests.integration.eventstore_conformance import EventStoreConformance
from tests.support.tamper import MemoryTamper


class TestEventStoreInMemory(EventStoreConformance):
    @pytest.fixture
    def records(self):
        return MemoryCommitLog()

    @pytest.fixture
    def tamper(self, records):
        return MemoryTamper(records)

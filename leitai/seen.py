"""What a service has consumed, so that a request can wait for a write it depends on.

Every event a reliable handler applied is recorded here (after the handler succeeded, before
the ack); an RPC request sent with ``Leitai-After`` tokens (leitai/consistency.py) waits
until every event of those commits that this service consumes is recorded. One shared
extension per container, in the service's own database (collection ``seen_events``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from nameko.extensions import SharedExtension
from pymongo.errors import BulkWriteError

from leitai.config import load_settings
from leitai.consistency import Written
from leitai.contracts import Event
from leitai.mongo import connect, taken_keys

COLLECTION = "seen_events"
FIRST_WAIT_S = 0.01
LONGEST_WAIT_S = 0.2


class SeenEvents(SharedExtension):
    def setup(self) -> None:
        settings = load_settings(self.container.config, only=("MONGO_URL", "MONGO_DATABASE"))
        self.client = connect(settings.MONGO_URL, settings.LEITAI_DURABILITY)
        self.collection = self.client[settings.MONGO_DATABASE][COLLECTION]

    def start(self) -> None:
        # every entrypoint is set up by now: what this service consumes is known once
        self.consumed = frozenset(e.event_type for e in self.container.entrypoints if isinstance(e, Consuming))
        self.collection.create_index([("stream_id", 1), ("stream_version", 1)])

    def stop(self) -> None:
        self.client.close()

    def kill(self) -> None:
        self.client.close()

    def record(self, events: Sequence[Event]) -> None:
        """``events`` applied: one write, whichever of them were recorded before."""
        at = datetime.now(UTC)
        try:
            self.collection.insert_many(
                [
                    {
                        "_id": str(e.event_id),
                        "stream_id": e.stream_id,
                        "stream_version": e.stream_version,
                        "type": e.type,
                        "at": at,
                    }
                    for e in events
                ],
                ordered=False,
            )
        except BulkWriteError as exc:  # redeliveries of events applied before are the only errors to pass
            taken_keys(exc)

    def caught_up(self, writes: Sequence[Written]) -> bool:
        """Whether every event of ``writes`` of a type this service consumes (``consumed``: its
        reliable handlers' types, known from ``start``) is recorded."""
        for write in writes:
            needed = write.count_of(self.consumed)
            if (
                needed
                and self.collection.count_documents(
                    {
                        "stream_id": write.stream_id,
                        "type": {"$in": sorted(self.consumed)},
                        "stream_version": {"$gte": write.first_version, "$lte": write.last_version},
                    }
                )
                < needed
            ):
                return False
        return True

    def wait(self, writes: Sequence[Written], seconds: float) -> bool:
        """Whether every consumed event of ``writes`` was recorded within ``seconds``."""
        until = time.monotonic() + seconds
        pause = FIRST_WAIT_S
        while not self.caught_up(writes):
            left = until - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(pause, left))  # eventlet's, in a service: other workers run meanwhile
            pause = min(pause * 2, LONGEST_WAIT_S)
        return True


class Consuming:
    """Marks the entrypoints whose events count as consumed (the reliable handler): each
    records what it applied."""

    event_type: str

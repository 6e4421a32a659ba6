"""The outbox relay: sequences stored events and publishes them to RabbitMQ.

Events are stored first; the relay publishes from the store with publisher confirms and
only then moves its checkpoint. A crash anywhere between store and confirm loses nothing:
a restarted relay publishes again from the checkpoint (consumers are idempotent). Confirms
are pipelined: a whole batch is published, then the relay waits for the broker's acks.
"""
from __future__ import annotations

import logging
import socket
import threading

from kombu import Connection, Producer
from pymongo.database import Database

from leitai.contracts import Event
from leitai.contracts.catalogue import Catalogue
from leitai.eventstore import EventStore, Sequencer
from leitai.eventstore.mongodb import MongoCommitLog
from leitai.messaging import topology

log = logging.getLogger(__name__)
CHECKPOINTS = "relay"
CHECKPOINT_ID = "published"


class PublishNacked(Exception):
    pass


class Relay:
    def __init__(self, db: Database, catalogue: Catalogue, amqp_uri: str, policy: topology.RetryPolicy,
                 owner: str | None = None, batch_size: int = 500, confirm_timeout: float = 30.0) -> None:
        self._db = db
        self._catalogue = catalogue
        self._registry = catalogue.registry
        records = MongoCommitLog(db)
        self._store = EventStore(records, catalogue.registry)
        self._sequencer = Sequencer(records, owner or f"relay@{socket.gethostname()}")
        self._checkpoints = db[CHECKPOINTS]
        self._policy = policy
        self._batch_size = batch_size
        self._confirm_timeout = confirm_timeout
        self._connection = Connection(amqp_uri)
        self._channel = None
        self._producer: Producer | None = None
        self._checkpoint: int | None = None
        self._last_tag = 0  # delivery tags count up per channel, across batches
        self._unconfirmed: set[int] = set()
        self._nacked = 0
        self._confirms = True

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Connect and declare the whole topology before the first publish."""
        self._channel = self._connection.channel()
        topology.declare(self._channel, self._catalogue, self._policy)
        # kombu's in-memory transport (the demo without a broker) has a publish done on
        # return and no confirms to wait for
        self._confirms = self._connection.transport.driver_type != "memory"
        if self._confirms:
            self._channel.confirm_select()
            self._channel.events["basic_ack"].add(self._on_ack)
            self._channel.events["basic_nack"].add(self._on_nack)
        self._producer = Producer(self._channel)

    def close(self) -> None:
        self._sequencer.release()
        self._connection.release()

    def run(self, stop: threading.Event, idle_wait: float = 0.05, max_idle_wait: float = 0.1) -> None:
        """Loop until ``stop``: straight on after a full batch, else pause so that each round
        (a fixed handful of store queries) carries more events."""
        wait = idle_wait
        while not stop.is_set():
            moved = self.run_once()
            if moved >= self._batch_size:
                continue
            wait = idle_wait if moved else min(wait * 2, max_idle_wait)
            stop.wait(wait)

    # -- one round -----------------------------------------------------------------
    def run_once(self) -> int:
        """Sequence what is pending, publish what is not yet confirmed; returns events published."""
        if not self._sequencer.acquire():
            self._checkpoint = None
            return 0
        self._sequencer.sequence(self._batch_size)
        if self._checkpoint is None:  # read once per lease; only the lease holder writes it
            self._checkpoint = self.checkpoint()
        batch = next(self._store.read_all(self._checkpoint, self._batch_size), [])
        if batch:
            self._publish(batch)
            self._checkpoints.update_one({"_id": CHECKPOINT_ID}, {"$set": {"position": batch[-1].position}},
                                         upsert=True)
            log.debug("relayed", extra={"from": self._checkpoint + 1, "to": batch[-1].position})
            self._checkpoint = batch[-1].position
        return len(batch)

    def checkpoint(self) -> int:
        """The last position the broker confirmed, as stored."""
        doc = self._checkpoints.find_one({"_id": CHECKPOINT_ID})
        return doc["position"] if doc else 0

    def _publish(self, batch: list[Event]) -> None:
        self._nacked = 0
        for event in batch:
            self._producer.publish(
                event.to_wire(self._registry),
                exchange=topology.event_exchange(self._registry.get(event.type).source),
                routing_key=event.type,
                serializer="json",
                delivery_mode=topology.PERSISTENT,
                message_id=str(event.event_id),
                correlation_id=event.correlation_id,
                headers={"nameko.correlation_id": event.correlation_id, "leitai.position": event.position},
                retry=False,
            )
            if self._confirms:
                self._last_tag += 1
                self._unconfirmed.add(self._last_tag)
        while self._unconfirmed:
            self._connection.drain_events(timeout=self._confirm_timeout)
        if self._nacked:
            raise PublishNacked(f"broker refused {self._nacked} of {len(batch)} events")

    def _confirmed(self, delivery_tag: int, multiple: bool) -> int:
        done = {t for t in self._unconfirmed if t <= delivery_tag} if multiple else {delivery_tag}
        self._unconfirmed -= done
        return len(done)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._confirmed(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked += self._confirmed(delivery_tag, multiple)
